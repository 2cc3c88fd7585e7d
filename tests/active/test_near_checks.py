"""Perturbed copies of the failing spot checks' cells, and the stop rule that goes on while checks fail."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bcc100
from pymatgen.core import Structure

from li_campaign.active.near_checks import ORIGIN, near_check_frames
from li_campaign.active.selection import stop_reason
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import ActiveLearningSpec
from li_campaign.schemas.validation import LabelRequest, PlannedCheck, SpotCheck, SpotCheckPlan, TeacherEnergy, ValidationDoc
from li_campaign.simulation.relax import atoms_to_structure


class _Committee:
    """Stands in for a CommitteeEvaluator: σ = the cell's atom count / 100 (eV/Å)."""

    def max_force_std(self, atoms) -> float:
        return len(atoms) / 100


def _slab(adatom: bool, shift: float = 0.0) -> Structure:
    from ase.constraints import FixAtoms

    atoms = bcc100("Li", size=(2, 2, 3), a=3.44, vacuum=6.0)
    atoms.set_constraint(FixAtoms([a.index for a in atoms if a.tag == 3]))  # the bottom layer
    if adatom:
        top = atoms.positions[:, 2].max()
        atoms += atoms[:1]
        atoms.positions[-1] = [1.72 + shift, 1.72, top + 1.5]
    return atoms_to_structure(atoms)


def _row(planned: PlannedCheck, error: float, threshold: float = 0.05) -> SpotCheck:
    return SpotCheck(quantity=planned.quantity, facet=planned.facet, item=planned.item, unit="eV", geometry="model",
                     model=1.0 + error, dft=1.0, error=error, threshold=threshold,
                     status="pass" if abs(error) <= threshold else "fail")  # fmt: skip


@pytest.fixture()
def validation():
    requests = [
        LabelRequest(name="bulk", structure=_slab(False), slab=False, label="bulk"),
        LabelRequest(name="100:site:hollow-0", structure=_slab(True), slab=True, label="(100) adatom at hollow-0"),
        LabelRequest(name="100:clean", structure=_slab(False), slab=True, label="(100) clean slab"),
        *[LabelRequest(name=f"100:hop:{i}", structure=_slab(True, 0.4 * i), slab=True, label=f"(100) hop image {i}")
          for i in range(3)],  # fmt: skip
        LabelRequest(name="100:site:bridge-0", structure=_slab(True, 0.9), slab=True, label="(100) adatom at bridge-0"),
    ]
    checks = [
        PlannedCheck(quantity="adsorption_energy", facet="100", item="hollow-0", geometry="model",
                     frames=["100:site:hollow-0", "100:clean"]),  # fmt: skip
        PlannedCheck(quantity="barrier", facet="100", item="hop", geometry="model",
                     frames=["100:hop:0", "100:hop:1", "100:hop:2"]),  # fmt: skip
        PlannedCheck(quantity="adsorption_energy", facet="100", item="bridge-0", geometry="model",
                     frames=["100:site:bridge-0", "100:clean"]),  # fmt: skip
    ]
    teacher = {r.name: TeacherEnergy(energy_eV=-10.0, n_atoms=len(r.structure), frame_id=f"c:validation:{i}")
               for i, r in enumerate(requests)}  # fmt: skip
    teacher["100:hop:2"] = TeacherEnergy(energy_eV=-9.5, n_atoms=13, frame_id="c:validation:5")  # the band's top
    return ValidationDoc(
        campaign="c", model_sha256="0" * 64, engine="gpaw", checks=[], passed=False, n_checks=3, n_passed=1,
        n_failed=2, n_refused=0, n_skipped=0, thresholds={}, plan=SpotCheckPlan(checks=checks, requests=requests),
        teacher_energies=teacher, provenance=Provenance(campaign="c", spec_hash="s"),
    )  # fmt: skip


def _rows(validation, errors):
    return [_row(p, e) for p, e in zip(validation.plan.checks, errors)]


def test_copies_of_failing_checks_only_round_robin_worst_first(validation):
    al = ActiveLearningSpec(near_check_copies=2, near_check_budget=5, near_check_rattle_A=0.0, near_check_height_step_A=0.1)
    frames = near_check_frames(validation, _rows(validation, [0.08, -0.2, 0.01]), al, iteration=0, committee=_Committee())
    labels = [f.label for f in frames]
    assert len(frames) == 5 and all(f.origin == ORIGIN and f.is_slab for f in frames)
    # round robin, the barrier (|error| 0.2) first; its first cell is the teacher's highest image
    assert labels[0].startswith("barrier (100) hop") and "hop image 2, copy 0" in labels[0]
    assert labels[1].startswith("adsorption_energy (100) hollow-0") and "adatom at hollow-0, copy 0" in labels[1]
    assert "hop image 0, copy 0" in labels[2] and "clean slab, copy 0" in labels[3] and "hop image 1, copy 0" in labels[4]
    assert not any("bridge-0" in label for label in labels)  # that check passed
    assert frames[0].max_force_std_eV_A == pytest.approx(0.13)


