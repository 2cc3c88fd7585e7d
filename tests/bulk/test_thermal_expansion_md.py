"""NPT thermal expansion of bcc Li (Morse, 16 atoms): a(300 K) > a(30 K) > a(0 K)."""

from __future__ import annotations

import numpy as np

from li_campaign.bulk.finite_temperature import finite_temperature_properties
from li_campaign.schemas.spec import FiniteTemperatureSpec
from tests.bulk.test_finite_temperature import A0, morse

SPEC = FiniteTemperatureSpec(
    temperatures_K=[30.0, 300.0],
    supercell=2,
    strain_axes=1,
    npt_equilibration_steps=200,
    npt_production_steps=1000,
    nvt_equilibration_steps=0,
    nvt_production_steps=16,  # the NVT runs are not tested here
    n_blocks=8,
    thermostat_tau_fs=20.0,
    barostat_tau_fs=100.0,
)


def test_lattice_constant_increases_with_temperature(tmp_path):
    cold, hot = (finite_temperature_properties(morse(), A0, t, SPEC, tmp_path) for t in SPEC.temperatures_K)
    gap = hot["lattice_constant_A"] - cold["lattice_constant_A"]
    assert gap > 2 * np.hypot(hot["lattice_constant_err_A"], cold["lattice_constant_err_A"])
    assert cold["lattice_constant_A"] > A0 - 2 * cold["lattice_constant_err_A"]
    assert 0.001 < gap / A0 < 0.02  # linear expansion over 270 K, α ≈ 1e-5–7e-5 /K
    assert hot["volume_per_atom_A3"] > cold["volume_per_atom_A3"]
