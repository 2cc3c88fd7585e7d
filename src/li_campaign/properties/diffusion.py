"""Surface-diffusion barriers of a Li adatom: hops between neighbouring stable sites and exchanges (ASE CI-NEB).

Every band runs through :func:`li_campaign.properties.neb.converged_neb`, which refines the
image count until the barrier converges; exchange paths come from
:mod:`li_campaign.properties.exchange`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from ase import Atom
from pymatgen.core import Structure

from li_campaign.properties.exchange import enumerate_exchanges, exchange_endpoints
from li_campaign.properties.neb import converged_neb
from li_campaign.properties.relax import atoms_to_structure, relax_atoms, structure_to_atoms
from li_campaign.schemas.properties import AdsorptionSite, Hop
from li_campaign.structures.slabs import inplane_minimum_image

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ase import Atoms
    from ase.calculators.calculator import Calculator

    from li_campaign.schemas.spec import FanOutSpec, NebConvergenceSpec, NebSpec, RelaxSpec

MIN_HOP_A = 0.1
"""Site copies closer than this (Å) to the start are the start itself."""
MAX_HOP_RATIO = 1.6
ENDPOINT_DRIFT_TOL_A = 0.5  # Å; an endpoint further from its site is not at a minimum
"""Hops longer than this multiple of the shortest hop are not computed."""


@dataclass(frozen=True)
class HopPath:
    """One hop to compute: from the representative copy of ``start`` to a copy of ``end``.

    ``end_position_A`` is the periodic image nearest to the start, so the straight line
    between the two positions is the hop (it may lie outside the cell).
    """

    start: str
    end: str
    distance_A: float
    start_position_A: tuple[float, float, float]
    end_position_A: tuple[float, float, float]


def enumerate_hops(
    site_copies: Mapping[str, Sequence[Sequence[float]]], stable_labels: Sequence[str], cell: np.ndarray
) -> list[HopPath]:
    """List the symmetry-distinct hops between neighbouring stable sites.

    For each stable site A (its first, representative copy) and each stable site B, the
    copies of B and their in-plane periodic images at the smallest in-plane distance
    above ``MIN_HOP_A`` from A are the neighbours of A of type B; the first of them is the
    hop's end. Hops are identified by (A, B, distance rounded to 0.01 Å): this treats all
    hops of equal length between the same two site types as symmetry-equivalent, and a hop
    B → A as the reverse of A → B (one NEB gives both barriers). That is an approximation
    on low-symmetry facets, where two hops can share these three values without being
    equivalent. Hops longer than ``MAX_HOP_RATIO`` (1.6) times the shortest are dropped.

    Parameters
    ----------
    site_copies
        Label -> Cartesian positions of every copy in the cell, representative first.
    stable_labels
        Labels of the stable sites.
    cell
        Lattice matrix (rows a, b, c) with a, b in the xy plane.

    Returns
    -------
    list[HopPath]
        Hops in the order of ``stable_labels``.
    """
    cell = np.asarray(cell, dtype=float)
    shifts = np.array([[i, j] for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=float) @ cell[:2, :2]
    hops: dict[tuple[str, str, float], HopPath] = {}
    for a in stable_labels:
        start = np.asarray(site_copies[a][0], dtype=float)
        for b in stable_labels:
            copies = np.asarray(site_copies[b], dtype=float)
            nearest = inplane_minimum_image(cell, copies - start)  # (N, 2)
            images = nearest[:, None, :] + shifts[None, :, :]  # (N, 9, 2)
            distances = np.linalg.norm(images, axis=2)
            distances[distances <= MIN_HOP_A] = np.inf
            index = np.unravel_index(np.argmin(distances), distances.shape)
            if not np.isfinite(distances[index]):
                continue
            distance = round(float(distances[index]), 2)
            key = (a, b, distance) if stable_labels.index(a) <= stable_labels.index(b) else (b, a, distance)
            if key in hops:
                continue
            end = np.array([*(start[:2] + images[index]), copies[index[0], 2]])
            hops[key] = HopPath(a, b, distance, tuple(start.tolist()), tuple(end.tolist()))
    if not hops:
        return []
    shortest = min(hop.distance_A for hop in hops.values())
    return [hop for hop in hops.values() if hop.distance_A <= MAX_HOP_RATIO * shortest]


def _with_adatom(slab: Atoms, position: Sequence[float]) -> Atoms:
    atoms = slab.copy()
    atoms.append(Atom("Li", position))
    return atoms


@dataclass(frozen=True)
class DiffusionResult:
    """CI-NEB hops, and the hops left out because an endpoint did not stay at its site."""

    hops: list[Hop]
    rejected: list[str]


def _lateral_drift(atoms: Atoms, target: Sequence[float], index: int = -1) -> float:
    """In-plane distance (minimum image) of atom ``index`` (default the adatom, last) from ``target``."""
    delta = np.append(atoms.positions[index, :2] - np.asarray(target[:2]), 0.0)
    return float(np.linalg.norm(inplane_minimum_image(atoms.cell.array, delta[None, :])[0]))


class EndpointMovedError(ValueError):
    """A relaxed NEB endpoint left its site: the path is not between two minima."""


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
    """Relax both endpoints, check they stayed at their sites, and run the image-converged CI-NEB.

    Parameters
    ----------
    calc
        ASE calculator.
    initial, final
        Unrelaxed endpoints with one atom ordering and the slab's constraints.
    targets
        ``(atom index, start position, end position)`` of each atom that changes site; an
        endpoint in which one of them relaxed more than ``ENDPOINT_DRIFT_TOL_A`` in-plane
        from its position is not at a minimum.
    relax, neb, convergence
        Endpoint relaxation, band and image-count settings
        (:func:`li_campaign.properties.neb.converged_neb`).
    method
        First interpolation of the band: ``linear`` or ``idpp``.
    **hop_fields
        The :class:`Hop` fields that describe the path (start, end, distance_A, mechanism, ...).

    Returns
    -------
    Hop
        Barriers of the finest band, the counts tried and the relaxed images.

    Raises
    ------
    EndpointMovedError
        If an endpoint left its site; the message names the path and the drift.
    """
    initial, _, _, _ = relax_atoms(initial, calc, relax)
    final, _, _, _ = relax_atoms(final, calc, relax)
    drift = max(
        max(_lateral_drift(initial, first, index), _lateral_drift(final, last, index)) for index, first, last in targets
    )
    if drift > ENDPOINT_DRIFT_TOL_A:
        name = f"{hop_fields.get('mechanism', 'hop')} {hop_fields['start']}->{hop_fields['end']}"
        raise EndpointMovedError(
            f"{name} ({hop_fields['distance_A']:.2f} Å): an endpoint relaxed {drift:.2f} Å away from its site"
        )
    outcome = converged_neb(initial, final, calc, neb, convergence, method)
    return Hop(
        **hop_fields,
        barrier_forward_eV=outcome.barrier_forward_eV,
        barrier_reverse_eV=outcome.barrier_reverse_eV,
        n_images=outcome.n_images,
        converged=outcome.converged,
        endpoint_drift_A=drift,
        images=[atoms_to_structure(image).as_dict() for image in outcome.images],
        images_tried=outcome.images_tried,
        barriers_by_images_eV=outcome.barriers_by_images_eV,
        images_converged=outcome.images_converged,
        moving_atoms=[len(initial) + index if index < 0 else index for index, _, _ in targets],
    )


def diffusion_barriers(
    calc: Calculator,
    adsorption_result: dict,
    spec: FanOutSpec,
    convergence: NebConvergenceSpec | None = None,
    exchange: bool = False,
) -> DiffusionResult:
    """Compute the CI-NEB barrier of every hop between neighbouring stable adsorption sites, and of exchanges.

    For each hop of :func:`enumerate_hops`, both endpoints (the adatom at the start and end
    copies, at the relaxed adatom heights, bottom atoms fixed as in the adsorption run) are
    relaxed with all other atoms free; ``spec.neb.n_images`` images are interpolated
    linearly (minimum image) and optimised with ASE ``NEB(method="improvedtangent",
    climb=spec.neb.climb, k=spec.neb.spring_constant)`` and FIRE to ``spec.neb.fmax_eV_A``,
    then refined until the barrier converges (``convergence``, see :func:`neb_path`).
    barrier_forward = max(E_images) − E(start), barrier_reverse = max(E_images) − E(end),
    the maximum including the endpoints.

    With ``exchange``, every symmetry-distinct exchange path out of a stable site
    (:func:`li_campaign.properties.exchange.enumerate_exchanges`) is computed the same way,
    from an IDPP interpolation, as a hop with ``mechanism="exchange"``; both moving atoms
    must stay at their sites in the relaxed endpoints.

    Parameters
    ----------
    calc
        ASE calculator (shared by all images).
    adsorption_result
        Output of :func:`li_campaign.properties.adsorption.adsorption_sites` (``sites`` may
        be models or their dicts).
    spec
        Fan-out settings: ``relax`` for the endpoints, ``neb`` for the band.
    convergence
        Image-count convergence; None runs one band of ``spec.neb.n_images``.
    exchange
        Also compute the exchange paths.

    Each stable site is first relaxed freely from its pinned geometry at the ``relax``
    settings; a site whose adatom moves more than ``ENDPOINT_DRIFT_TOL_A`` (0.5 Å) in-plane
    is not a minimum and gets no hops. A hop whose relaxed endpoint still moves that far is
    left out too. Both are listed in ``rejected``.

    Returns
    -------
    DiffusionResult
        One :class:`Hop` per kept hop (with the relaxed images as Structure dicts), and the
        rejected hops with the reason.

    Raises
    ------
    ValueError
        If no site is stable, no hop is found, or every hop was rejected.
    """
    sites = [AdsorptionSite.model_validate(site) for site in adsorption_result["sites"]]
    stable = [site.label for site in sites if site.stable]
    if not stable:
        raise ValueError(
            f"no stable adsorption site among {[site.label for site in sites]}: every site relaxed away from "
            "itself, so there is no hop to compute"
        )
    slab = structure_to_atoms(Structure.from_dict(adsorption_result["slab_structure"]))
    copies, heights = adsorption_result["site_copies"], adsorption_result["site_heights_A"]
    rejected: list[str] = []
    minima = []
    for label in stable:  # re-check at the endpoint settings: a flat saddle can pass the kick test
        site = copies[label][0]
        relaxed, _, _, _ = relax_atoms(_with_adatom(slab, [*site[:2], heights[label]]), calc, spec.relax)
        drift = _lateral_drift(relaxed, site)
        if drift > ENDPOINT_DRIFT_TOL_A:
            rejected.append(f"site {label}: relaxed {drift:.2f} Å away, not a minimum")
        else:
            minima.append(label)
    paths = enumerate_hops(copies, minima, slab.cell.array)
    if not paths:
        raise ValueError(f"no hop found between the stable sites {minima} ({'; '.join(rejected) or 'none rejected'})")
    hops: list[Hop] = []
    settings = {"relax": spec.relax, "neb": spec.neb, "convergence": convergence}
    for path in paths:
        start = _with_adatom(slab, [*path.start_position_A[:2], heights[path.start]])
        end = _with_adatom(slab, [*path.end_position_A[:2], heights[path.end]])
        try:
            hops.append(
                neb_path(
                    calc,
                    start,
                    end,
                    [(-1, path.start_position_A, path.end_position_A)],
                    **settings,
                    start=path.start,
                    end=path.end,
                    distance_A=path.distance_A,
                )
            )
        except EndpointMovedError as exc:
            rejected.append(str(exc))
    if exchange:
        for path in enumerate_exchanges(Structure.from_dict(adsorption_result["slab_structure"]), copies, minima):
            targets = [
                (-1, path.start_position_A, path.adatom_end_position_A),
                (path.replaced_atom, path.replaced_position_A, path.ejected_end_position_A),
            ]
            try:  # a fixed surface atom (ValueError) or a moved endpoint rejects the path
                start, end = exchange_endpoints(slab, path)
                hops.append(
                    neb_path(
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
                    )
                )
            except ValueError as exc:
                rejected.append(str(exc))
    if not hops:
        raise ValueError(f"no hop between stable sites kept both endpoints in place: {'; '.join(rejected)}")
    return DiffusionResult(hops, rejected)


def minimum_barrier(hops: list[Hop], ground_site: str) -> tuple[float, str, str]:
    """The facet's surface-diffusion barrier: the easiest hop or exchange out of the most stable site.

    A path computed as ``A -> B`` also gives ``B -> A`` (its reverse barrier), so paths that
    end at ``ground_site`` count with their reverse barrier. If no path touches the ground
    site, the easiest path of all is returned. Across-step paths are left out (they belong
    to stepped slabs, not to the facet's terrace).

    Returns
    -------
    tuple[float, str, str]
        The barrier (eV), the path as ``"start->end"`` leaving the ground site, and its
        mechanism (``hop`` or ``exchange``).
    """
    terrace = [h for h in hops if h.mechanism in ("hop", "exchange")]
    candidates = [(h.barrier_forward_eV, f"{h.start}->{h.end}", h.mechanism) for h in terrace if h.start == ground_site]
    candidates += [(h.barrier_reverse_eV, f"{h.end}->{h.start}", h.mechanism) for h in terrace if h.end == ground_site]
    if not candidates:
        candidates = [(h.barrier_forward_eV, f"{h.start}->{h.end}", h.mechanism) for h in terrace]
    return min(candidates)
