"""The periodic graph of stable adatom sites on a facet, and the bottleneck barrier of long-range transport.

Nodes are the copies, in the slab's (super)cell, of the sites that are minima; edges join two
copies (one of them possibly in a neighbouring cell, with the integer cell offset (i, j) of
the end) whose in-plane distance is within a cutoff: every distance shell up to the cutoff,
not only the nearest copy. Edges related by a top-surface symmetry operation of the slab
(plus a lattice translation), in either direction, form one class, and one CI-NEB per class
gives the barriers of all its edges.

Written here by hand, because no library covers it: pymatgen and ASE reduce sites, not
paths, by symmetry, and graph libraries (networkx, scipy.sparse.csgraph) know neither
periodic images nor bottleneck paths on a periodic graph. Two small algorithms are used:

- *Percolation* of a periodic ("quotient") graph: a breadth-first search from a node gives
  each reached node the cell offset of the copy reached first; every other edge met closes a
  cycle whose net offset is a period of the component. The component connects a site to its
  own image along surface vector a (b) iff (1, 0) ((0, 1)) lies in the integer lattice
  spanned by those periods (Hermite normal form in 2D).
- *Minimax (bottleneck) barrier*: edges are weighted by their saddle energy; the smallest
  threshold at which the subgraph of edges at or below it connects the ground site to its
  own image along a direction (found by bisection over the sorted saddle energies, each
  step a percolation test) is the saddle of the easiest long-range path; minus the ground
  energy it is the effective barrier. The path itself is found by a breadth-first search on
  the unfolded (lifted) graph.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from math import gcd
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from pymatgen.core.operations import SymmOp

MIN_HOP_A = 0.1
"""Copies closer than this in-plane (Å) are one site: no edge between them."""
MATCH_TOL_A = 0.1
"""A symmetry image of a site lies on a node if it is closer than this in-plane (Å)."""
DIRECTIONS: dict[str, tuple[int, int]] = {"a": (1, 0), "b": (0, 1)}
"""Surface lattice vectors of the cell, as cell offsets."""


@dataclass(frozen=True)
class SiteNode:
    """One copy of a stable site in the cell (Cartesian position, Å)."""

    label: str
    position_A: tuple[float, float, float]


@dataclass(frozen=True)
class GraphEdge:
    """Edge from node ``start`` to the copy of node ``end`` in the cell shifted by ``offset`` (i, j)."""

    start: int
    end: int
    offset: tuple[int, int]
    distance_A: float


@dataclass(frozen=True)
class EdgeClass:
    """Symmetry-equivalent edges: the representative's index and ``(edge index, reversed)`` of every member.

    ``reversed`` is True when the symmetry operation maps the representative's start onto the
    member's end: the member's forward barrier is then the representative's reverse barrier.
    """

    representative: int
    members: tuple[tuple[int, bool], ...]


@dataclass(frozen=True)
class SiteGraph:
    """Stable-site copies of a cell and the edges between neighbouring copies within ``cutoff_A``."""

    cell: np.ndarray
    nodes: list[SiteNode]
    edges: list[GraphEdge]
    classes: list[EdgeClass]
    cutoff_A: float

    def end_position(self, edge: GraphEdge) -> np.ndarray:
        """Cartesian position (Å) of the end copy of ``edge`` (in the neighbouring cell for a non-zero offset)."""
        shift = np.asarray(edge.offset, dtype=float) @ np.asarray(self.cell, dtype=float)[:2, :2]
        end = np.asarray(self.nodes[edge.end].position_A, dtype=float).copy()
        end[:2] += shift
        return end


@dataclass(frozen=True)
class WeightedEdge:
    """An edge of the minimax search: ``start`` -> ``end`` (+ ``offset``), its saddle energy and what it is."""

    start: int
    end: int
    offset: tuple[int, int]
    saddle_eV: float
    mechanism: str = "hop"


@dataclass(frozen=True)
class EffectiveBarrier:
    """Bottleneck barrier along one surface direction, with its path (``"start->end (mechanism)"`` per step)."""

    barrier_eV: float | None
    path: list[str]
    mechanism: str | None


def _plane(cell: np.ndarray) -> np.ndarray:
    return np.asarray(cell, dtype=float)[:2, :2]


def site_nodes(site_copies: Mapping[str, Sequence[Sequence[float]]], labels: Sequence[str]) -> list[SiteNode]:
    """Return every copy of the sites ``labels`` (in that order, representative first) as a node."""
    return [
        SiteNode(label, tuple(float(x) for x in position)) for label in labels for position in site_copies[label]
    ]


def locate(nodes: Sequence[SiteNode], cell: np.ndarray, position: Sequence[float], tol: float = MATCH_TOL_A) -> tuple[int, tuple[int, int]] | None:
    """Return the node on which ``position`` lies (in-plane) and the cell offset of that copy, or None.

    Parameters
    ----------
    nodes
        The graph's nodes.
    cell
        Lattice matrix (rows a, b, c) with a, b in the xy plane.
    position
        Cartesian position (Å), anywhere in the plane.
    tol
        Largest in-plane distance (Å) from the node's copy.
    """
    plane = _plane(cell)
    xy = np.array([node.position_A[:2] for node in nodes], dtype=float)
    frac = np.linalg.solve(plane.T, (np.asarray(position, dtype=float)[:2] - xy).T).T  # (N, 2)
    offsets = np.round(frac)
    residual = np.linalg.norm((frac - offsets) @ plane, axis=1)
    best = int(np.argmin(residual))
    if residual[best] > tol:
        return None
    return best, (int(offsets[best, 0]), int(offsets[best, 1]))


def neighbour_edges(
    nodes: Sequence[SiteNode], cell: np.ndarray, cutoff_A: float, min_hop_A: float = MIN_HOP_A
) -> list[GraphEdge]:
    """List every pair of node copies (periodic images included) within ``cutoff_A`` in-plane, once.

    An edge (i, j, offset) is the same as (j, i, −offset); the one with i < j (or, for
    i = j, the lexicographically positive offset) is kept.

    Parameters
    ----------
    nodes
        Stable-site copies of the cell.
    cell
        Lattice matrix (rows a, b, c) with a, b in the xy plane.
    cutoff_A
        Largest in-plane edge length (Å).
    min_hop_A
        Copies closer than this are the same site.

    Returns
    -------
    list[GraphEdge]
        Sorted by start node, then length.
    """
    plane = _plane(cell)
    heights = 1.0 / np.linalg.norm(np.linalg.inv(plane), axis=0)  # spacing of the lattice lines along a, b
    reach = [int(np.ceil(cutoff_A / h)) + 1 for h in heights]
    offsets = np.array([(i, j) for i in range(-reach[0], reach[0] + 1) for j in range(-reach[1], reach[1] + 1)])
    shifts = offsets @ plane
    xy = np.array([node.position_A[:2] for node in nodes], dtype=float)
    edges: list[GraphEdge] = []
    for i in range(len(nodes)):
        found = []
        for j in range(i, len(nodes)):
            distances = np.linalg.norm(xy[j] - xy[i] + shifts, axis=1)
            for k in np.flatnonzero((distances > min_hop_A) & (distances <= cutoff_A)):
                offset = (int(offsets[k, 0]), int(offsets[k, 1]))
                if i == j and offset < (0, 0):
                    continue
                found.append(GraphEdge(i, j, offset, float(distances[k])))
        edges += sorted(found, key=lambda e: (round(e.distance_A, 6), e.end, e.offset))
    return edges


def segment_orbit(
    nodes: Sequence[SiteNode],
    cell: np.ndarray,
    operations: Sequence[SymmOp],
    start: Sequence[float],
    end: Sequence[float],
    tol: float = MATCH_TOL_A,
) -> list[tuple[int, int, tuple[int, int]]]:
    """Return the edges ``(start node, end node, offset)`` onto which the operations map the segment start -> end.

    The identity is always included. Each (fractional) operation acts on the unwrapped
    fractional coordinates of both points, so the image is a continuous segment; its end's
    cell offset relative to its start's copy is the edge offset. Images whose points do not
    both lie on nodes are skipped.
    """
    cell = np.asarray(cell, dtype=float)
    inverse = np.linalg.inv(cell)
    points = np.array([start, end], dtype=float)
    frac = points @ inverse
    images = [points]
    for op in operations:
        images.append(np.array([op.operate(f) for f in frac]) @ cell)
    orbit: list[tuple[int, int, tuple[int, int]]] = []
    for first, last in images:
        a = locate(nodes, cell, first, tol)
        b = locate(nodes, cell, last, tol)
        if a is None or b is None:
            continue
        key = (a[0], b[0], (b[1][0] - a[1][0], b[1][1] - a[1][1]))
        if key not in orbit:
            orbit.append(key)
    return orbit


def edge_classes(
    nodes: Sequence[SiteNode], edges: Sequence[GraphEdge], cell: np.ndarray, operations: Sequence[SymmOp]
) -> list[EdgeClass]:
    """Group the edges into symmetry classes (an operation plus a lattice translation maps one onto the other).

    Both orientations count: an edge mapped onto the reverse of another is in its class,
    flagged ``reversed``. The first edge of each class (in ``edges`` order) is its
    representative.
    """
    index: dict[tuple[int, int, tuple[int, int]], tuple[int, bool]] = {}
    for k, edge in enumerate(edges):
        index[(edge.start, edge.end, edge.offset)] = (k, False)
        index.setdefault((edge.end, edge.start, (-edge.offset[0], -edge.offset[1])), (k, True))
    assigned: set[int] = set()
    classes: list[EdgeClass] = []
    plane = _plane(cell)
    for k, edge in enumerate(edges):
        if k in assigned:
            continue
        start = np.asarray(nodes[edge.start].position_A, dtype=float)
        end = np.asarray(nodes[edge.end].position_A, dtype=float).copy()
        end[:2] += np.asarray(edge.offset, dtype=float) @ plane
        members: list[tuple[int, bool]] = [(k, False)]
        assigned.add(k)
        for key in segment_orbit(nodes, cell, operations, start, end):
            member = index.get(key)
            if member is not None and member[0] not in assigned:
                members.append(member)
                assigned.add(member[0])
        classes.append(EdgeClass(k, tuple(members)))
    return classes


def build_site_graph(
    site_copies: Mapping[str, Sequence[Sequence[float]]],
    labels: Sequence[str],
    cell: np.ndarray,
    cutoff_A: float,
    operations: Sequence[SymmOp] = (),
) -> SiteGraph:
    """Build the site graph of the sites ``labels`` with edges up to ``cutoff_A`` and their symmetry classes.

    Parameters
    ----------
    site_copies
        Label -> Cartesian positions (Å) of every symmetry copy in the cell, representative first.
    labels
        The stable sites (minima) that become nodes.
    cell
        Lattice matrix (rows a, b, c) with a, b in the xy plane.
    cutoff_A
        Largest in-plane edge length (Å).
    operations
        Fractional top-surface symmetry operations
        (:func:`li_campaign.geometry.slabs.top_surface_operations`); none: every edge
        is its own class.

    Returns
    -------
    SiteGraph
    """
    nodes = site_nodes(site_copies, labels)
    edges = neighbour_edges(nodes, cell, cutoff_A)
    return SiteGraph(np.asarray(cell, dtype=float), nodes, edges, edge_classes(nodes, edges, cell, operations), cutoff_A)


# -- periodic connectivity ------------------------------------------------------------------------


def _hermite(vectors: Sequence[Sequence[int]]) -> tuple[int, int, int]:
    """Hermite normal form ``(a, b, d)`` of the 2D integer lattice spanned by ``vectors``: basis (a, b), (0, d)."""
    first: list[int] | None = None
    rest: list[list[int]] = []
    for vector in vectors:
        row = [int(vector[0]), int(vector[1])]
        if row == [0, 0]:
            continue
        if row[0] == 0:
            rest.append(row)
            continue
        if first is None:
            first = row
            continue
        x, y = first, row
        while y[0] != 0:  # Euclid on the first column
            q = x[0] // y[0]
            x, y = y, [x[0] - q * y[0], x[1] - q * y[1]]
        first = x
        rest.append(y)
    d = 0
    for row in rest:
        d = gcd(d, abs(row[1]))
    if first is None:
        return 0, 0, d
    a, b = first if first[0] > 0 else [-first[0], -first[1]]
    return a, (b % d if d else b), d


def lattice_contains(vectors: Sequence[Sequence[int]], target: Sequence[int]) -> bool:
    """Whether the integer vector ``target`` is an integer combination of ``vectors`` (2D)."""
    a, b, d = _hermite(vectors)
    t0, t1 = int(target[0]), int(target[1])
    if a == 0:
        if t0 != 0:
            return False
        return t1 == 0 if d == 0 else t1 % d == 0
    if t0 % a:
        return False
    rest = t1 - (t0 // a) * b
    return rest == 0 if d == 0 else rest % d == 0


def _adjacency(n_nodes: int, edges: Sequence[GraphEdge | WeightedEdge]) -> list[list[tuple[int, tuple[int, int], int, bool]]]:
    """Per node: (neighbour, offset to it, edge index, traversed forward) for both directions of every edge."""
    adjacency: list[list[tuple[int, tuple[int, int], int, bool]]] = [[] for _ in range(n_nodes)]
    for k, edge in enumerate(edges):
        adjacency[edge.start].append((edge.end, tuple(edge.offset), k, True))
        adjacency[edge.end].append((edge.start, (-edge.offset[0], -edge.offset[1]), k, False))
    return adjacency


def periods(n_nodes: int, edges: Sequence[GraphEdge | WeightedEdge], root: int) -> tuple[set[int], list[tuple[int, int]]]:
    """Nodes reached from ``root`` and the net cell offsets of the cycles of its component.

    Every closed walk of the component, unfolded, ends at the copy of its start shifted by an
    integer combination of the returned offsets (and every combination is reached).
    """
    potential: dict[int, tuple[int, int]] = {root: (0, 0)}
    adjacency = _adjacency(n_nodes, edges)
    queue = deque([root])
    found: list[tuple[int, int]] = []
    while queue:
        node = queue.popleft()
        for other, offset, _, _ in adjacency[node]:
            shifted = (potential[node][0] + offset[0], potential[node][1] + offset[1])
            if other not in potential:
                potential[other] = shifted
                queue.append(other)
            else:
                cycle = (shifted[0] - potential[other][0], shifted[1] - potential[other][1])
                if cycle != (0, 0):
                    found.append(cycle)
    return set(potential), found


def percolation(n_nodes: int, edges: Sequence[GraphEdge | WeightedEdge], root: int) -> dict[str, bool]:
    """Whether the edges connect node ``root`` to its own image one cell away along a and along b."""
    _, cycles = periods(n_nodes, edges, root)
    return {name: lattice_contains(cycles, step) for name, step in DIRECTIONS.items()}


def lifted_path(
    n_nodes: int, edges: Sequence[GraphEdge | WeightedEdge], root: int, step: tuple[int, int]
) -> list[tuple[int, bool]] | None:
    """Fewest-edge walk from ``root`` to its copy shifted by ``step``, as ``(edge index, forward)``; None if none.

    Breadth-first search on the unfolded graph (states: node and cell offset), with offsets
    bounded by ``n_nodes + 2`` cells, more than a shortest walk needs.
    """
    bound = n_nodes + 2 + max(abs(step[0]), abs(step[1]))
    adjacency = _adjacency(n_nodes, edges)
    start, goal = (root, 0, 0), (root, step[0], step[1])
    previous: dict[tuple[int, int, int], tuple[tuple[int, int, int], int, bool] | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        if state == goal:
            walk = []
            while previous[state] is not None:
                state, k, forward = previous[state]
                walk.append((k, forward))
            return walk[::-1]
        node, i, j = state
        for other, offset, k, forward in adjacency[node]:
            nxt = (other, i + offset[0], j + offset[1])
            if nxt in previous or max(abs(nxt[1]), abs(nxt[2])) > bound:
                continue
            previous[nxt] = (state, k, forward)
            queue.append(nxt)
    return None


def bottleneck(
    n_nodes: int, edges: Sequence[WeightedEdge], root: int, step: tuple[int, int]
) -> tuple[float | None, list[tuple[int, bool]]]:
    """Smallest saddle threshold at which the edges up to it connect ``root`` to its image shifted by ``step``.

    Returns
    -------
    tuple[float | None, list[tuple[int, bool]]]
        The threshold (eV, same reference as ``saddle_eV``), None if even all edges do not
        connect; and a walk ``(edge index, forward)`` that stays at or below it.
    """

    def connects(threshold: float) -> bool:
        kept = [edge for edge in edges if edge.saddle_eV <= threshold]
        return lattice_contains(periods(n_nodes, kept, root)[1], step)

    levels = sorted({edge.saddle_eV for edge in edges})
    if not levels or not connects(levels[-1]):
        return None, []
    low, high = 0, len(levels) - 1
    while low < high:
        middle = (low + high) // 2
        if connects(levels[middle]):
            high = middle
        else:
            low = middle + 1
    threshold = levels[low]
    kept = [k for k, edge in enumerate(edges) if edge.saddle_eV <= threshold]
    walk = lifted_path(n_nodes, [edges[k] for k in kept], root, step) or []
    return threshold, [(kept[k], forward) for k, forward in walk]


def effective_barriers(
    nodes: Sequence[SiteNode], edges: Sequence[WeightedEdge], ground_energy_eV: float, root: int
) -> dict[str, EffectiveBarrier]:
    """Minimax barrier of long-range transport from node ``root`` along a and along b.

    Parameters
    ----------
    nodes
        The graph's nodes (for the labels of the path).
    edges
        Edges with their absolute saddle energies (eV).
    ground_energy_eV
        Absolute energy of the lowest stable site, the reference of the barrier.
    root
        A copy of the ground site.

    Returns
    -------
    dict[str, EffectiveBarrier]
        Keys ``"a"`` and ``"b"``; ``barrier_eV`` None where the edges do not percolate along
        that direction. ``mechanism`` is ``hop`` or ``exchange`` if every step of the path is
        one, else ``mixed``.
    """
    out = {}
    for name, step in DIRECTIONS.items():
        saddle, walk = bottleneck(len(nodes), edges, root, step)
        if saddle is None:
            out[name] = EffectiveBarrier(None, [], None)
            continue
        path, kinds = [], []
        for k, forward in walk:
            edge = edges[k]
            first, last = (edge.start, edge.end) if forward else (edge.end, edge.start)
            path.append(f"{nodes[first].label}->{nodes[last].label} ({edge.mechanism})")
            kinds.append(edge.mechanism)
        mechanism = kinds[0] if kinds and len(set(kinds)) == 1 else "mixed"
        out[name] = EffectiveBarrier(saddle - ground_energy_eV, path, mechanism)
    return out
