"""Committee disagreement on a toy committee (Morse potentials), the descriptor and the exploration."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.morse import MorsePotential

from li_campaign.active.committee import CommitteeEvaluator, CommitteeMeanCalculator, max_force_std
from li_campaign.active.descriptors import distance_histogram
from li_campaign.active.explore import explore, hop_path, start_structures
from li_campaign.schemas.spec import ExplorationSpec


def _morse(r0: float) -> MorsePotential:
    return MorsePotential(epsilon=0.1, r0=r0, rho0=4.0, rcut1=4.0, rcut2=5.0)


@pytest.fixture
def rattled():
    atoms = bulk("Li", "bcc", a=3.44, cubic=True) * (2, 2, 2)
    atoms.rattle(0.1, seed=3)
    return atoms


def test_max_force_std_by_hand():
    f = np.zeros((2, 3, 3))
    f[0, 1] = [0.3, 0.0, 0.4]  # atom 1: members (0.3, 0, 0.4) and (−0.3, 0, −0.4): std = |(0.3, 0, 0.4)| = 0.5
    f[1, 1] = [-0.3, 0.0, -0.4]
    f[0, 2] = [0.1, 0.0, 0.0]
    assert max_force_std(f) == pytest.approx(0.5)
    three = np.array([[[0.0, 0.0, 0.0]], [[0.0, 0.0, 0.3]], [[0.0, 0.0, 0.6]]])
    assert max_force_std(three) == pytest.approx(np.sqrt(0.06))  # population std of 0, 0.3, 0.6
    with pytest.raises(ValueError, match="n_members >= 2"):
        max_force_std(np.zeros((1, 2, 3)))


def test_identical_members_agree_and_different_members_disagree(rattled):
    same = CommitteeEvaluator([_morse(3.0), _morse(3.0)])
    assert same.max_force_std(rattled) == pytest.approx(0.0, abs=1e-12)
    members = [_morse(2.9), _morse(3.0), _morse(3.1)]
    committee = CommitteeEvaluator(members)
    forces = []
    for calc in members:
        atoms = rattled.copy()
        atoms.calc = calc
        forces.append(atoms.get_forces())
    forces = np.array(forces)
    by_hand = np.max(np.sqrt(np.mean(np.sum((forces - forces.mean(axis=0)) ** 2, axis=2), axis=0)))
    assert committee.max_force_std(rattled) == pytest.approx(by_hand) and by_hand > 1e-3
    assert committee.driver is members[0]
    with pytest.raises(ValueError, match="at least 2 members"):
        CommitteeEvaluator([_morse(3.0)])


def test_committee_mean_calculator_averages_members(rattled):
    committee = CommitteeEvaluator([_morse(2.9), _morse(3.1)])
    energies, forces = committee.predict(rattled)
    atoms = rattled.copy()
    atoms.calc = CommitteeMeanCalculator(committee)
    assert atoms.get_potential_energy() == pytest.approx(energies.mean())
    assert np.allclose(atoms.get_forces(), forces.mean(axis=0))


def test_descriptor_is_per_atom_and_sees_surfaces():
    unit = bulk("Li", "bcc", a=3.44, cubic=True)
    assert np.allclose(distance_histogram(unit, 6.0, 30), distance_histogram(unit * (2, 2, 2), 6.0, 30))
    near = distance_histogram(unit, 3.2, 32)
    assert near.sum() == pytest.approx(8.0, rel=0.03)  # 8 nearest neighbours at 2.98 Å per atom
    slab = unit * (1, 1, 3)
    slab.center(vacuum=5.0, axis=2)
    assert distance_histogram(slab, 3.2, 32).sum() < near.sum()


def test_exploration_records_sigma_for_every_frame():
    spec = ExplorationSpec(
        bulk_supercell=1, bulk_temperatures_K=[300.0], facets=["100"], slab_temperatures_K=[300.0],
        md_steps=4, sample_every=2, relax_steps=2, hop_images=3, min_slab_size_A=3.0, min_lateral_A=3.0,
    )
    starts = start_structures(spec, 3.44)
    assert [s.kind for s in starts] == ["bulk", "slab", "adatom"]
    committee = CommitteeEvaluator([_morse(3.0), _morse(3.1)])
    frames = explore(starts, committee, spec, seed=5)
    origins = [f.origin for f in frames]
    # per start: 2 MD samples, relaxation steps 0 and 2; the adatom also 3 hop images
    assert origins == ["bulk_md"] * 2 + ["bulk_relax"] * 2 + ["slab_md"] * 2 + ["slab_relax"] * 2 + [
        "adatom_md"
    ] * 2 + ["adatom_relax"] * 2 + ["adatom_hop"] * 3
    # two members: the per-atom std of the force is half their difference; σ is its largest value
    for frame in frames:
        forces = []
        for r0 in (3.0, 3.1):
            atoms = frame.atoms.copy()
            atoms.calc = _morse(r0)
            forces.append(atoms.get_forces())
        expected = np.max(np.linalg.norm(forces[0] - forces[1], axis=1)) / 2
        assert frame.max_force_std_eV_A == pytest.approx(expected, rel=1e-9), frame.label
    assert [f.is_slab for f in frames] == [False] * 4 + [True] * 11
    again = explore(starts, committee, spec, seed=5)
    assert [f.max_force_std_eV_A for f in again] == [f.max_force_std_eV_A for f in frames]


def test_hop_path_moves_the_adatom_over_the_bridge():
    spec = ExplorationSpec(facets=["100"], min_slab_size_A=3.0, min_lateral_A=5.0)  # 2x2: a true 4-fold hollow
    adatom = start_structures(spec, 3.44)[2]
    start = adatom.structure.cart_coords[-1]
    images = hop_path(adatom, 3)
    heights = [image.positions[-1, 2] for image in images]
    steps = [np.linalg.norm(image.positions[-1, :2] - start[:2]) for image in images]
    assert np.allclose(steps, [3.44 / 4, 3.44 / 2, 3 * 3.44 / 4], atol=1e-6)  # (100) hollow to hollow is a
    assert heights[1] == max(heights) and heights[1] > start[2]  # the bridge is higher than the hollow
    assert all(len(image) == len(adatom.structure) for image in images)