def test_adatom_copies_move_the_adatom_by_the_height_steps_and_keep_fixed_atoms(validation):
    al = ActiveLearningSpec(near_check_copies=4, near_check_budget=20, near_check_rattle_A=0.0, near_check_height_step_A=0.1)
    frames = near_check_frames(validation, _rows(validation, [0.08, 0.0, 0.0]), al, iteration=0, committee=_Committee())
    site = validation.plan.requests[1].structure
    copies = [Structure.from_dict(f.structure) for f in frames if "hollow-0," in f.label]
    dz = [c.cart_coords[-1, 2] - site.cart_coords[-1, 2] for c in copies]
    np.testing.assert_allclose(dz, [0.1, -0.1, 0.2, -0.2], atol=1e-9)
    for copy in copies:
        np.testing.assert_allclose(copy.cart_coords[:-1], site.cart_coords[:-1], atol=1e-9)
        assert copy.site_properties["selective_dynamics"] == site.site_properties["selective_dynamics"]
    # the clean slab's copies are not shifted: with no rattle they equal the cell (not trained on: see below)
    assert len(frames) == 8


def test_rattled_copies_differ_from_the_checked_cells_and_keep_fixed_atoms(validation):
    al = ActiveLearningSpec(near_check_copies=1, near_check_budget=8, near_check_rattle_A=0.05)
    frames = near_check_frames(validation, _rows(validation, [0.0, 0.3, 0.0]), al, iteration=1, committee=_Committee())
    cells = {r.label: r.structure for r in validation.plan.requests}
    for frame in frames:
        copy = Structure.from_dict(frame.structure)
        cell = cells[frame.label.split(": ", 1)[1].split(", copy")[0]]
        moved = np.linalg.norm(copy.cart_coords - cell.cart_coords, axis=1)
        fixed = [i for i, f in enumerate(cell.site_properties["selective_dynamics"]) if not any(f)]
        assert fixed and np.all(moved[fixed] < 1e-12)
        free = np.delete(moved, fixed)
        assert free.min() > 0 and 0.02 < np.sqrt(np.mean(free**2)) / np.sqrt(3) < 0.12
    again = near_check_frames(validation, _rows(validation, [0.0, 0.3, 0.0]), al, iteration=1, committee=_Committee())
    assert [f.structure for f in again] == [f.structure for f in frames]  # seeded
    other = near_check_frames(validation, _rows(validation, [0.0, 0.3, 0.0]), al, iteration=2, committee=_Committee())
    assert [f.structure for f in other] != [f.structure for f in frames]


def test_no_copies_when_every_check_passes_or_when_off(validation):
    al = ActiveLearningSpec()
    assert near_check_frames(validation, _rows(validation, [0.01, 0.0, -0.02]), al, 0, _Committee()) == []
    off = ActiveLearningSpec(near_check_copies=0)
    assert near_check_frames(validation, _rows(validation, [0.5, 0.5, 0.5]), off, 0, _Committee()) == []
    with pytest.raises(ValueError, match="2 spot-check rows for the 3 planned checks"):
        near_check_frames(validation, _rows(validation, [0.5, 0.5, 0.5])[:2], al, 0, _Committee())


def test_the_loop_goes_on_while_spot_checks_fail_even_when_the_committee_agrees():
    # the fidelity campaign's first loop: 1.5 % candidates (converged) and 5 of 17 checks failing
    assert stop_reason(0.015, 0.05, iteration=0, max_iterations=3, n_selected=8, spot_checks_passed=False) is None
    assert stop_reason(0.015, 0.05, iteration=2, max_iterations=3, n_selected=8, spot_checks_passed=False) == "max_iterations"
    assert stop_reason(0.015, 0.05, iteration=0, max_iterations=3, n_selected=0, spot_checks_passed=False) == (
        "no_candidates_selected"
    )
    assert stop_reason(0.5, 0.05, iteration=0, max_iterations=3, n_selected=8, spot_checks_passed=True) == (
        "spot_checks_passed"
    )
    # without spot checks, agreement still ends the loop
    assert stop_reason(0.015, 0.05, iteration=0, max_iterations=3, n_selected=8) == "converged"
