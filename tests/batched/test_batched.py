"""Batched torch-sim execution agrees with the one-by-one ASE path (tiny untrained NequIP, CPU)."""

from __future__ import annotations

import numpy as np
import pytest

from li_campaign.batched import select_executor, use_batched
from li_campaign.batched.batching import evaluate, plan_batches
from li_campaign.core.errors import InputError
from tests.batched.conftest import rattled


def _mixed():
    """Structures of different sizes and cells, one atom outside its cell."""
    out = [rattled((2, 2, 2), 1), rattled((3, 2, 2), 2, a=3.40), rattled((2, 2, 3), 3, a=3.50)]
    out[1].positions[0] += [7.1, -2.3, 11.0]
    return out


def test_batch_energies_and_forces_match_ase(ts_model, ase_calc):
    structures = _mixed()
    energies, forces = evaluate(structures, ts_model)
    for atoms, energy, force in zip(structures, energies, forces):
        atoms = atoms.copy()
        atoms.calc = ase_calc
        assert energy == pytest.approx(atoms.get_potential_energy(), rel=1e-5)
        np.testing.assert_allclose(force, atoms.get_forces(), rtol=1e-5, atol=1e-5 * np.abs(force).max())


def test_batches_respect_the_atom_budget(ts_model):
    structures = _mixed()  # 16, 24, 24 atoms
    assert plan_batches(structures, ts_model) == [[0, 1, 2]]
    batches = plan_batches(structures, ts_model, max_atoms=40)
    assert sorted(i for b in batches for i in b) == [0, 1, 2]
    assert all(sum(len(structures[i]) for i in b) <= 40 for b in batches)
    with pytest.raises(ValueError, match="exceeds the batch capacity"):
        plan_batches(structures, ts_model, max_atoms=20)


def test_executor_is_batched_on_gpu_only(monkeypatch):
    monkeypatch.delenv("LI_CAMPAIGN_EXECUTOR", raising=False)
    assert select_executor("cuda") == "batched" and use_batched("cuda:0")
    assert select_executor("cpu") == "one-by-one" and not use_batched("cpu")
    monkeypatch.setenv("LI_CAMPAIGN_EXECUTOR", "one-by-one")
    assert select_executor("cuda") == "one-by-one"
    monkeypatch.setenv("LI_CAMPAIGN_EXECUTOR", "fast")
    with pytest.raises(InputError, match="LI_CAMPAIGN_EXECUTOR"):
        select_executor("cuda")


def test_non_periodic_structures_are_refused(ts_model):
    atoms = rattled((2, 2, 2), 11)
    atoms.pbc = [True, True, False]
    with pytest.raises(InputError, match="pbc"):
        evaluate([atoms], ts_model)
