"""Descent of a Li adatom over a step edge (Ehrlich–Schwoebel barrier), by CI-NEB.

Given any stepped slab and two labelled sites next to one step edge, one on the upper terrace
and one at the foot of the step on the lower terrace, :func:`across_step_barriers` computes
the descending hop (the adatom moves from the upper to the lower site) and the descending
exchange (the adatom takes the place of the step-edge atom, which is pushed down to the lower
site). The Ehrlich–Schwoebel barrier is the easier of the two minus the terrace hop barrier.
The stepped slab can come from any builder (e.g. :mod:`li_campaign.geometry.steps`); the
site positions are in-plane coordinates, the adatom heights are found here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from ase import Atom
from ase.constraints import FixAtoms

from li_campaign.core.errors import InputError
from li_campaign.geometry.slabs import adatom_start_position, inplane_minimum_image, nearest_neighbour_distance
from li_campaign.kinetics.diffusion import EndpointMovedError, neb_path
from li_campaign.kinetics.exchange import NEIGHBOUR_SHELL_A, ExchangePath, exchange_endpoints
from li_campaign.simulation.relax import fixed_indices, structure_to_atoms
from li_campaign.surfaces.adsorption import fixed_bottom_indices

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ase import Atoms
    from ase.calculators.calculator import Calculator
    from pymatgen.core import Structure

    from li_campaign.schemas.kinetics import Hop
    from li_campaign.schemas.spec import NebConvergenceSpec, NebSpec, RelaxSpec


@dataclass(frozen=True)
class StepEdgeResult:
    """Across-step paths of one step edge, the terrace barrier and the Ehrlich–Schwoebel barrier."""

    hops: list[Hop]
    rejected: list[str]
    terrace_hop: Hop | None
    terrace_barrier_eV: float | None
    step_edge_barrier_eV: float | None
    step_edge_mechanism: str | None
    es_barrier_eV: float | None


def _adatom_position(slab: Structure, site: Sequence[float], bond_A: float) -> np.ndarray:
    """Adatom above in-plane ``site`` (x, y; a z is ignored) at one bond from its nearest slab atom."""
    return adatom_start_position(slab, np.array([site[0], site[1], 0.0]), bond_A)


def _continued(cell: np.ndarray, origin: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``target`` moved by in-plane lattice vectors to the image nearest ``origin``."""
    xy = origin[:2] + inplane_minimum_image(cell, (target - origin)[None, :])[0]
    return np.array([xy[0], xy[1], target[2]])


def _edge_atom(slab: Atoms, upper: np.ndarray, lower: np.ndarray) -> int:
    """The slab atom next to the adatom at ``upper`` that lies nearest (in-plane) to ``lower``."""
    cell = slab.cell.array
    lateral = inplane_minimum_image(cell, slab.positions - upper)
    distances = np.hypot(np.linalg.norm(lateral, axis=1), slab.positions[:, 2] - upper[2])
    neighbours = np.flatnonzero(distances < distances.min() + NEIGHBOUR_SHELL_A)
    to_lower = np.linalg.norm(inplane_minimum_image(cell, slab.positions[neighbours] - lower), axis=1)
    return int(neighbours[np.argmin(to_lower)])


