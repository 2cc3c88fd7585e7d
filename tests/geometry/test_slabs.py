"""Symmetric slabs, layer counts, in-plane repeats and adatom cells."""

from __future__ import annotations

import math

import numpy as np
import pytest

from li_campaign.core.errors import InputError
from li_campaign.geometry.slabs import (
    adatom_slabs,
    add_adatom,
    count_layers,
    image_repeats,
    inplane_minimum_image,
    lateral_repeats,
    make_symmetric_slab,
    nearest_neighbour_distance,
    shortest_inplane_translation,
    top_surface_sites,
)

A = 3.44
FACETS = [(1, 0, 0), (1, 1, 0), (1, 1, 1), (2, 1, 0), (2, 1, 1), (3, 1, 0), (3, 2, 1)]


def d_spacing(hkl: tuple[int, int, int], a: float = A) -> float:
    """bcc interplanar spacing: a/√N, halved when h + k + l is odd (body centre in between)."""
    d = a / math.sqrt(sum(i * i for i in hkl))
    return d if sum(hkl) % 2 == 0 else d / 2


@pytest.fixture(scope="module", params=FACETS, ids=lambda hkl: "".join(map(str, hkl)))
def slab(request):
    return request.param, make_symmetric_slab(A, request.param, 6.0, 8.0)


def test_normal_along_z_and_ab_in_plane(slab):
    hkl, s = slab
    m = s.lattice.matrix
    assert np.allclose(m[:2, 2], 0.0, atol=1e-8)
    assert np.allclose(m[2, :2], 0.0, atol=1e-8) and m[2, 2] > 0
    # one atomic plane holds one atom per Ω/d of area (Ω = a³/2 per atom): the in-plane cell is that many of them
    per_plane = len(s) / count_layers(s)
    assert np.linalg.norm(np.cross(m[0], m[1])) == pytest.approx(per_plane * A**3 / 2 / d_spacing(hkl), rel=1e-9)
    assert np.all((s.frac_coords >= -1e-9) & (s.frac_coords < 1 + 1e-9))


def test_slab_is_symmetric_and_centred(slab):
    _, s = slab
    assert s.is_symmetric()
    z = np.sort(s.cart_coords[:, 2])
    centre = 0.5 * (z[0] + z[-1])
    assert np.allclose(np.sort(2 * centre - z), z, atol=1e-6)
    assert centre == pytest.approx(0.5 * s.lattice.c, abs=0.05)


def test_layers_are_bcc_planes(slab):
    hkl, s = slab
    n = count_layers(s)
    z = np.sort(s.cart_coords[:, 2])
    d = d_spacing(hkl)
    assert n * d >= 6.0  # pymatgen's slab size counts n planes of spacing d
    assert z[-1] - z[0] == pytest.approx((n - 1) * d, abs=1e-6)
    assert len(s) % n == 0  # same number of atoms in every plane
    assert s.lattice.c - (z[-1] - z[0]) >= 8.0
    assert nearest_neighbour_distance(s) == pytest.approx(A * math.sqrt(3) / 2, abs=1e-6)


def test_100_layer_count():
    s = make_symmetric_slab(A, (1, 0, 0), 6.0, 8.0)
    # d100 = a/2 = 1.72 Å; the oriented cell holds 2 planes (a = 3.44 Å), ceil(6 / 3.44) = 2 cells
    assert count_layers(s) == 4
    assert len(s) == 4
    assert s.lattice.a == pytest.approx(A) and s.lattice.b == pytest.approx(A)


def test_equivalent_miller_indices_give_the_same_slab():
    s1 = make_symmetric_slab(A, (1, 1, 0), 6.0, 8.0)
    s2 = make_symmetric_slab(A, (0, 1, 1), 6.0, 8.0)
    assert np.allclose(s1.lattice.abc, s2.lattice.abc) and len(s1) == len(s2)


@pytest.mark.parametrize("min_lateral", [5.0, 7.0, 10.0])
def test_lateral_repeats_meet_the_minimum_and_are_smallest(slab, min_lateral):
    _, s = slab
    nx, ny = lateral_repeats(s, min_lateral)
    a, b = s.lattice.matrix[0, :2], s.lattice.matrix[1, :2]

    def sizes(n1, n2):
        va, vb = n1 * a, n2 * b
        area = abs(va[0] * vb[1] - va[1] * vb[0])
        return np.linalg.norm(va), np.linalg.norm(vb), area / np.linalg.norm(vb), area / np.linalg.norm(va)

    assert min(sizes(nx, ny)) >= min_lateral - 1e-9
    if nx > 1:
        assert min(sizes(nx - 1, ny)) < min_lateral
    if ny > 1:
        assert min(sizes(nx, ny - 1)) < min_lateral


def test_lateral_repeats_oblique_cell():
    s = make_symmetric_slab(A, (1, 1, 0), 6.0, 8.0)
    assert s.lattice.gamma == pytest.approx(109.47, abs=0.01)  # primitive rhombic (110) cell
    # |a| = |b| = 2.979 Å but the width across the cell is only 2.809 Å
    assert lateral_repeats(s, 5.9) == (3, 3)
    assert lateral_repeats(s, 5.5) == (2, 2)


