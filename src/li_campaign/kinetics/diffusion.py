"""Surface-diffusion barriers of a Li adatom: hops between neighbouring stable sites and exchanges (ASE CI-NEB).

Every band runs through :func:`li_campaign.kinetics.neb.converged_neb`, which refines the
image count until the barrier converges; exchange paths come from
:mod:`li_campaign.kinetics.exchange`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from ase import Atom
from pymatgen.core import Structure

from li_campaign.geometry.slabs import inplane_minimum_image, top_surface_operations
from li_campaign.kinetics.exchange import enumerate_exchanges, exchange_endpoints
from li_campaign.kinetics.neb import converged_neb
from li_campaign.kinetics.site_graph import (
    SiteGraph,
    WeightedEdge,
    build_site_graph,
    effective_barriers,
    locate,
    neighbour_edges,
    percolation,
    segment_orbit,
    site_nodes,
)
from li_campaign.schemas.kinetics import Hop
from li_campaign.schemas.surfaces import AdsorptionSite
from li_campaign.simulation.relax import atoms_to_structure, relax_atoms, structure_to_atoms

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ase import Atoms
    from ase.calculators.calculator import Calculator

    from li_campaign.kinetics.site_graph import SiteNode
    from li_campaign.schemas.spec import FanOutSpec, NebConvergenceSpec, NebSpec, RelaxSpec

MIN_HOP_A = 0.1
"""Site copies closer than this (Å) to the start are the start itself."""
SHELL_TOL_A = 1e-3
"""Copies whose distances differ by less than this (Å) are in one distance shell of the site graph."""
ENDPOINT_DRIFT_TOL_A = 0.5  # Å; the site re-check only: a freely relaxed site further than this from itself is not a minimum
# NEB endpoints are judged relative to the hop instead (NebSpec.max_endpoint_drift_fraction and
# min_endpoint_separation_fraction, see neb_path): 0.5 Å is more than half the 0.81 Å hollow–bridge hop of
# (110), so both endpoints of that hop could relax into one minimum and pass an absolute rule.


@dataclass(frozen=True)
class HopPath:
    """One hop to compute: the representative edge of a symmetry class of the site graph.

    ``end_position_A`` is the end copy in the cell shifted by ``offset`` (i, j) from the
    start's, so the straight line between the two positions is the hop (it may lie outside
    the cell). ``edge_class`` indexes :attr:`SiteGraph.classes`; ``n_edges`` is the number of
    edges of the cell's graph in the class (all get this NEB's barriers).
    """

    start: str
    end: str
    distance_A: float
    start_position_A: tuple[float, float, float]
    end_position_A: tuple[float, float, float]
    offset: tuple[int, int] = (0, 0)
    edge_class: int = 0
    n_edges: int = 1


def enumerate_hops(graph: SiteGraph) -> list[HopPath]:
    """List one hop per symmetry-distinct edge class of the site graph (its representative edge).

    Replaces the former rule (per pair of site types only the nearest periodic copy, hops
    longer than 1.6 × the shortest dropped, equal (start, end, length) taken as equivalent):
    every edge within the graph's cutoff is a hop, and two are equivalent only if a
    top-surface symmetry operation maps one onto the other
    (:func:`li_campaign.kinetics.site_graph.edge_classes`).

    Parameters
    ----------
    graph
        From :func:`li_campaign.kinetics.site_graph.build_site_graph`.

    Returns
    -------
    list[HopPath]
        In the order of the classes (by start node, then length).
    """
    paths = []
    for k, edge_class in enumerate(graph.classes):
        edge = graph.edges[edge_class.representative]
        start, end = graph.nodes[edge.start], graph.nodes[edge.end]
        paths.append(
            HopPath(
                start=start.label,
                end=end.label,
                distance_A=round(edge.distance_A, 2),
                start_position_A=tuple(float(x) for x in start.position_A),
                end_position_A=tuple(float(x) for x in graph.end_position(edge)),
                offset=edge.offset,
                edge_class=k,
                n_edges=len(edge_class.members),
            )
        )
    return paths


def bulk_neighbour_distance(slab: Atoms) -> float:
    """The bulk nearest-neighbour distance of a slab (Å): the median over atoms of each one's nearest distance.

    The median is the value of the interior, bulk-like atoms; relaxed surface atoms (shorter
    or longer bonds) are a minority in any slab the fan-out builds.
    """
    distances = slab.get_all_distances(mic=True)
    np.fill_diagonal(distances, np.inf)
    return float(np.median(distances.min(axis=1)))


def _with_adatom(slab: Atoms, position: Sequence[float]) -> Atoms:
    atoms = slab.copy()
    atoms.append(Atom("Li", position))
    return atoms


@dataclass(frozen=True)
class DiffusionResult:
    """CI-NEB hops, the paths left out (with the reason), and the site graph the hops are edges of.

    ``edges`` lists, for each hop (by index in ``hops``), the edges ``(start node, end node,
    offset)`` of ``graph`` it stands for, oriented like the hop (its symmetry class; for an
    exchange, the orbit of its net start -> end transfer). ``site_energies_eV`` are the
    absolute energies (eV) of the relaxed stable sites (the lowest of the site re-check and
    of the NEB endpoints at that site).
    """

    hops: list[Hop]
    rejected: list[str]
    graph: SiteGraph | None = None
    edges: dict[int, list[tuple[int, int, tuple[int, int]]]] = field(default_factory=dict)
    site_energies_eV: dict[str, float] = field(default_factory=dict)


def _lateral_drift(atoms: Atoms, target: Sequence[float], index: int = -1) -> float:
    """In-plane distance (minimum image) of atom ``index`` (default the adatom, last) from ``target``."""
    return float(np.linalg.norm(_lateral_offset(atoms, target, index)))


def _lateral_offset(atoms: Atoms, target: Sequence[float], index: int = -1) -> np.ndarray:
    """In-plane vector (minimum image, length 2) from ``target`` to atom ``index``."""
    delta = np.append(atoms.positions[index, :2] - np.asarray(target[:2], dtype=float), 0.0)
    return inplane_minimum_image(atoms.cell.array, delta[None, :])[0][:2]


class NoBarrierError(ValueError):
    """The facet's hop network gives no band to take a barrier from; the message says why.

    Raised when every path between stable sites was left out because its relaxed endpoints
    were not two distinct minima. The job stores a document without a barrier and with the
    reasons (no valid hop, so the network percolates in neither direction) instead of failing.
    """

    def __init__(self, message: str, cutoff_A: float):
        super().__init__(message)
        self.cutoff_A = cutoff_A


class NoHopNetworkError(NoBarrierError):
    """No two stable-site copies lie within the hop cutoff: the facet has no hop network (it does not percolate)."""


class EndpointMovedError(ValueError):
    """The relaxed NEB endpoints are not two distinct minima at their sites: no band is run.

    The message names the path and says why: ``degenerate`` (both endpoints relaxed into one
    minimum) or an endpoint that left its site.
    """


@dataclass(frozen=True)
class EndpointCheck:
    """The relaxed endpoints of a path measured against its sites (all in-plane, Å)."""

    drift_A: float
    """Largest distance of a moving atom from its site in either relaxed endpoint."""
    separation_A: float
    """Smallest distance of a moving atom between the two relaxed endpoints."""
    reason: str | None
    """Why the endpoints are not two distinct minima at their sites; None if they are."""


def check_endpoints(
    initial: Atoms, final: Atoms, targets: Sequence[tuple[int, Sequence[float], Sequence[float]]], neb: NebSpec
) -> EndpointCheck:
    """Judge relaxed endpoints against the hop of each moving atom, in units of that hop's length.

    For each moving atom with sites ``s`` (start) and ``e`` (end), hop length ``L = |e − s|``
    (in-plane, the positions as given, so a hop out of the cell is measured straight):

    * degenerate if the atom's positions in the relaxed endpoints are less than
      ``neb.min_endpoint_separation_fraction · L`` apart (offsets from the sites taken as
      minimum images, so a wrapped atom is handled): both endpoints relaxed into one minimum,
      and a band between them has no barrier to find;
    * left its site if the atom ends further than ``neb.max_endpoint_drift_fraction · L``
      (< 0.5) from its own site in either endpoint: it is then not nearer its own site than
      the other, or sits well away from it, so the endpoint is not the minimum of that site.

    A fixed tolerance in Å cannot do this: 0.5 Å passes both endpoints of the 0.81 Å (110)
    hollow–bridge hop relaxed into the hollow, and is needlessly strict for a 3 Å hop.
    """
    drift, separation, reasons = 0.0, np.inf, []
    for index, first, last in targets:
        hop = np.asarray(last[:2], dtype=float) - np.asarray(first[:2], dtype=float)
        length = max(float(np.linalg.norm(hop)), MIN_HOP_A)
        off_start, off_end = _lateral_offset(initial, first, index), _lateral_offset(final, last, index)
        moved = float(np.linalg.norm(hop + off_end - off_start))
        drifts = float(np.linalg.norm(off_start)), float(np.linalg.norm(off_end))
        drift, separation = max(drift, *drifts), min(separation, moved)
        atom = "adatom" if index in (-1, len(initial) - 1) else f"atom {index}"
        if moved < neb.min_endpoint_separation_fraction * length:
            reasons.append(
                f"degenerate: both endpoints relaxed into one minimum (the {atom} is {moved:.2f} Å apart in the "
                f"relaxed endpoints, below {neb.min_endpoint_separation_fraction:g} × its {length:.2f} Å hop)"
            )
        elif max(drifts) > neb.max_endpoint_drift_fraction * length:
            which = "start" if drifts[0] >= drifts[1] else "end"
            reasons.append(
                f"the {which} endpoint's {atom} relaxed {max(drifts):.2f} Å away from its site "
                f"(above {neb.max_endpoint_drift_fraction:g} × its {length:.2f} Å hop): not the minimum of that site"
            )
    return EndpointCheck(drift, float(separation), "; ".join(reasons) or None)


def neb_path(
    calc: Calculator,
    initial: Atoms,
    final: Atoms,
    targets: Sequence[tuple[int, Sequence[float], Sequence[float]]],
    relax: RelaxSpec,
    neb: NebSpec,
    convergence: NebConvergenceSpec | None,
    method: str = "linear",
    **hop_fields,
) -> Hop:
    """Relax both endpoints, check they are distinct minima at their sites, and run the image-converged CI-NEB.

    Two outcomes besides a valid hop:

    * the relaxed endpoints are not two distinct minima at their sites
      (:func:`check_endpoints`): no band is run, :class:`EndpointMovedError` is raised and the
      callers list its message among the rejected paths;
    * the band ran but gives no barrier (:func:`li_campaign.kinetics.neb.band_invalid_reason`:
      unconverged, or no interior maximum): the :class:`Hop` is returned with ``valid=False``
      and ``invalid_reason``, so it can be listed; it must never be used as a barrier.

    Parameters
    ----------
    calc
        ASE calculator.
    initial, final
        Unrelaxed endpoints with one atom ordering and the slab's constraints.
    targets
        ``(atom index, start position, end position)`` of each atom that changes site; the
        relaxed endpoints are judged against these hops (:func:`check_endpoints`, with
        ``neb.max_endpoint_drift_fraction`` and ``neb.min_endpoint_separation_fraction``).
    relax, neb, convergence
        Endpoint relaxation, band and image-count settings
        (:func:`li_campaign.kinetics.neb.converged_neb`).
    method
        First interpolation of the band: ``linear`` or ``idpp``.
    **hop_fields
        The :class:`Hop` fields that describe the path (start, end, distance_A, mechanism, ...).

    Returns
    -------
    Hop
        Barriers of the finest band (from its highest interior image), the counts tried, the
        relaxed images, and ``valid`` / ``invalid_reason``.

    Raises
    ------
    EndpointMovedError
        If the relaxed endpoints are one minimum (``degenerate: ...``) or one left its site; the
        message names the path and the distances.
    """
    initial, _, _, _ = relax_atoms(initial, calc, relax)
    final, _, _, _ = relax_atoms(final, calc, relax)
    check = check_endpoints(initial, final, targets, neb)
    if check.reason is not None:
        name = f"{hop_fields.get('mechanism', 'hop')} {hop_fields['start']}->{hop_fields['end']}"
        raise EndpointMovedError(f"{name} ({hop_fields['distance_A']:.2f} Å): {check.reason}")
    outcome = converged_neb(initial, final, calc, neb, convergence, method)
    return Hop(
        **hop_fields,
        barrier_forward_eV=outcome.barrier_forward_eV,
        barrier_reverse_eV=outcome.barrier_reverse_eV,
        n_images=outcome.n_images,
        converged=outcome.converged,
        endpoint_drift_A=check.drift_A,
        endpoint_separation_A=check.separation_A,
        images=[atoms_to_structure(image).as_dict() for image in outcome.images],
        images_tried=outcome.images_tried,
        barriers_by_images_eV=outcome.barriers_by_images_eV,
        images_converged=outcome.images_converged,
        moving_atoms=[len(initial) + index if index < 0 else index for index, _, _ in targets],
        valid=outcome.valid,
        invalid_reason=outcome.invalid_reason,
        start_energy_eV=outcome.energies_eV[0],
        end_energy_eV=outcome.energies_eV[-1],
        image_energies_eV=[float(e) for e in outcome.energies_eV],
    )


def _endpoint_energies(hop: Hop, calc: Calculator) -> Hop:
    """Return ``hop`` with the absolute energies of its relaxed endpoints (first and last image) filled in.

    A band from :func:`neb_path` carries them already (the band's own endpoint energies); only
    hops made elsewhere without them are evaluated here.
    """
    if not hop.images or (hop.start_energy_eV is not None and hop.end_energy_eV is not None):
        return hop
    energies = []
    for image in (hop.images[0], hop.images[-1]):
        atoms = structure_to_atoms(image if isinstance(image, Structure) else Structure.from_dict(image))
        atoms.calc = calc
        energies.append(float(atoms.get_potential_energy()))
    return hop.model_copy(update={"start_energy_eV": energies[0], "end_energy_eV": energies[1]})


def diffusion_barriers(
    calc: Calculator,
    adsorption_result: dict,
    spec: FanOutSpec,
    convergence: NebConvergenceSpec | None = None,
    exchange: bool = False,
) -> DiffusionResult:
    """Compute the CI-NEB barrier of every symmetry-distinct hop of the site graph, and of exchanges.

    The stable sites that pass the re-check below are the nodes of the site graph
    (:func:`li_campaign.kinetics.site_graph.build_site_graph`): every copy in the cell,
    joined to every copy (periodic images included) within ``spec.hops.max_hop_nn`` bulk
    nearest-neighbour distances (:func:`bulk_neighbour_distance`) in-plane. Where the valid
    hops within that cutoff do not connect the lowest site to its own periodic images along
    both surface vectors (e.g. bcc(111), where the shallow hollow is no minimum and the deep
    hollows are 1.63 d_nn apart, or a band that proved invalid), the cutoff grows shell by
    shell of site-copy distances, up to ``spec.hops.max_extended_hop_nn``, and the new edge
    classes get their NEBs, until they do (``graph.cutoff_A`` is where it stopped). One NEB runs per
    symmetry class of edges (top-surface operations of the slab, either direction;
    :func:`enumerate_hops`): both endpoints (the adatom at the start and end copies, at the
    relaxed adatom heights, bottom atoms fixed as in the adsorption run) are relaxed with all
    other atoms free and connected by :func:`neb_path` (ASE CI-NEB, image count converged with
    ``convergence``). Each hop records the absolute energies of its relaxed endpoints
    (``start_energy_eV``, ``end_energy_eV``) and the cell offset of its end copy.

    With ``exchange``, every symmetry-distinct exchange path out of a stable site
    (:func:`li_campaign.kinetics.exchange.enumerate_exchanges`) is computed the same way,
    from an IDPP interpolation, as a hop with ``mechanism="exchange"``; its net transfer
    (start site -> the site the pushed-out atom ends at) and that transfer's symmetry images
    become edges of the graph too.

    Parameters
    ----------
    calc
        ASE calculator (shared by all images).
    adsorption_result
        Output of :func:`li_campaign.surfaces.adsorption.adsorption_sites` (``sites`` may
        be models or their dicts).
    spec
        Fan-out settings: ``relax`` for the endpoints, ``neb`` for the band, ``hops`` for the
        hop cutoff.
    convergence
        Image-count convergence; None runs one band of ``spec.neb.n_images``.
    exchange
        Also compute the exchange paths.

    Each stable site is first relaxed freely from its pinned geometry at the ``relax``
    settings; a site whose adatom moves more than ``ENDPOINT_DRIFT_TOL_A`` (0.5 Å) in-plane
    is not a minimum and is no node. Paths whose relaxed endpoints are not two distinct
    minima (:class:`EndpointMovedError`) are left out; both are listed in ``rejected``.

    Returns
    -------
    DiffusionResult
        One :class:`Hop` per computed path (with the relaxed images as Structure dicts; an
        invalid band is kept with ``valid=False``), the rejected paths with the reason, the
        site graph and the edges each hop stands for; :func:`surface_barriers` turns it into
        the facet's barriers.

    Raises
    ------
    ValueError
        If no site is stable.
    NoHopNetworkError
        If no hop is within the extended cutoff.
    NoBarrierError
        If every path was rejected.
    """
    sites = [AdsorptionSite.model_validate(site) for site in adsorption_result["sites"]]
    stable = [site.label for site in sites if site.stable]
    if not stable:
        raise ValueError(
            f"no stable adsorption site among {[site.label for site in sites]}: every site relaxed away from "
            "itself, so there is no hop to compute"
        )
    slab_structure = Structure.from_dict(adsorption_result["slab_structure"])
    slab = structure_to_atoms(slab_structure)
    copies, heights = adsorption_result["site_copies"], adsorption_result["site_heights_A"]
    rejected: list[str] = []
    minima: list[str] = []
    site_energies: dict[str, float] = {}
    for label in stable:  # re-check at the endpoint settings: a flat saddle can pass the kick test
        site = copies[label][0]
        relaxed, energy, _, _ = relax_atoms(_with_adatom(slab, [*site[:2], heights[label]]), calc, spec.relax)
        drift = _lateral_drift(relaxed, site)
        if drift > ENDPOINT_DRIFT_TOL_A:
            rejected.append(f"site {label}: relaxed {drift:.2f} Å away, not a minimum")
        else:
            minima.append(label)
            site_energies[label] = float(energy)
    d_nn = bulk_neighbour_distance(slab)
    cutoff, limit = spec.hops.max_hop_nn * d_nn, max(spec.hops.max_extended_hop_nn, spec.hops.max_hop_nn) * d_nn
    operations = top_surface_operations(slab_structure)
    hops: list[Hop] = []
    edges: dict[int, list[tuple[int, int, tuple[int, int]]]] = {}
    settings = {"relax": spec.relax, "neb": spec.neb, "convergence": convergence}
    done: set[frozenset] = set()  # edge classes already computed (or rejected), by their member edges
    shells = _shells(site_nodes(copies, minima), slab.cell.array, cutoff, limit)  # the cutoffs to grow to
    while True:
        graph = build_site_graph(copies, minima, slab.cell.array, cutoff, operations)
        for path in enumerate_hops(graph):
            members = graph.classes[path.edge_class].members
            oriented = [
                (e.end, e.start, (-e.offset[0], -e.offset[1])) if reverse else (e.start, e.end, e.offset)
                for e, reverse in ((graph.edges[k], reverse) for k, reverse in members)
            ]
            key = frozenset(_undirected(edge) for edge in oriented)
            if key in done:
                continue
            done.add(key)
            start = _with_adatom(slab, [*path.start_position_A[:2], heights[path.start]])
            end = _with_adatom(slab, [*path.end_position_A[:2], heights[path.end]])
            try:
                hop = neb_path(
                    calc,
                    start,
                    end,
                    [(-1, path.start_position_A, path.end_position_A)],
                    **settings,
                    start=path.start,
                    end=path.end,
                    distance_A=path.distance_A,
                    offset=path.offset,
                )
            except EndpointMovedError as exc:
                rejected.append(str(exc))
                continue
            edges[len(hops)] = oriented
            hops.append(_endpoint_energies(hop, calc))
        if not shells or _valid_hops_percolate(graph, hops, edges, site_energies):
            break
        cutoff = shells.pop(0)
    if not done:
        raise NoHopNetworkError(
            f"no hop found between the stable sites {minima} within {cutoff:.2f} Å (hops.max_hop_nn = "
            f"{spec.hops.max_hop_nn:g}, extended up to hops.max_extended_hop_nn = {spec.hops.max_extended_hop_nn:g} "
            f"nearest-neighbour distances; {'; '.join(rejected) or 'none rejected'}): the hop network does not percolate",
            cutoff,
        )
    if exchange:
        for path in enumerate_exchanges(slab_structure, copies, minima):
            targets = [
                (-1, path.start_position_A, path.adatom_end_position_A),
                (path.replaced_atom, path.replaced_position_A, path.ejected_end_position_A),
            ]
            # net transfer: from the start site to the site the pushed-out atom ends at
            final = np.asarray(path.adatom_end_position_A) + np.subtract(
                path.ejected_end_position_A, path.replaced_position_A
            )
            located = locate(graph.nodes, graph.cell, final)
            origin = locate(graph.nodes, graph.cell, path.start_position_A)
            offset = None
            if located is not None and origin is not None:
                offset = (located[1][0] - origin[1][0], located[1][1] - origin[1][1])
            try:  # a fixed surface atom (ValueError) or a moved endpoint rejects the path
                start, end = exchange_endpoints(slab, path)
                hop = neb_path(
                    calc,
                    start,
                    end,
                    targets,
                    **settings,
                    method="idpp",
                    start=path.start,
                    end=path.end,
                    distance_A=path.distance_A,
                    mechanism="exchange",
                    replaced_atom=path.replaced_atom,
                    offset=offset,
                )
            except ValueError as exc:
                rejected.append(str(exc))
                continue
            edges[len(hops)] = segment_orbit(graph.nodes, graph.cell, operations, path.start_position_A, final)
            hops.append(_endpoint_energies(hop, calc))
    if not hops:
        raise NoBarrierError(f"no hop between stable sites kept both endpoints in place: {'; '.join(rejected)}", cutoff)
    for hop in hops:  # a band's relaxed endpoint can lie a little lower than the site re-check
        if _usable(hop) and hop.start_energy_eV is not None:
            for label, value in ((hop.start, hop.start_energy_eV), (hop.end, hop.end_energy_eV)):
                if label in site_energies:
                    site_energies[label] = min(site_energies[label], value)
    return DiffusionResult(hops, rejected, graph, edges, site_energies)


def _undirected(edge: tuple[int, int, tuple[int, int]]) -> tuple[int, int, tuple[int, int]]:
    """One orientation of an edge ``(start, end, offset)``: the same for ``(end, start, -offset)``."""
    start, end, offset = edge
    reverse = (end, start, (-offset[0], -offset[1]))
    return min(edge, reverse)


def _shells(nodes: Sequence[SiteNode], cell: np.ndarray, cutoff: float, limit: float) -> list[float]:
    """The distance shells (Å, each just past its distance) between stable-site copies beyond ``cutoff`` up to ``limit``."""
    shells: list[float] = []
    for distance in sorted(e.distance_A for e in neighbour_edges(nodes, cell, limit) if e.distance_A > cutoff + SHELL_TOL_A):
        if not shells or distance > shells[-1]:
            shells.append(distance + SHELL_TOL_A)
    return shells


def _valid_hops_percolate(
    graph: SiteGraph, hops: Sequence[Hop], edges: dict[int, list[tuple[int, int, tuple[int, int]]]], energies: dict[str, float]
) -> bool:
    """True if the valid hops connect the lowest stable site to its own periodic image along both surface vectors."""
    ground = min(energies, key=energies.get)
    root = next(n for n, node in enumerate(graph.nodes) if node.label == ground)
    weighted = [
        WeightedEdge(i, j, offset, 0.0, hops[k].mechanism) for k, oriented in edges.items() if _usable(hops[k])
        for i, j, offset in oriented
    ]  # fmt: skip
    return all(percolation(len(graph.nodes), weighted, root).values())


def _usable(hop: Hop) -> bool:
    """A hop whose band gives a barrier: valid (see :func:`neb_path`) with finite barriers."""
    return bool(getattr(hop, "valid", True)) and bool(
        np.isfinite(hop.barrier_forward_eV) and np.isfinite(hop.barrier_reverse_eV)
    )


def lowest_hop(hops: Sequence[Hop], ground_site: str) -> tuple[float, str, str]:
    """The easiest single valid hop or exchange out of the most stable site.

    A path computed as ``A -> B`` also gives ``B -> A`` (its reverse barrier), so paths that
    end at ``ground_site`` count with their reverse barrier. If no valid path touches the
    ground site, the easiest valid path of all is returned. Across-step paths are left out
    (they belong to stepped slabs, not to the facet's terrace), and so are invalid bands.

    Returns
    -------
    tuple[float, str, str]
        The barrier (eV), the path as ``"start->end"`` leaving the ground site, and its
        mechanism (``hop`` or ``exchange``).

    Raises
    ------
    ValueError
        If no terrace path is valid; the message lists why each was not.
    """
    terrace = [h for h in hops if h.mechanism in ("hop", "exchange") and _usable(h)]
    if not terrace:
        reasons = [f"{h.start}->{h.end}: {getattr(h, 'invalid_reason', None) or 'no barrier'}" for h in hops]
        raise ValueError(f"no valid hop or exchange on the terrace, so no barrier ({'; '.join(reasons) or 'no path'})")
    candidates = [(h.barrier_forward_eV, f"{h.start}->{h.end}", h.mechanism) for h in terrace if h.start == ground_site]
    candidates += [(h.barrier_reverse_eV, f"{h.end}->{h.start}", h.mechanism) for h in terrace if h.end == ground_site]
    if not candidates:
        candidates = [(h.barrier_forward_eV, f"{h.start}->{h.end}", h.mechanism) for h in terrace]
    return min(candidates)


@dataclass(frozen=True)
class BarrierSummary:
    """The facet's barriers: the lowest single hop out of the ground site and the effective (minimax) barrier.

    The ``effective_*`` fields, ``percolates`` and ``hop_cutoff_A`` are those of
    :class:`~li_campaign.schemas.kinetics.DiffusionDoc`; ``notes`` say where the network
    does not percolate.
    """

    min_barrier_eV: float | None
    min_hop: str | None
    min_mechanism: str | None
    ground_site: str
    effective_barrier_eV: float | None
    effective_barrier_by_direction_eV: dict[str, float | None]
    effective_path: list[str]
    effective_mechanism: str | None
    percolates: dict[str, bool]
    hop_cutoff_A: float | None
    notes: list[str]


def surface_barriers(result: DiffusionResult, ground_site: str | None = None) -> BarrierSummary:
    """Turn the hops of :func:`diffusion_barriers` into the facet's lowest single hop and effective barrier.

    Every edge of the site graph gets the barriers of its class's hop (exchanges: of their
    orbit); only valid hops with finite barriers count. An edge's weight is its absolute
    saddle energy E(start) + barrier_forward (= E(end) + barrier_reverse, the band's
    maximum). The effective barrier along a surface vector is the smallest saddle at which the
    edges up to it connect the ground site (lowest ``site_energies_eV``) to its own periodic
    image along that vector, minus the ground energy
    (:func:`li_campaign.kinetics.site_graph.effective_barriers`); ``effective_barrier_eV``
    is the lower of the two directions, with its path and mechanism.

    Parameters
    ----------
    result
        Output of :func:`diffusion_barriers`.
    ground_site
        The facet's most stable site when ``result`` has no site energies (a result built
        by hand); otherwise the lowest relaxed site is the ground.

    Returns
    -------
    BarrierSummary

    When no terrace hop is valid, the lowest single hop is None, no edge enters the graph (so
    it percolates nowhere and there is no effective barrier) and ``notes`` give the reasons.

    Raises
    ------
    ValueError
        If there is no ground site.
    """
    energies = result.site_energies_eV
    ground = min(energies, key=energies.get) if energies else ground_site
    if ground is None:
        raise ValueError("no ground site: give ground_site or a result with site energies")
    directions = ("a", "b")
    no_valid_hop: list[str] = []
    try:
        barrier, hop, mechanism = lowest_hop(result.hops, ground)
    except ValueError as exc:  # every band invalid: the document says so and keeps them, with their reasons
        barrier, hop, mechanism, no_valid_hop = None, None, None, [f"no barrier: {exc}"]
    graph = result.graph
    if graph is None or ground not in energies:
        return BarrierSummary(
            barrier, hop, mechanism, ground, None, dict.fromkeys(directions), [], None,
            dict.fromkeys(directions, False), None, [*no_valid_hop, "site graph: not built, no effective barrier"],
        )
    weighted = []
    for k, oriented in result.edges.items():
        path = result.hops[k]
        if not _usable(path) or path.start_energy_eV is None:
            continue
        saddle = path.start_energy_eV + path.barrier_forward_eV
        weighted += [WeightedEdge(i, j, offset, saddle, path.mechanism) for i, j, offset in oriented]
    root = next(n for n, node in enumerate(graph.nodes) if node.label == ground)
    percolates = percolation(len(graph.nodes), weighted, root)
    effective = effective_barriers(graph.nodes, weighted, energies[ground], root)
    by_direction = {name: effective[name].barrier_eV for name in directions}
    finite = [name for name in directions if by_direction[name] is not None]
    best = min(finite, key=lambda name: by_direction[name]) if finite else None
    notes = no_valid_hop + [
        f"site graph: the valid hops (up to {graph.cutoff_A:.2f} Å) do not connect {ground} to its own periodic "
        f"image along {name}: the hop network does not percolate along {name}, no effective barrier there"
        for name in directions
        if not percolates[name]
    ]
    return BarrierSummary(
        min_barrier_eV=barrier,
        min_hop=hop,
        min_mechanism=mechanism,
        ground_site=ground,
        effective_barrier_eV=by_direction[best] if best else None,
        effective_barrier_by_direction_eV=by_direction,
        effective_path=effective[best].path if best else [],
        effective_mechanism=effective[best].mechanism if best else None,
        percolates=percolates,
        hop_cutoff_A=graph.cutoff_A,
        notes=notes,
    )
