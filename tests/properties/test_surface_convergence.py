"""γ converged in slab thickness and vacuum, with the Morse pair potential standing in for the model."""

from __future__ import annotations

import pytest
from ase.calculators.morse import MorsePotential

from li_campaign.core.errors import InputError
from li_campaign.properties.bulk import fit_bulk_eos
from li_campaign.properties.surface_convergence import converged_surface_energy, layer_schedule
from li_campaign.schemas.spec import EosSpec, FacetEnumerationSpec, RelaxSpec

RELAX = RelaxSpec(fmax_eV_A=0.01, max_steps=300, optimizer="LBFGS")


def morse() -> MorsePotential:
    """Interactions end at 6 Å: a vacuum of 6 Å or more decouples the two surfaces exactly."""
    return MorsePotential(epsilon=0.2, r0=3.0, rho0=3.5, rcut1=1.6, rcut2=2.0)


@pytest.fixture(scope="module")
def bulk():
    return fit_bulk_eos(morse(), 2.92, EosSpec())


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
    assert result["surface_energy_J_m2"] > 0 and result["relax_converged"]


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
    assert gammas[1] - gammas[0] > 0.01  # the surfaces still feel each other through 5 Å of vacuum
    assert result["surface_energy_J_m2"] == pytest.approx(gammas[-1])
    assert any("thickness not converged" in note for note in result["notes"])
    assert any("vacuum not converged" in note for note in result["notes"])


def test_layer_guard(bulk):
    a = bulk["lattice_constant_A"]
    with pytest.raises(InputError, match="max_layers = 10"):
        layer_schedule(a, (4, 4, 3), FacetEnumerationSpec(start_thickness_A=8.0, max_layers=10))
    capped = layer_schedule(a, (1, 1, 0), FacetEnumerationSpec(start_thickness_A=4.0, max_thickness_A=30.0, max_layers=6))
    assert capped[-1] <= 6 and capped == sorted(set(capped))
