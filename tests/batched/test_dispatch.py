"""A pack's ASE calculations run together with batched model calls, and give the one-by-one results (CPU)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from ase.md.langevin import Langevin
from ase.units import fs

from li_campaign.batched.dispatch import BatchDispatcher, active_dispatcher
from li_campaign.batched.loader import BatchedModel
from li_campaign.kinetics.neb import converged_neb
from li_campaign.mlip.calculator import load_model
from li_campaign.schemas.spec import NebConvergenceSpec, NebSpec, RelaxSpec
from li_campaign.simulation.relax import relax_atoms
from tests.batched.conftest import fixed_slab, rattled, vacancy_hop

NEB = NebSpec(n_images=3, fmax_eV_A=0.05, max_steps=60)
REFINE = NebConvergenceSpec(enabled=True, tolerance_eV=1e-9, max_images=7)
DOC = SimpleNamespace(package_sha256="f" * 64)  # what the dispatcher reads of a registry entry


def _relax(calc, seed: int, optimizer: str):
    atoms, energy, converged, steps = relax_atoms(fixed_slab(seed), calc, RelaxSpec(optimizer=optimizer, fmax_eV_A=0.01, max_steps=150))
    return atoms.positions.copy(), energy, converged, steps


def _neb(calc):
    """A vacancy hop (test_batched's), endpoints relaxed, then a CI-NEB refined 3 -> 7 images."""
    start, end = vacancy_hop(0)
    relax = RelaxSpec(optimizer="FIRE", fmax_eV_A=0.02, max_steps=100)
    start, _, _, _ = relax_atoms(start, calc, relax)
    end, _, _, _ = relax_atoms(end, calc, relax)
    outcome = converged_neb(start, end, calc, NEB, REFINE)
    return outcome.energies_eV, outcome.images_tried, outcome.steps


def _md(calc):
    atoms = rattled((2, 2, 2), 7)
    atoms.calc = calc
    dynamics = Langevin(atoms, 2 * fs, temperature_K=300, friction=0.02, rng=np.random.default_rng(3), logfile=None)
    dynamics.run(15)
    return atoms.positions.copy(), float(atoms.get_potential_energy())


def _calculations(calc_of):
    """The same four calculations and one that fails; ``calc_of()`` gives each its calculator."""

    def broken():
        calc_of()
        raise ValueError("this member fails")

    return [
        lambda: _relax(calc_of(), 4, "BFGS"),
        lambda: _relax(calc_of(), 5, "FIRE"),
        lambda: _neb(calc_of()),
        broken,
        lambda: _md(calc_of()),
    ]


def _close(batched, single):
    if isinstance(single, np.ndarray):
        np.testing.assert_allclose(batched, single, atol=2e-4)
    elif isinstance(single, float):
        assert batched == pytest.approx(single, abs=2e-5)
    elif isinstance(single, (list, tuple)):
        assert len(batched) == len(single)
        for b, s in zip(batched, single):
            _close(b, s)
    else:
        assert batched == single


def test_members_give_the_one_by_one_results_with_batched_model_calls(ts_model, ase_calc):
    def single_calc():
        return ase_calc

    one_by_one = []
    for function in _calculations(single_calc):
        try:
            one_by_one.append(function())
        except ValueError:
            one_by_one.append(None)

    dispatcher = BatchDispatcher("cpu", load=lambda doc, device: BatchedModel(ts_model, "eager", "in memory", device))
    outcomes = dispatcher.run(_calculations(lambda: load_model(DOC)))

    assert [type(o.error).__name__ for o in outcomes] == ["NoneType", "NoneType", "NoneType", "ValueError", "NoneType"]
    assert str(outcomes[3].error) == "this member fails"
    for outcome, single in zip(outcomes, one_by_one):
        if single is not None:
            _close(outcome.result, single)
    record = dispatcher.record()
    assert record["executor"] == "batched" and record["models"]["f" * 12]["model_form"] == "eager"
    # the members overlap: far fewer model calls than structures, NEB images evaluated together
    assert record["model_calls"] < record["structures_evaluated"] / 2
    assert active_dispatcher() is None


def test_a_bad_structure_fails_only_its_member(ts_model):
    dispatcher = BatchDispatcher("cpu", load=lambda doc, device: BatchedModel(ts_model, "eager", "in memory", device))

    def energy(atoms):
        atoms.calc = load_model(DOC)
        return atoms.get_potential_energy()

    molecule = rattled((2, 2, 2), 1)
    molecule.pbc = False  # the batched state needs full periodicity
    outcomes = dispatcher.run([lambda: energy(rattled((2, 2, 2), 0)), lambda: energy(molecule)])
    assert outcomes[0].error is None and isinstance(outcomes[0].result, float)
    assert "batched execution needs pbc" in str(outcomes[1].error)