def across_step_barriers(
    calc: Calculator,
    stepped: Structure,
    upper_site: Sequence[float],
    lower_site: Sequence[float],
    relax: RelaxSpec,
    neb: NebSpec,
    convergence: NebConvergenceSpec | None = None,
    *,
    fix_bottom_A: float | None = None,
    labels: tuple[str, str] = ("upper-edge", "lower-edge"),
    exchange: bool = True,
    edge_atom: int | None = None,
    terrace_sites: tuple[Sequence[float], Sequence[float]] | None = None,
    terrace_barrier_eV: float | None = None,
) -> StepEdgeResult:
    """CI-NEB of the descending hop and exchange at one step edge, and the Ehrlich–Schwoebel barrier.

    The adatom is placed above each in-plane site at one bulk nearest-neighbour distance
    from its nearest slab atom (:func:`~li_campaign.geometry.slabs.adatom_start_position`);
    the lower site is taken at its periodic image nearest the upper one. Endpoints are relaxed
    and checked, and the bands converged in image count, by
    :func:`li_campaign.kinetics.diffusion.neb_path` (the exchange from an IDPP
    interpolation). ES barrier = min(forward barrier of the across-step paths) − terrace
    barrier, the terrace barrier being the hop between ``terrace_sites`` on this slab if
    given, else ``terrace_barrier_eV`` (e.g. the flat facet's minimum barrier), else unknown.

    Parameters
    ----------
    calc
        ASE calculator.
    stepped
        Stepped slab, normal along +z, steps on the top surface. Atoms whose
        ``selective_dynamics`` are all False are fixed; ``fix_bottom_A`` also fixes atoms
        that close to the bottom.
    upper_site, lower_site
        Cartesian (x, y[, z]) of the upper-terrace site next to the step edge and the
        lower-terrace site at the foot of that edge (Å); z is ignored.
    relax, neb, convergence
        Endpoint relaxation, band and image-count settings.
    fix_bottom_A
        Fix atoms within this distance of the lowest atom (Å), in addition to flagged ones.
    labels
        Site labels of the upper and lower site, used as the hops' ``start`` and ``end``.
    exchange
        Also compute the descending exchange.
    edge_atom
        Index of the step-edge atom the exchange replaces; default: of the slab atoms next to
        the adatom at the upper site, the one nearest in-plane to the lower site.
    terrace_sites
        Two neighbouring upper-terrace sites (x, y) for the terrace hop on this slab.
    terrace_barrier_eV
        Terrace barrier to compare with when ``terrace_sites`` is not given (eV).

    Returns
    -------
    StepEdgeResult
        Hops with ``mechanism`` ``across_step_hop`` / ``across_step_exchange`` (an invalid band,
        ``valid=False``, is kept but is no barrier and is named in ``rejected`` too), rejected
        paths with the reason, the terrace hop (if computed; an invalid one gives no terrace
        barrier) and the barriers from the valid bands.

    Raises
    ------
    InputError
        If no atom is fixed, or ``edge_atom`` is not a slab atom.
    ValueError
        If every across-step path was rejected or gave an invalid band.
    """
    slab = structure_to_atoms(stepped)
    fixed = set(fixed_indices(slab))
    if fix_bottom_A:
        fixed |= set(fixed_bottom_indices(slab, fix_bottom_A))
    if not fixed:
        raise InputError(
            "stepped slab: no atom is fixed; flag the bottom layers with selective_dynamics or pass fix_bottom_A"
        )
    slab.set_constraint(FixAtoms(indices=sorted(fixed)))
    if edge_atom is not None and not 0 <= edge_atom < len(slab):
        raise InputError(f"edge_atom {edge_atom}: the stepped slab has atoms 0..{len(slab) - 1}")
    cell = slab.cell.array
    bond = nearest_neighbour_distance(stepped)
    upper = _adatom_position(stepped, upper_site, bond)
    lower = _continued(cell, upper, _adatom_position(stepped, lower_site, bond))
    settings = {"relax": relax, "neb": neb, "convergence": convergence}
    distance = round(float(np.linalg.norm(lower[:2] - upper[:2])), 2)
    names = {"start": labels[0], "end": labels[1], "distance_A": distance}

    def with_adatom(position: np.ndarray) -> Atoms:
        atoms = slab.copy()
        atoms.append(Atom("Li", position))
        return atoms

    hops: list[Hop] = []
    rejected: list[str] = []
    try:
        hops.append(
            neb_path(
                calc,
                with_adatom(upper),
                with_adatom(lower),
                [(-1, upper, lower)],
                **settings,
                **names,
                mechanism="across_step_hop",
            )
        )
    except EndpointMovedError as exc:
        rejected.append(str(exc))
    if exchange:
        edge = _edge_atom(slab, upper, lower) if edge_atom is None else edge_atom
        edge_image = _continued(cell, upper, slab.positions[edge])
        landing = _continued(cell, edge_image, lower)
        path = ExchangePath(
            start=labels[0],
            end=labels[1],
            replaced_atom=edge,
            start_position_A=tuple(upper.tolist()),
            replaced_position_A=tuple(slab.positions[edge].tolist()),
            adatom_end_position_A=tuple(edge_image.tolist()),
            ejected_end_position_A=tuple((slab.positions[edge] + landing - edge_image).tolist()),
            distance_A=distance,
        )
        targets = [
            (-1, path.start_position_A, path.adatom_end_position_A),
            (edge, path.replaced_position_A, path.ejected_end_position_A),
        ]
        try:  # a fixed edge atom (ValueError) or a moved endpoint rejects the path
            start, end = exchange_endpoints(slab, path)
            hops.append(
                neb_path(
                    calc,
                    start,
                    end,
                    targets,
                    **settings,
                    method="idpp",
                    **names,
                    mechanism="across_step_exchange",
                    replaced_atom=edge,
                )
            )
        except ValueError as exc:
            rejected.append(str(exc))
    valid = [hop for hop in hops if hop.valid]  # an invalid band is kept and listed, never a barrier
    rejected += [f"{hop.path_label}: {hop.invalid_reason}" for hop in hops if not hop.valid]
    if not valid:
        raise ValueError(f"no across-step path gave a valid band: {'; '.join(rejected)}")

    terrace_hop = None
    if terrace_sites is not None:
        a = _adatom_position(stepped, terrace_sites[0], bond)
        b = _continued(cell, a, _adatom_position(stepped, terrace_sites[1], bond))
        terrace_hop = neb_path(
            calc,
            with_adatom(a),
            with_adatom(b),
            [(-1, a, b)],
            **settings,
            start="terrace",
            end="terrace",
            distance_A=round(float(np.linalg.norm(b[:2] - a[:2])), 2),
        )
        if terrace_hop.valid:
            terrace_barrier_eV = min(terrace_hop.barrier_forward_eV, terrace_hop.barrier_reverse_eV)
        else:
            terrace_barrier_eV = None
            rejected.append(f"terrace {terrace_hop.path_label}: {terrace_hop.invalid_reason}")
    best = min(valid, key=lambda hop: hop.barrier_forward_eV)
    return StepEdgeResult(
        hops=hops,
        rejected=rejected,
        terrace_hop=terrace_hop,
        terrace_barrier_eV=terrace_barrier_eV,
        step_edge_barrier_eV=best.barrier_forward_eV,
        step_edge_mechanism=best.mechanism,
        es_barrier_eV=None if terrace_barrier_eV is None else best.barrier_forward_eV - terrace_barrier_eV,
    )
