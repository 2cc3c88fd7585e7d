"""Batched torch-sim execution agrees with the one-by-one ASE path (tiny untrained NequIP, CPU)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.constraints import FixAtoms
from ase.geometry import find_mic
from ase.md.verlet import VelocityVerlet
from ase.units import fs, kB

from li_campaign.batched import select_executor, use_batched
from li_campaign.batched.batching import evaluate, plan_batches
from li_campaign.batched.md import batched_md
from li_campaign.batched.relax import batched_relax
from li_campaign.core.errors import InputError
from li_campaign.properties.neb import converged_neb
from li_campaign.properties.neb_batched import converged_nebs
from li_campaign.properties.relax import relax_atoms
from li_campaign.schemas.spec import NebConvergenceSpec, NebSpec, RelaxSpec
from tests.batched.conftest import rattled


def _mixed():
    """Structures of different sizes and cells, one atom outside its cell."""
    out = [rattled((2, 2, 2), 1), rattled((3, 2, 2), 2, a=3.40), rattled((2, 2, 3), 3, a=3.50)]
    out[1].positions[0] += [7.1, -2.3, 11.0]
    return out


def _slab(seed: int):
    """A 2x2x3 bcc cell with vacuum above, the bottom layer (z < 1 Å) held by FixAtoms."""
    atoms = rattled((2, 2, 3), seed)
    atoms.center(vacuum=4.0, axis=2)
    atoms.set_constraint(FixAtoms(indices=[a.index for a in atoms if a.position[2] < atoms.positions[:, 2].min() + 1.0]))
    return atoms


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


def test_batched_fire_matches_ase_fire_and_holds_fixed_atoms(ts_model, ase_calc):
    structures = [_slab(4), _slab(5), rattled((2, 2, 2), 6)]
    batched = batched_relax(structures, ts_model, fmax_eV_A=0.05, max_steps=60)
    spec = RelaxSpec(optimizer="FIRE", fmax_eV_A=0.05, max_steps=60)
    for start, (atoms, energy, converged, steps) in zip(structures, batched):
        ref, ref_energy, ref_converged, ref_steps = relax_atoms(start, ase_calc, spec)
        assert (converged, steps) == (ref_converged, ref_steps)
        # float32 model noise (~1e-6 eV/Å) grows over tens of FIRE steps: ~1e-4 eV on 24 atoms
        assert energy == pytest.approx(ref_energy, abs=5e-4)
        np.testing.assert_allclose(atoms.positions, ref.positions, atol=2e-3)
        fixed = atoms.constraints[0].index if atoms.constraints else []
        np.testing.assert_array_equal(atoms.positions[fixed], start.positions[fixed])
    assert len(structures[0].constraints[0].index) == 4  # the 2x2 corner atoms of the bottom plane (z = 0)
    assert not np.allclose(batched[0][0].positions, structures[0].positions)  # the free atoms did move


def test_nve_md_matches_ase_velocity_verlet(ts_model, ase_calc):
    structures = _mixed()[:2]
    rng = np.random.default_rng(0)
    for atoms in structures:
        atoms.set_momenta(rng.normal(0.0, 0.05, (len(atoms), 3)))
    result = batched_md(structures, ts_model, n_steps=8, timestep_fs=1.0, ensemble="nve")
    for start, end, energy in zip(structures, result.structures, result.potential_energies_eV):
        ref = start.copy()
        ref.calc = ase_calc
        VelocityVerlet(ref, timestep=1.0 * fs).run(8)
        shift, _ = find_mic(end.positions - ref.positions, end.cell)  # torch-sim wraps positions into the cell
        np.testing.assert_allclose(shift, 0.0, atol=1e-6)
        np.testing.assert_allclose(end.get_momenta(), ref.get_momenta(), atol=1e-6)
        assert energy == pytest.approx(ref.get_potential_energy(), abs=1e-5)


def test_langevin_md_holds_fixed_atoms_and_is_reproducible(ts_model):
    structures = [_slab(7), _slab(8)]
    first = batched_md(structures, ts_model, n_steps=5, temperature_K=600.0, seed=3)
    again = batched_md(structures, ts_model, n_steps=5, temperature_K=600.0, seed=3)
    for start, end, repeat in zip(structures, first.structures, again.structures):
        fixed = start.constraints[0].index
        np.testing.assert_array_equal(end.positions[fixed], start.positions[fixed])
        assert np.all(end.get_momenta()[fixed] == 0.0)
        assert not np.allclose(end.positions, start.positions)
        np.testing.assert_allclose(end.positions, repeat.positions, atol=1e-12)
    # the reported temperatures are the kinetic ones of the final momenta, over the free atoms' 3 (N − N_fixed) dof
    for start, end, temperature in zip(structures, first.structures, first.temperatures_K):
        kinetic = 0.5 * np.sum(end.get_momenta() ** 2 / end.get_masses()[:, None])
        dof = 3 * (len(end) - len(start.constraints[0].index))
        assert temperature == pytest.approx(2 * kinetic / (dof * kB), rel=1e-6)


def _vacancy_hop(seed: int):
    """Start and end of a vacancy hop in a 2x2x2 bcc cell (15 atoms): the neighbour moves into the empty site."""
    atoms = rattled((2, 2, 2), seed, a=3.44)
    atoms.positions[0] = [0.0, 0.0, 0.0]
    atoms.positions[1] = [1.72, 1.72, 1.72]
    start = atoms.copy()
    del start[0]
    end = start.copy()
    end.positions[0] = [0.0, 0.0, 0.0]
    return start, end


def test_batched_nebs_match_one_by_one(ts_model, ase_calc):
    pairs = [_vacancy_hop(9), _vacancy_hop(10)]
    neb = NebSpec(n_images=3, fmax_eV_A=0.1, max_steps=25)
    convergence = NebConvergenceSpec(max_images=7, tolerance_eV=1e-6)
    batched = converged_nebs(pairs, ts_model, neb, convergence)
    for (start, end), out in zip(pairs, batched):
        ref = converged_neb(start, end, ase_calc, neb, convergence)
        assert out.images_tried == ref.images_tried == [3, 7]
        assert (out.converged, out.steps) == (ref.converged, ref.steps)
        assert out.barrier_forward_eV == pytest.approx(ref.barrier_forward_eV, abs=1e-4)
        np.testing.assert_allclose(out.barriers_by_images_eV, ref.barriers_by_images_eV, atol=1e-4)


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
