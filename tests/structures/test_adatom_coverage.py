"""Adatom training cells cover the fan-out: every distinct site, dilute coverage, height scans, commensurate k-meshes."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import numpy as np
import pytest

from li_campaign.core.errors import InputError
from li_campaign.geometry.slabs import lateral_repeats, make_symmetric_slab
from li_campaign.schemas.spec import MlipSpec, spec_from_dict
from li_campaign.structures.training_set import (
    adatom_height_offsets,
    adatom_height_scan,
    adatom_image_distance,
    generate_training_structures,
)

A = 3.44
NN = A * math.sqrt(3) / 2  # bulk nearest-neighbour distance
BCC_SHELLS = (NN, A, A * math.sqrt(2))  # the bcc distances below 5 Å
# the symmetry-distinct sites, by hand: (100) ontop/bridge/4-fold hollow; (110) ontop, short bridge, long bridge,
# threefold hollow; (111) ontop, bridge, shallow hollow (above a 2nd-layer atom), deep hollow (above a 3rd-layer atom)
SITES = {
    "100": {"ontop-0", "bridge-0", "hollow-0"},
    "110": {"ontop-0", "bridge-0", "bridge-1", "hollow-0"},
    "111": {"ontop-0", "bridge-0", "hollow-0", "hollow-1"},
}
CONTINUATION = {"100": "hollow-0", "110": "bridge-1", "111": "hollow-1"}  # where the next bulk layer's atom sits
SLABS = {"facets": ["100", "110", "111"], "min_slab_size_A": 5.0, "min_vacuum_A": 6.0, "n_perturbed": 0}


def _items(r_max_A: float | None = 5.0, relax: dict | None = None, **slabs):
    spec = spec_from_dict(
        {"name": "t", "training_set": {"lattice_constant_A": A, "bulk": {"n_strained": 1, "n_rattled": 0}, "vacancy": None,
                                       "slabs": {**SLABS, **slabs}, "relax": relax}}
    )  # fmt: skip
    return spec, generate_training_structures(spec.training_set, seed=5, r_max_A=r_max_A)


def _site(label: str) -> str:
    return label.split(" + adatom ")[1].split(" ")[0]


def _image_distance(structure) -> float:
    """Shortest in-plane lattice vector: the distance between an adatom and its nearest periodic image."""
    a, b = structure.lattice.matrix[:2]
    return min(np.linalg.norm(i * a + j * b) for i, j in itertools.product(range(-4, 5), repeat=2) if (i, j) != (0, 0))


@pytest.fixture(scope="module")
def scan():
    """One height per site, tiny rattle and no jitter, r_max 5 Å with a 4.2 Å floor (the demo's settings)."""
    return _items(adatom_n_heights=1, adatom_min_lateral_A=4.2, rattle_std_A=1e-4, adatom_height_jitter_A=0.0)


def test_every_symmetry_distinct_site_gets_an_adatom_cell(scan):
    _, items = scan
    found = defaultdict(set)
    for item in items:
        if item.origin == "adatom":
            found[item.label.split()[1]].add(_site(item.label))
    assert dict(found) == SITES


@pytest.mark.parametrize("facet", ["100", "110", "111"])
def test_bulk_continuation_site_is_covered(facet):
    """Known answer: exactly one site, the bulk-continuation one, has only bcc shell distances to the slab when the
    adatom sits one interlayer spacing above the top layer (it is then a bcc lattice site)."""
    slab = make_symmetric_slab(A, tuple(int(c) for c in facet), 5.0, 6.0)
    z = np.unique(np.round(slab.cart_coords[:, 2], 3))
    spacing = float(z[-1] - z[-2])
    on_lattice = set()
    for site, _, cell in adatom_height_scan(slab, (2, 2), [0.0]):
        adatom = cell.cart_coords[-1].copy()
        adatom[2] = cell.cart_coords[:-1, 2].max() + spacing
        cell.replace(len(cell) - 1, "Li", adatom, coords_are_cartesian=True)
        distances = cell.distance_matrix[-1, :-1]
        near = distances[distances < 5.0]
        if all(min(abs(d - s) for s in BCC_SHELLS) < 0.01 for d in near):
            on_lattice.add(site)
    assert on_lattice == {CONTINUATION[facet]}


def test_110_bridges_are_the_short_and_the_long_one(scan):
    _, items = scan
    lateral = {}
    for item in items:
        if item.origin == "adatom" and item.label.startswith("slab 110"):
            cell = item.structure
            top = cell.cart_coords[:-1, 2].max()
            surface = [i for i in range(len(cell) - 1) if cell.cart_coords[i, 2] > top - 0.05]
            distances = sorted(cell.get_distance(len(cell) - 1, i) for i in surface)
            height = cell.cart_coords[-1, 2] - top
            lateral[_site(item.label)] = math.sqrt(distances[0] ** 2 - height**2)
    assert lateral["bridge-0"] == pytest.approx(A * math.sqrt(3) / 4, abs=0.01)  # half the 2.98 Å nn bond
    assert lateral["bridge-1"] == pytest.approx(A / 2, abs=0.01)  # half the 3.44 Å second-neighbour bond


def test_adatom_images_are_at_least_r_max_apart(scan):
    spec, items = scan
    slabs = {item.label.split()[1]: item for item in items if item.origin == "slab"}
    for item in items:
        if item.origin == "adatom":
            assert _image_distance(item.structure) >= 5.0
            assert len(item.structure) == 4 * len(slabs[item.label.split()[1]].structure) + 1  # 2x2 on every facet
    assert adatom_image_distance(spec.training_set.slabs, 5.0) == 5.0


def test_111_is_no_longer_a_monolayer_and_the_distance_follows_the_spec():
    slab = make_symmetric_slab(A, (1, 1, 1), 5.0, 6.0)
    assert lateral_repeats(slab, 4.2) == (1, 1)  # the old cell: adatoms 4.86 Å apart, a full monolayer
    spec, _ = _items(adatom_min_lateral_A=4.2)
    s = spec.training_set.slabs
    assert adatom_image_distance(s, 6.0) == 6.0  # the campaign's r_max
    assert adatom_image_distance(s) == max(4.2, MlipSpec().r_max_A)  # MlipSpec's default r_max when none is passed
    wide = spec_from_dict({"name": "t", "training_set": {"slabs": {"adatom_min_image_distance_A": 8.0}}})
    assert adatom_image_distance(wide.training_set.slabs, 5.0) == 8.0
    assert adatom_image_distance(spec_from_dict({"name": "t"}).training_set.slabs, 5.0) == 6.0  # adatom_min_lateral_A floor


def test_height_scan_positions():
    spec, _ = _items(adatom_n_heights=4, adatom_height_range_A=(-0.3, 0.6))
    offsets = adatom_height_offsets(spec.training_set.slabs)
    assert offsets == pytest.approx([-0.3, 0.0, 0.3, 0.6])
    slab = make_symmetric_slab(A, (1, 0, 0), 5.0, 6.0)
    top = slab.cart_coords[:, 2].max()
    heights = defaultdict(list)
    for site, offset, cell in adatom_height_scan(slab, (2, 2), offsets):
        heights[site].append(cell.cart_coords[-1, 2] - top)
        if offset == 0.0:  # the start height: nearest slab atom one bulk nearest-neighbour distance away
            assert cell.distance_matrix[-1, :-1].min() == pytest.approx(NN, abs=1e-6)
    # (100) known start heights above the top layer: ontop NN, bridge sqrt(NN^2 - (a/2)^2), 4-fold hollow a/2
    start = {"ontop-0": NN, "bridge-0": math.sqrt(NN**2 - (A / 2) ** 2), "hollow-0": A / 2}
    assert set(heights) == set(start)
    for site, h in heights.items():
        assert h == pytest.approx([start[site] + o for o in offsets], abs=1e-6)


def test_generated_scan_frames_sit_at_the_scan_heights():
    _, items = _items(adatom_n_heights=3, adatom_height_range_A=(-0.2, 0.4), rattle_std_A=1e-4, adatom_height_jitter_A=0.0,
                      facets=["100"], relax={"origins": ["adatom"]})  # fmt: skip
    ontop = [i for i in items if i.origin == "adatom" and "ontop-0" in i.label]
    assert [i.label for i in ontop] == [f"slab 100 + adatom ontop-0 dz {o:+.2f} Å" for o in (-0.2, 0.1, 0.4)]
    z = [i.structure.cart_coords[-1, 2] - i.structure.cart_coords[:-1, 2].max() for i in ontop]
    assert z == pytest.approx([NN - 0.2, NN + 0.1, NN + 0.4], abs=0.002)
    assert [i.calculation for i in ontop] == ["static", "relax", "static"]  # relaxed from the scan point nearest the start


def test_one_height_is_the_start_height():
    spec, items = _items(adatom_n_heights=1, facets=["100"])
    assert adatom_height_offsets(spec.training_set.slabs) == [0.0]
    assert sorted(_site(i.label) for i in items if i.origin == "adatom") == ["bridge-0", "hollow-0", "ontop-0"]


def test_slab_and_adatom_cells_carry_commensurate_meshes(scan):
    _, items = scan
    slabs = {item.label.split()[1]: item for item in items if item.origin == "slab"}
    for item in items:
        if item.origin == "adatom":
            facet = item.label.split()[1]
            nx, ny = item.kpoint_repeats
            slab_mesh = slabs[facet].kpoint_mesh(0.25)
            assert slabs[facet].kpoint_multiple == (nx, ny) == (2, 2)
            assert item.kpoint_mesh(0.25) == [slab_mesh[0] // nx, slab_mesh[1] // ny, 1]
            assert slab_mesh[0] % nx == 0 and slab_mesh[1] % ny == 0
            assert item.kpoint_mesh(None) is None  # an engine without k-points (Morse): its own rule
    bulk = next(i for i in items if i.origin == "bulk_strain")
    assert bulk.kpoint_mesh(0.25) is None  # no explicit mesh: bulk reuse keys are unchanged


def test_max_adatom_sites_is_refused_with_the_reason():
    with pytest.raises(InputError, match="max_adatom_sites .* was removed"):
        spec_from_dict({"name": "t", "training_set": {"slabs": {"max_adatom_sites": 3}}})
    with pytest.raises(InputError, match="adatom_height_range_A"):
        spec_from_dict({"name": "t", "training_set": {"slabs": {"adatom_height_range_A": [0.5, -0.5]}}})


def test_the_isolated_atom_is_one_atom_in_a_box_with_one_k_point(scan):
    _, items = scan
    (atom,) = [i for i in items if i.origin == "isolated_atom"]
    assert items[-1] is atom and len(atom.structure) == 1 and atom.structure.lattice.abc == (12.0, 12.0, 12.0)
    assert atom.is_slab and atom.calculation == "static"  # vacuum: no stress label
    assert atom.kpoint_mesh(0.25) == [1, 1, 1] and atom.kpoint_mesh(None) is None
