"""The optional training-set sections: EOS, multi-amplitude rattles, divacancies, MD snapshots, relaxations, enumerated facets."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from li_campaign.core.errors import InputError
from li_campaign.core.hashing import structure_hash
from li_campaign.core.lithium import bcc_li_conventional
from li_campaign.core.miller import distinct_facets
from li_campaign.schemas.spec import spec_from_dict
from li_campaign.structures.training_set import generate_training_structures, md_origin

SMALL = {"bulk": {"n_strained": 2, "n_rattled": 1}, "vacancy": None, "slabs": None}


def _items(**sections):
    spec = spec_from_dict({"name": "t", "training_set": {**SMALL, **sections}})
    return generate_training_structures(spec.training_set, seed=3)


def test_sections_are_off_by_default_and_leave_the_default_structures_unchanged():
    default = spec_from_dict({"name": "t"}).training_set
    assert (default.eos, default.rattle, default.divacancy, default.aimd, default.relax) == (None,) * 5
    base = [structure_hash(i.structure) for i in generate_training_structures(default, seed=1)]
    extended = spec_from_dict({"name": "t", "training_set": {"eos": {}, "rattle": {}, "divacancy": {"supercell": [2, 2, 2]}}})
    more = generate_training_structures(extended.training_set, seed=1)
    # the isolated atom comes last in both; every other default structure keeps its place
    assert [structure_hash(i.structure) for i in more[: len(base) - 1]] == base[:-1]
    assert more[-1].origin == "isolated_atom" and more[-1].calculation == "static"
    assert structure_hash(more[-1].structure) == base[-1]
    assert all(i.calculation == "static" for i in more)


def test_eos_cells_span_the_strain_range():
    eos = [i for i in _items(eos={"n_points": 5, "max_linear_strain": 0.05}) if i.origin == "bulk_eos"]
    a = [i.structure.lattice.a for i in eos]
    assert a == pytest.approx(3.44 * (1 + np.linspace(-0.05, 0.05, 5)))
    assert all(len(i.structure) == 2 and i.structure.lattice.is_orthogonal for i in eos)


def test_rattles_at_each_amplitude():
    items = [i for i in _items(rattle={"supercell": [2, 2, 2], "amplitudes_A": [0.02, 0.3], "n_per_amplitude": 2, "max_strain": 0.0})
             if "Å" in i.label]  # fmt: skip
    assert Counter(i.label.split(" Å")[0] for i in items) == {"bulk rattle 0.02": 2, "bulk rattle 0.3": 2}
    spread = {}
    for item in items:
        frac = item.structure.frac_coords
        shift = (frac - np.round(frac * 4) / 4) @ item.structure.lattice.matrix  # ideal 2x2x2 sites: a quarter grid
        spread.setdefault(item.label.split(" Å")[0], []).append(float(np.std(shift)))
    assert max(spread["bulk rattle 0.02"]) < 0.05 < min(spread["bulk rattle 0.3"])


@pytest.mark.parametrize(("shell", "distance"), [(1, 3.44 * np.sqrt(3) / 2), (2, 3.44)])
def test_divacancy_removes_a_neighbour_pair(shell, distance):
    items = [i for i in _items(divacancy={"supercell": [3, 3, 3], "shells": [shell], "n_rattled": 1}) if i.origin == "divacancy"]
    assert [i.label for i in items] == [f"divacancy {shell}NN", f"divacancy {shell}NN rattled 0"]
    cell = items[0].structure
    assert len(cell) == 52
    full = bcc_li_conventional(3.44) * (3, 3, 3)  # the removed sites: perfect sites no atom sits on
    missing = [s for s in full if min(cell.lattice.get_all_distances(s.frac_coords, cell.frac_coords)[0]) > 0.1]
    assert len(missing) == 2
    assert full.lattice.get_all_distances(missing[0].frac_coords, missing[1].frac_coords)[0, 0] == pytest.approx(distance, abs=0.01)


def test_morse_driven_md_snapshots_tagged_by_temperature():
    items = _items(aimd={"temperatures_K": [300, 600], "supercell": [2, 2, 2], "n_steps": 30, "equilibration_steps": 10, "stride": 10})
    md = [i for i in items if i.origin in ("aimd", "liquid")]
    assert Counter(i.origin for i in md) == {"aimd": 2, "liquid": 2}  # steps 10 and 20 of each run
    assert all(i.calculation == "static" and len(i.structure) == 16 for i in md)
    assert len({structure_hash(i.structure) for i in md}) == 4
    assert (md_origin(453.0), md_origin(454.0)) == ("aimd", "liquid")


def test_engine_driven_md_and_relaxations_are_requests():
    items = _items(
        aimd={"temperatures_K": [900], "driver": "engine", "n_steps": 20, "equilibration_steps": 5},
        relax={"origins": ["divacancy"]},
        divacancy={"supercell": [2, 2, 2], "shells": [1], "n_rattled": 0},
    )
    (md,) = [i for i in items if i.calculation == "md"]
    assert (md.origin, md.temperature_K, len(md.structure)) == ("liquid", 900, 54)
    assert [i.label for i in items if i.calculation == "relax"] == ["divacancy 1NN"]


def test_enumerated_facets_replace_the_explicit_list():
    spec = {"slabs": {"max_miller_index": 2, "n_perturbed": 0, "adatom": False, "min_slab_size_A": 4.0, "min_vacuum_A": 6.0}}
    slabs = [i for i in _items(**spec) if i.origin == "slab"]
    assert len(slabs) == len(distinct_facets(2)) == 6


def test_bad_sections_are_rejected():
    with pytest.raises(InputError, match="amplitudes_A"):
        spec_from_dict({"name": "t", "training_set": {"rattle": {"amplitudes_A": [0.0]}}})
    with pytest.raises(InputError, match="must exceed equilibration_steps"):
        spec_from_dict({"name": "t", "training_set": {"aimd": {"n_steps": 10, "equilibration_steps": 10}}})
    with pytest.raises(InputError, match="shells"):
        spec_from_dict({"name": "t", "training_set": {"divacancy": {"shells": [0]}}})


@pytest.mark.slow
def test_stepped_slabs_are_slab_frames():
    """Stepped and kinked slabs of both terraces (geometry.steps; its import alone takes ~10 s here)."""
    items = [i for i in _items(steps={"terraces": ["110"], "kinks": True}, relax={"origins": ["step"]}) if i.origin == "step"]
    assert [i.label for i in items] == ["step on 110", "kinked step on 110"]
    assert all(i.is_slab and i.calculation == "relax" for i in items)
    assert len(items[1].structure) > len(items[0].structure)
