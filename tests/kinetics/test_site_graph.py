"""The periodic site graph: edges by distance shells, symmetry classes, percolation and the minimax barrier."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Structure

from li_campaign.geometry.slabs import top_surface_operations
from li_campaign.geometry.slabs import make_symmetric_slab
from li_campaign.kinetics.site_graph import (
    SiteNode,
    WeightedEdge,
    build_site_graph,
    effective_barriers,
    lattice_contains,
    percolation,
)
from li_campaign.schemas.spec import FanOutSpec

A = 3.44  # bcc Li (Å)
D_NN = A * np.sqrt(3) / 2


def square(n: int = 3, spacing: float = 1.0) -> tuple[dict, np.ndarray]:
    cell = np.diag([n * spacing, n * spacing, 20.0])
    return {"s-0": [[(i + 0.5) * spacing, (j + 0.5) * spacing, 10.0] for i in range(n) for j in range(n)]}, cell


def test_square_lattice_percolates_both_ways():
    copies, cell = square()
    graph = build_site_graph(copies, ["s-0"], cell, 1.05)
    assert len(graph.nodes) == 9 and len(graph.edges) == 18  # 4 neighbours per node, each edge once
    assert {round(e.distance_A, 6) for e in graph.edges} == {1.0}
    assert percolation(len(graph.nodes), graph.edges, 0) == {"a": True, "b": True}
    # the next shell (√2) enters with a larger cutoff: distance shells, not only the nearest copy
    wider = build_site_graph(copies, ["s-0"], cell, 1.5)
    assert len(wider.edges) == 36 and {round(e.distance_A, 3) for e in wider.edges} == {1.0, 1.414}


def test_one_site_per_cell_links_to_its_own_images():
    graph = build_site_graph({"s-0": [[0.2, 0.3, 5.0]]}, ["s-0"], np.diag([2.0, 3.0, 20.0]), 3.1)
    assert sorted(e.offset for e in graph.edges) == [(0, 1), (1, 0)]  # 2 Å along a, 3 Å along b; (1, ±1) at 3.6 Å out
    assert percolation(1, graph.edges, 0) == {"a": True, "b": True}


def test_chain_percolates_only_along_its_direction():
    cell = np.diag([3.0, 5.0, 20.0])
    graph = build_site_graph({"c-0": [[i + 0.5, 1.0, 10.0] for i in range(3)]}, ["c-0"], cell, 1.2)
    assert len(graph.edges) == 3
    assert percolation(3, graph.edges, 0) == {"a": True, "b": False}
    barriers = effective_barriers(graph.nodes, [WeightedEdge(e.start, e.end, e.offset, 0.2) for e in graph.edges], 0.0, 0)
    assert barriers["a"].barrier_eV == pytest.approx(0.2) and len(barriers["a"].path) == 3
    assert barriers["b"].barrier_eV is None and barriers["b"].path == [] and barriers["b"].mechanism is None


def test_lattice_membership_from_cycle_offsets():
    assert lattice_contains([(2, 0), (3, 0)], (1, 0))  # gcd: two long cycles give the short period
    assert not lattice_contains([(2, 0)], (1, 0))
    assert lattice_contains([(1, 1), (1, -1), (2, 0)], (2, 0)) and not lattice_contains([(1, 1), (1, -1)], (1, 0))
    assert lattice_contains([(1, 1), (0, 1)], (1, 0)) and lattice_contains([(1, 1), (0, 1)], (0, 1))
    assert not lattice_contains([], (0, 1))


def test_minimax_on_a_hand_made_graph():
    """One site per 1 × 1 cell: a-hop saddle 0.3, b-hop 0.5, diagonal 0.4 eV (ground at 0).

    Along a the a-hop suffices (0.3); along b the diagonal then the a-hop back, (1, 1) − (1, 0),
    stays below the direct b-hop: 0.4.
    """
    nodes = [SiteNode("h-0", (0.0, 0.0, 5.0))]
    edges = [
        WeightedEdge(0, 0, (1, 0), 0.3),
        WeightedEdge(0, 0, (0, 1), 0.5),
        WeightedEdge(0, 0, (1, 1), 0.4, "exchange"),
    ]
    barriers = effective_barriers(nodes, edges, 0.0, 0)
    assert barriers["a"].barrier_eV == pytest.approx(0.3) and barriers["a"].mechanism == "hop"
    assert barriers["b"].barrier_eV == pytest.approx(0.4) and barriers["b"].mechanism == "mixed"
    assert sorted(barriers["b"].path) == ["h-0->h-0 (exchange)", "h-0->h-0 (hop)"]


def test_minimax_through_an_intermediate_site():
    """Ground g (0 eV) and a metastable m (0.1 eV) per cell, chain along a: g–m saddle 0.25, m–g' saddle 0.35,
    direct g–g' saddle 0.6. The bottleneck is 0.35 above the ground, through m; the lowest single hop is 0.25."""
    nodes = [SiteNode("g-0", (0.0, 0.0, 5.0)), SiteNode("m-0", (1.0, 0.0, 5.0))]
    edges = [WeightedEdge(0, 1, (0, 0), 0.25), WeightedEdge(1, 0, (1, 0), 0.35), WeightedEdge(0, 0, (1, 0), 0.6)]
    barriers = effective_barriers(nodes, edges, 0.0, 0)
    assert barriers["a"].barrier_eV == pytest.approx(0.35)
    assert barriers["a"].path == ["g-0->m-0 (hop)", "m-0->g-0 (hop)"]
    assert barriers["b"].barrier_eV is None
    # shifting the reference shifts the barrier
    assert effective_barriers(nodes, edges, -0.1, 0)["a"].barrier_eV == pytest.approx(0.45)