@pytest.mark.parametrize(("hkl", "distance", "expected"), [((1, 1, 0), 5.9, (2, 2)), ((1, 1, 0), 6.0, (3, 3)), ((1, 1, 1), 5.9, (2, 2)), ((1, 0, 0), 7.0, (3, 3))])
def test_image_repeats_is_the_smallest_cell_with_images_that_far_apart(hkl, distance, expected):
    """Brute force over every nx x ny cell: the images' distance is the shortest of i*nx*a + j*ny*b."""
    s = make_symmetric_slab(A, hkl, 6.0, 8.0)
    a, b = s.lattice.matrix[0, :2], s.lattice.matrix[1, :2]

    def images(nx, ny):
        return min(np.linalg.norm(i * nx * a + j * ny * b) for i in range(-8, 9) for j in range(-8, 9) if (i, j) != (0, 0))

    ok = [(nx * ny, (nx, ny)) for nx in range(1, 6) for ny in range(1, 6) if images(nx, ny) >= distance]
    assert image_repeats(s, distance) == expected
    assert images(*expected) >= distance and expected[0] * expected[1] == min(ok)[0]


def test_110_adatom_cells_are_2x2_when_images_need_less_than_sqrt3_a():
    """(110) 2x2: images √3·a = 5.96 Å apart (width 5.62 Å); lateral_repeats' width rule would take 3x3."""
    s = make_symmetric_slab(3.44, (1, 1, 0), 6.0, 8.0)
    assert shortest_inplane_translation(s, (2, 2)) == pytest.approx(3.44 * np.sqrt(3), abs=1e-3)
    assert image_repeats(s, 5.9) == (2, 2) and lateral_repeats(s, 5.9) == (3, 3)


def test_inplane_minimum_image_oblique():
    s = make_symmetric_slab(A, (1, 1, 0), 6.0, 8.0)
    m = s.lattice.matrix
    vectors = np.random.default_rng(3).uniform(-10.0, 10.0, size=(200, 2))
    shortest = inplane_minimum_image(m, vectors)
    shifts = np.array([[i, j] for i in range(-6, 7) for j in range(-6, 7)]) @ m[:2, :2]
    brute = np.min(np.linalg.norm(vectors[:, None, :] + shifts[None, :, :], axis=2), axis=1)
    assert np.allclose(np.linalg.norm(shortest, axis=1), brute, atol=1e-9)
    # each result is the input moved by a lattice vector
    frac = np.linalg.solve(m[:2, :2].T, (shortest - vectors).T).T
    assert np.allclose(frac, np.round(frac), atol=1e-9)


def test_add_adatom():
    s = make_symmetric_slab(A, (1, 0, 0), 6.0, 8.0)
    out = add_adatom(s, [0.5, 0.5, 12.0])
    assert len(out) == len(s) + 1 and len(s) == 4
    assert np.allclose(out.cart_coords[-1], [0.5, 0.5, 12.0])


def test_100_sites_are_ontop_bridge_hollow():
    s = make_symmetric_slab(A, (1, 0, 0), 6.0, 8.0)
    s.make_supercell([3, 3, 1])
    sites = top_surface_sites(s)
    assert {k: len(v) for k, v in sites.items()} == {"ontop": 1, "bridge": 1, "hollow": 1}
    top = s.cart_coords[s.cart_coords[:, 2] > s.cart_coords[:, 2].max() - 0.1]
    for kind, fold, dist in [("ontop", 1, 0.0), ("bridge", 2, A / 2), ("hollow", 4, A / math.sqrt(2))]:
        lateral = np.linalg.norm(inplane_minimum_image(s.lattice.matrix, top - sites[kind][0]), axis=1)
        assert np.count_nonzero(np.isclose(lateral, dist, atol=1e-6)) == fold


def test_first_adatom_cell_puts_li_in_the_hollow():
    s = make_symmetric_slab(A, (1, 0, 0), 6.0, 8.0)
    cells = adatom_slabs(s, 7.0)
    assert [label for label, _ in cells] == ["hollow-0", "bridge-0", "ontop-0"]
    cell = cells[0][1]
    assert len(cell) == 3 * 3 * len(s) + 1
    adatom = cell.cart_coords[-1]
    slab_z = cell.cart_coords[:-1, 2]
    assert adatom[2] == pytest.approx(slab_z.max() + A / 2, abs=1e-6)  # 4-fold hollow of bcc(100)
    distances = [cell.get_distance(len(cell) - 1, i) for i in range(len(cell) - 1)]
    assert min(distances) == pytest.approx(A * math.sqrt(3) / 2, abs=1e-6)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((A, (0, 0, 0), 6.0, 8.0), r"\(0, 0, 0\)"),
        ((0.0, (1, 0, 0), 6.0, 8.0), "positive"),
        ((-3.4, (1, 1, 0), 6.0, 8.0), "positive"),
        ((A, (1, 0), 6.0, 8.0), "three integers"),
        ((A, (1, 0, 0), 0.0, 8.0), "positive"),
    ],
)
def test_impossible_input(args, match):
    with pytest.raises(InputError, match=match):
        make_symmetric_slab(*args)


def test_lateral_repeats_rejects_non_positive():
    with pytest.raises(InputError, match="min_lateral_A = 0.0 Å: must be positive"):
        lateral_repeats(make_symmetric_slab(A, (1, 0, 0), 6.0, 8.0), 0.0)
