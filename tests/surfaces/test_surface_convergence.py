"""γ converged in slab thickness and vacuum, with the Morse pair potential standing in for the model."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.morse import MorsePotential
from pymatgen.core import Structure

from li_campaign.bulk.eos import fit_bulk_eos
from li_campaign.core.errors import InputError
from li_campaign.geometry.facets import slab_with_layers
from li_campaign.schemas.spec import EosSpec, FacetEnumerationSpec, RelaxSpec
from li_campaign.surfaces.surface_convergence import converged_surface_energy, layer_schedule
from tests.morse_reference import EV_PER_A2_IN_J_PER_M2, Morse

RELAX = RelaxSpec(fmax_eV_A=0.01, max_steps=300, optimizer="LBFGS")


def morse() -> MorsePotential:
    """Interactions end at 6 Å: a vacuum of 6 Å or more decouples the two surfaces exactly."""
    return MorsePotential(epsilon=0.2, r0=3.0, rho0=3.5, rcut1=1.6, rcut2=2.0)


@pytest.fixture(scope="module")
def bulk():
    return fit_bulk_eos(morse(), 2.92, EosSpec())


def gamma_J_m2(energy_eV: float, structure: Structure, a: float) -> float:
    """(E − N ε_bulk) / 2A with ε_bulk from the independent bcc lattice sum."""
    m = structure.lattice.matrix
    area = float(np.linalg.norm(np.cross(m[0], m[1])))
    return (energy_eV - len(structure) * Morse().bcc_energy_per_atom(a)) / (2 * area) * EV_PER_A2_IN_J_PER_M2


def test_converges_in_thickness_and_vacuum(bulk):
    spec = FacetEnumerationSpec(
        start_thickness_A=4.0, thickness_step_A=2.0, max_thickness_A=14.0, vacuum_A=8.0, vacuum_step_A=2.0, max_vacuum_A=12.0
    )
    result = converged_surface_energy(morse(), bulk["lattice_constant_A"], (3, 2, 1), bulk["energy_per_atom_eV"], spec, RELAX)
    assert result["thickness_converged"] and result["vacuum_converged"] and result["converged"] and not result["notes"]
    series = result["thickness_series"]
    assert len(series) >= 2 and [p["n_layers"] for p in series] == layer_schedule(bulk["lattice_constant_A"], (3, 2, 1), spec)[: len(series)]
    assert abs(series[-1]["surface_energy_J_m2"] - series[-2]["surface_energy_J_m2"]) < spec.tolerance_J_m2
    assert all(abs(a["surface_energy_J_m2"] - b["surface_energy_J_m2"]) >= spec.tolerance_J_m2 for a, b in zip(series[:-2], series[1:-1]))
    vacua = result["vacuum_series"]
    assert [p["vacuum_A"] for p in vacua] == [8.0, 10.0] and all(p["n_layers"] == series[-1]["n_layers"] for p in vacua)
    assert result["surface_energy_J_m2"] == pytest.approx(series[-1]["surface_energy_J_m2"])
    assert result["n_layers"] == series[-1]["n_layers"] == result["n_atoms"]
    assert result["n_terminations"] == 1 and 0 <= result["termination_shift"] < 1
    assert result["relax_converged"]
    # the reported slab is a minimum of the Morse energy, and γ is its energy excess, both summed independently
    relaxed = Structure.from_dict(result["relaxed_structure"])
    assert len(relaxed) == result["n_atoms"]
    assert np.abs(Morse().forces(relaxed.cart_coords, relaxed.lattice.matrix)).max() < RELAX.fmax_eV_A
    a = bulk["lattice_constant_A"]
    assert result["surface_energy_J_m2"] == pytest.approx(gamma_J_m2(Morse().structure_energy(relaxed), relaxed, a), abs=1e-6)
    unrelaxed = slab_with_layers(a, (3, 2, 1), result["n_layers"], result["vacuum_series"][0]["vacuum_A"])
    assert result["surface_energy_J_m2"] < gamma_J_m2(Morse().structure_energy(unrelaxed), unrelaxed, a)


def test_not_converged_is_flagged(bulk):
    """A tolerance no slab can meet, and a vacuum below the 6 Å interaction range."""
    spec = FacetEnumerationSpec(
        start_thickness_A=3.0, thickness_step_A=1.5, max_thickness_A=6.0, tolerance_J_m2=1e-6,
        vacuum_A=5.0, vacuum_step_A=0.5, max_vacuum_A=6.0,
    )  # fmt: skip
    result = converged_surface_energy(morse(), bulk["lattice_constant_A"], (1, 0, 0), bulk["energy_per_atom_eV"], spec, RELAX)
    assert not result["thickness_converged"] and not result["vacuum_converged"] and not result["converged"]
    assert [p["n_layers"] for p in result["thickness_series"]] == [4, 5, 6]
    assert [p["vacuum_A"] for p in result["vacuum_series"]] == [5.0, 5.5, 6.0]
    gammas = [p["surface_energy_J_m2"] for p in result["vacuum_series"]]
    # the independent relaxation of the same 6-plane slab at each vacuum: the surfaces still feel each
    # other through 5 and 5.5 Å (γ changes by > 0.01 J/m²), not at 6 Å, the end of the interaction range
    a = bulk["lattice_constant_A"]
    expected = []
    for vacuum in (5.0, 5.5, 6.0):
        slab = slab_with_layers(a, (1, 0, 0), 6, vacuum)
        expected.append(gamma_J_m2(Morse().relax_structure(slab)[0], slab, a))
    assert gammas == pytest.approx(expected, abs=2e-4)
    assert expected[1] - expected[0] > 0.01
    assert result["surface_energy_J_m2"] == pytest.approx(gammas[-1])
    assert any("thickness not converged" in note for note in result["notes"])
    assert any("vacuum not converged" in note for note in result["notes"])


def test_layer_guard(bulk):
    a = bulk["lattice_constant_A"]
    with pytest.raises(InputError, match="max_layers = 10"):
        layer_schedule(a, (4, 4, 3), FacetEnumerationSpec(start_thickness_A=8.0, max_layers=10))
    capped = layer_schedule(a, (1, 1, 0), FacetEnumerationSpec(start_thickness_A=4.0, max_thickness_A=30.0, max_layers=6))
    assert capped[-1] <= 6 and capped == sorted(set(capped))
