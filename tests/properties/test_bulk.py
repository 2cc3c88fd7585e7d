"""Birch–Murnaghan fit of bcc Li with a Morse potential, against a direct lattice sum."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.morse import MorsePotential, fcut
from ase.units import GPa
from scipy.optimize import minimize_scalar

from li_campaign.core.errors import InputError
from li_campaign.properties.bulk import fit_bulk_eos
from li_campaign.schemas.spec import EosSpec

EPS, R0, RHO0, RC1, RC2 = 0.2, 3.0, 3.5, 1.6, 2.0


def morse() -> MorsePotential:
    return MorsePotential(epsilon=EPS, r0=R0, rho0=RHO0, rcut1=RC1, rcut2=RC2)


def lattice_sum(a: float) -> float:
    """Energy per atom of bcc with the smoothly cut Morse pair potential, summed directly."""
    n = np.arange(-4, 5)
    grid = np.array(np.meshgrid(n, n, n, indexing="ij")).reshape(3, -1).T
    points = np.vstack([grid, grid + 0.5]) * a
    r = np.linalg.norm(points, axis=1)
    r = r[(r > 1e-9) & (r < RC2 * R0)]
    expf = np.exp(RHO0 * (1.0 - r / R0))
    return 0.5 * float(np.sum(EPS * expf * (expf - 2.0) * fcut(r, RC1 * R0, RC2 * R0)))


@pytest.fixture(scope="module")
def reference():
    best = minimize_scalar(lattice_sum, bounds=(2.6, 3.4), method="bounded", options={"xatol": 1e-7})
    a0 = float(best.x)
    h = 1e-3
    volume = lambda a: a**3 / 2  # noqa: E731
    # B = V d²E/dV²; with V(a): d²E/dV² = E''(a) / V'(a)² at the minimum (E'(a) = 0)
    d2e_da2 = (lattice_sum(a0 + h) - 2 * lattice_sum(a0) + lattice_sum(a0 - h)) / h**2
    bulk_modulus = volume(a0) * d2e_da2 / (1.5 * a0**2) ** 2
    return a0, float(best.fun), bulk_modulus / GPa


def test_fit_matches_lattice_sum(reference):
    a0, e0, b0 = reference
    result = fit_bulk_eos(morse(), 2.95, EosSpec())
    assert result["lattice_constant_A"] == pytest.approx(a0, abs=2e-3)
    assert result["energy_per_atom_eV"] == pytest.approx(e0, abs=1e-5)
    assert result["energy_per_atom_eV"] == pytest.approx(lattice_sum(result["lattice_constant_A"]), abs=1e-9)
    assert result["bulk_modulus_GPa"] == pytest.approx(b0, rel=0.03)
    assert len(result["volumes_A3_atom"]) == len(result["energies_eV_atom"]) == EosSpec().n_points
    assert min(result["volumes_A3_atom"]) < a0**3 / 2 < max(result["volumes_A3_atom"])


def test_scan_is_recentred_when_the_minimum_is_outside(reference):
    a0, _, _ = reference
    eos = EosSpec(max_strain=0.02, n_points=7)
    result = fit_bulk_eos(morse(), a0 * 0.95, eos)  # minimum 5 % above the first scan's centre
    assert result["lattice_constant_A"] == pytest.approx(a0, abs=2e-3)
    volumes = result["volumes_A3_atom"]
    assert volumes[0] > (a0 * 0.95 * 1.02) ** 3 / 2  # the returned scan is the re-centred one


def test_no_minimum_raises(reference):
    with pytest.raises(ValueError, match="no energy minimum"):
        fit_bulk_eos(morse(), 3.44, EosSpec(max_strain=0.02))


def test_bad_guess():
    with pytest.raises(InputError):
        fit_bulk_eos(morse(), -1.0, EosSpec())