def _ontop_graph(hkl: tuple[int, int, int], cutoff_nn: float):
    """Nodes: the top-layer atoms of a 2 × 2 bcc slab (as sites), with the slab's top-surface operations."""
    slab = make_symmetric_slab(A, hkl, 6.0, 10.0)
    slab = Structure(slab.lattice, slab.species, slab.frac_coords)
    slab.make_supercell([2, 2, 1])
    z = slab.cart_coords[:, 2]
    top = [list(p) for p in slab.cart_coords[np.abs(z - z.max()) < 0.1]]
    return build_site_graph({"ontop-0": top}, ["ontop-0"], slab.lattice.matrix, cutoff_nn * D_NN, top_surface_operations(slab))


def test_symmetry_classes_on_100_and_110():
    # (100): the square net of side a = 1.155 d_nn; up to 1.25 d_nn one class (4 neighbours per atom)
    graph = _ontop_graph((1, 0, 0), 1.25)
    assert len(graph.nodes) == 4 and len(graph.edges) == 8 and len(graph.classes) == 1
    # up to 1.7 d_nn the diagonals (√2 a = 1.63 d_nn) form a second class
    graph = _ontop_graph((1, 0, 0), 1.7)
    assert sorted(len(c.members) for c in graph.classes) == [8, 8]
    # (110): centred rectangular net: 4 neighbours at d_nn (one class, though along two directions), 2 at a
    graph = _ontop_graph((1, 1, 0), 1.25)
    lengths = sorted((round(graph.edges[c.representative].distance_A / D_NN, 3), len(c.members)) for c in graph.classes)
    assert lengths == [(1.0, 2 * len(graph.nodes)), (1.155, len(graph.nodes))]
    # every edge is in exactly one class
    members = sorted(k for c in graph.classes for k, _ in c.members)
    assert members == list(range(len(graph.edges)))


def test_hop_cutoff_spec():
    from pydantic import ValidationError

    spec = FanOutSpec()
    assert spec.hops.max_hop_nn == 1.25
    assert spec.hops.max_hop_nn * D_NN > A  # the (100) hollow-hollow hop and the (211) trough hop (d_nn) are in
    with pytest.raises(ValidationError, match=r"hops\.max_hop_nn\n  Input should be greater than 0\.3"):
        FanOutSpec.model_validate({"hops": {"max_hop_nn": 0.1}})
    with pytest.raises(ValidationError, match=r"hops\.max_hop\n  Extra inputs are not permitted"):
        FanOutSpec.model_validate({"hops": {"max_hop": 2.0}})
