"""The model's adsorption-energy errors on its own adatom training cells (``ModelDoc.adsorption_label_errors``).

The frames are the training set's own cells (generate_training_structures: labels, repeats,
rattle), labelled by a Morse teacher. Known answers: the teacher as the model has no error; a
model that adds c·N² to the teacher's energy of an N-atom cell is off on the adsorption energy
E(cell) − n E(slab) − E_bulk/N_b by exactly c (N_cell² − n N_slab² − N_b), computed here from the
atom counts alone; a wrong pairing, repeat count or bulk reference gives another number.
"""

from __future__ import annotations

import pytest
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.morse import MorsePotential
from ase.calculators.singlepoint import SinglePointCalculator
from pymatgen.io.ase import AseAtomsAdaptor

from li_campaign.mlip.builders import adsorption_errors_by_facet
from li_campaign.mlip.evaluate import BULK_REFERENCE_LABEL, adsorption_label_errors
from li_campaign.mlip.report import adsorption_label_markdown
from li_campaign.schemas.spec import TrainingSetSpec
from li_campaign.structures.training_set import generate_training_structures

TEACHER = MorsePotential(epsilon=0.2, r0=3.0, rho0=3.5, rcut1=1.6, rcut2=2.0)


class QuadraticOffset(Calculator):
    """The teacher's energy plus ``c`` times the squared atom count of the cell."""

    implemented_properties = ("energy", "forces")

    def __init__(self, c: float):
        super().__init__()
        self.c = c

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        probe = self.atoms.copy()
        probe.calc = TEACHER
        self.results = {"energy": probe.get_potential_energy() + self.c * len(probe) ** 2, "forces": probe.get_forces()}


@pytest.fixture(scope="module")
def training_frames():
    """frame_id -> teacher-labelled Atoms, frame_id -> label, of a two-facet training set with two adatom heights."""
    spec = TrainingSetSpec.model_validate(
        {
            "bulk": {"n_strained": 2, "n_rattled": 0},
            "vacancy": None,
            "slabs": {
                "facets": ["100", "110"], "min_slab_size_A": 5.0, "min_vacuum_A": 6.0, "n_perturbed": 1,
                "adatom": True, "adatom_n_heights": 2, "adatom_min_image_distance_A": 5.0,
            },
            "isolated_atom_box_A": None,
        }
    )  # fmt: skip
    frames, labels = {}, {}
    for i, item in enumerate(generate_training_structures(spec, seed=3)):
        atoms = AseAtomsAdaptor.get_atoms(item.structure)
        atoms.calc = TEACHER
        labelled = atoms.copy()
        labelled.calc = SinglePointCalculator(labelled, energy=atoms.get_potential_energy(), forces=atoms.get_forces())
        frames[f"f{i:03d}"], labels[f"f{i:03d}"] = labelled, item.label
    return frames, labels


def test_the_teacher_as_model_has_no_error_and_every_adatom_cell_is_paired_with_its_slab(training_frames):
    frames, labels = training_frames
    parts = {fid: "train" for fid in frames}
    rows = adsorption_label_errors(TEACHER, frames, labels, parts)
    adatom_ids = {fid for fid, label in labels.items() if " + adatom " in label}
    assert {row.frame_id for row in rows} == adatom_ids and len(rows) >= 8
    by_label = {label: fid for fid, label in labels.items()}
    bulk = frames[by_label[BULK_REFERENCE_LABEL]]
    for row in rows:
        slab = frames[row.slab_frame_id]
        assert labels[row.slab_frame_id] == f"slab {row.facet}" and labels[row.frame_id].startswith(f"slab {row.facet} + adatom {row.site}")
        assert row.repeats * len(slab) + 1 == len(frames[row.frame_id]) and row.repeats >= 2
        expected = (
            frames[row.frame_id].get_potential_energy() - row.repeats * slab.get_potential_energy()
            - bulk.get_potential_energy() / len(bulk)
        )  # fmt: skip
        assert row.dft_eV == pytest.approx(expected, abs=1e-10)
        assert row.error_eV == pytest.approx(0.0, abs=1e-9)
        assert row.height_offset_A in (-0.3, 0.6) and row.part == "train"


def test_a_size_dependent_model_error_is_found_exactly(training_frames):
    frames, labels = training_frames
    c = 1e-4
    rows = adsorption_label_errors(QuadraticOffset(c), frames, labels, {})
    n_bulk = len(frames[{label: fid for fid, label in labels.items()}[BULK_REFERENCE_LABEL]])
    for row in rows:
        n_cell, n_slab = len(frames[row.frame_id]), len(frames[row.slab_frame_id])
        assert row.error_eV == pytest.approx(c * (n_cell**2 - row.repeats * n_slab**2 - n_bulk), rel=1e-9)
        assert row.part == "-"
    summary = adsorption_errors_by_facet([row.model_dump() for row in rows])
    assert list(summary) == ["100", "110"]
    for facet, entry in summary.items():
        errors = [row.error_eV for row in rows if row.facet == facet]
        assert entry["n"] == len(errors) and entry["mean_eV"] == pytest.approx(sum(errors) / len(errors))
        assert entry["max_abs_eV"] == pytest.approx(max(abs(e) for e in errors))


def test_without_the_bulk_reference_nothing_is_computed_and_a_cell_that_is_not_its_slab_plus_one_is_refused(training_frames):
    frames, labels = training_frames
    no_bulk = {fid: label for fid, label in labels.items() if label != BULK_REFERENCE_LABEL}
    assert adsorption_label_errors(TEACHER, frames, no_bulk, {}) == []
    fid = next(fid for fid, label in labels.items() if label.startswith("slab 110 + adatom"))
    broken = dict(frames)
    broken[fid] = frames[fid][:-2]  # the adatom and one slab atom gone
    with pytest.raises(ValueError, match=f"frame {fid} .*slab 110 \\+ adatom.* is not one more than a multiple"):
        adsorption_label_errors(TEACHER, broken, labels, {})


def test_the_report_lists_each_facet_and_warns_above_the_spot_check_tolerance():
    by_facet = {
        "100": {"n": 6, "mean_eV": 0.021, "max_abs_eV": 0.04, "worst": "ontop-0 dz +0.60 Å"},
        "110": {"n": 8, "mean_eV": 0.15, "max_abs_eV": 0.221, "worst": "ontop-0 dz +0.60 Å"},
    }
    text = "\n".join(adsorption_label_markdown(by_facet, 0.05))
    assert "| (100) | 6 | +0.021 | 0.040 | ontop-0 dz +0.60 Å |" in text and "| (110) | 8 | +0.150 | 0.221 |" in text
    assert "within the spot checks' 0.05 eV on (110):" in text and "(100)" not in text.split("**")[-1]
    assert "does not reproduce" not in "\n".join(adsorption_label_markdown(by_facet, 0.25))
    assert adsorption_label_markdown({}, 0.05) == [] and adsorption_label_markdown(None, None) == []
