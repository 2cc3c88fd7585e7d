"""Exchange paths of a Li adatom: it pushes a surface atom out and takes its place.

The displaced atom ends at an adsorption site next to its old position, so the net effect is
an adatom moving from the start site to that site. Written by hand (neither pymatgen nor ASE
enumerates exchange paths): the candidate paths, their reduction by the slab's top-surface
symmetry, and the two endpoint geometries with one atom ordering (the adatom last, the
replaced atom at its slab index), which the CI-NEB of
:func:`li_campaign.kinetics.diffusion.neb_path` connects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from ase import Atom

from li_campaign.geometry.slabs import inplane_minimum_image, top_surface_operations

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ase import Atoms
    from pymatgen.core import Structure

NEIGHBOUR_SHELL_A = 0.3
"""Slab atoms within (nearest distance + this) of the adatom (Å) are the atoms it can replace."""
END_SHELL_RATIO = 1.2
"""Stable-site copies within this multiple of the nearest one to the replaced atom are its final sites."""
SAME_SITE_A = 0.1
"""A final site closer than this in-plane (Å) to the start site is the start itself (no transport)."""
SYMMETRY_TOL_A = 0.1
"""Two paths whose vectors agree within this (Å) after a symmetry operation are equivalent."""


@dataclass(frozen=True)
class ExchangePath:
    """One exchange: the adatom at ``start`` replaces slab atom ``replaced_atom``, which ends at ``end``.

    Positions are Cartesian (Å) and continuous along the path: ``adatom_end_position_A`` is
    the image of the replaced atom nearest the start site, ``ejected_end_position_A`` is
    where the replaced atom goes from ``replaced_position_A`` (both may lie outside the cell).
    """

    start: str
    end: str
    replaced_atom: int
    start_position_A: tuple[float, float, float]
    replaced_position_A: tuple[float, float, float]
    adatom_end_position_A: tuple[float, float, float]
    ejected_end_position_A: tuple[float, float, float]
    distance_A: float


def _equivalent(slab: Structure, operations: list, path: Sequence[np.ndarray], other: Sequence[np.ndarray]) -> bool:
    """Whether a top-surface operation maps the points of ``path`` onto those of ``other``.

    The first points must coincide modulo an in-plane lattice translation, the vectors from
    the first point to the others exactly (within ``SYMMETRY_TOL_A``).
    """
    lattice = slab.lattice
    other = np.asarray(other)
    for op in operations:
        moved = np.array([lattice.get_cartesian_coords(op.operate(lattice.get_fractional_coords(p))) for p in path])
        shift = moved[0] - other[0]
        if abs(shift[2]) > SYMMETRY_TOL_A:
            continue
        if np.linalg.norm(inplane_minimum_image(lattice.matrix, shift[None, :])[0]) > SYMMETRY_TOL_A:
            continue
        if np.abs((moved[1:] - moved[0]) - (other[1:] - other[0])).max() < SYMMETRY_TOL_A:
            return True
    return False


def enumerate_exchanges(
    slab: Structure, site_copies: Mapping[str, Sequence[Sequence[float]]], stable_labels: Sequence[str]
) -> list[ExchangePath]:
    """List the symmetry-distinct exchange paths out of each stable site.

    For the representative copy S of each stable site (at its relaxed adatom height), the
    replaceable atoms R are the slab atoms within ``NEIGHBOUR_SHELL_A`` of the adatom's
    nearest slab atom distance; for each R, the final sites F of the pushed-out atom are the
    stable-site copies (any stable label) within ``END_SHELL_RATIO`` of the in-plane distance
    of the copy nearest to R, excluding S itself. Two paths are equivalent if a top-surface
    symmetry operation (:func:`~li_campaign.geometry.slabs.top_surface_operations`)
    maps the start of one onto the start of the other (modulo an in-plane lattice
    translation) and its vectors R − S and F − S onto the other's. A path equivalent to the
    reverse of a kept one (the atom at F pushes the atom at R back to S; one CI-NEB gives both
    barriers) is left out too, as :func:`~li_campaign.kinetics.diffusion.enumerate_hops`
    does for hops. The first of each class is kept.

    Parameters
    ----------
    slab
        The relaxed clean slab (normal along z) of the adsorption run.
    site_copies
        Label -> Cartesian positions (at the adatom height) of every copy in the cell,
        representative first.
    stable_labels
        Labels of the sites that are minima.

    Returns
    -------
    list[ExchangePath]
        In the order of ``stable_labels``, then of R (by distance) and F.
    """
    cell = slab.lattice.matrix
    coords = slab.cart_coords
    operations = top_surface_operations(slab)
    copies = [(label, np.asarray(p, dtype=float)) for label in stable_labels for p in site_copies[label]]
    paths: list[ExchangePath] = []
    accepted: list[tuple[str, str, np.ndarray]] = []  # (start label, end label, points S, R, F)
    for label in stable_labels:
        s = np.asarray(site_copies[label][0], dtype=float)
        lateral = inplane_minimum_image(cell, coords - s)
        vectors = np.column_stack([lateral, coords[:, 2] - s[2]])
        distances = np.linalg.norm(vectors, axis=1)
        for r in np.argsort(distances, kind="stable"):
            if distances[r] > distances.min() + NEIGHBOUR_SHELL_A:
                break
            r_image = s + vectors[r]
            ends = []
            for end_label, position in copies:
                f_xy = r_image[:2] + inplane_minimum_image(cell, (position - r_image)[None, :])[0]
                if np.linalg.norm(f_xy - s[:2]) > SAME_SITE_A:
                    ends.append((end_label, np.array([*f_xy, position[2]])))
            if not ends:
                continue
            reach = np.array([np.linalg.norm(f[:2] - r_image[:2]) for _, f in ends])
            for (end_label, f), d in zip(ends, reach):
                if d > END_SHELL_RATIO * reach.min():
                    continue
                points = np.array([s, r_image, f])
                if any(
                    (first, last) == (label, end_label) and _equivalent(slab, operations, points, seen)
                    or (first, last) == (end_label, label) and _equivalent(slab, operations, points[::-1], seen)
                    for first, last, seen in accepted
                ):
                    continue
                accepted.append((label, end_label, points))
                replaced = coords[r]
                paths.append(
                    ExchangePath(
                        start=label,
                        end=end_label,
                        replaced_atom=int(r),
                        start_position_A=tuple(s.tolist()),
                        replaced_position_A=tuple(replaced.tolist()),
                        adatom_end_position_A=tuple(r_image.tolist()),
                        ejected_end_position_A=tuple((replaced + f - r_image).tolist()),
                        distance_A=round(float(np.linalg.norm(f[:2] - s[:2])), 2),
                    )
                )
    return paths


def exchange_endpoints(slab: Atoms, path: ExchangePath) -> tuple[Atoms, Atoms]:
    """Return the start (adatom at S) and end (adatom at R, R's atom at F) of an exchange.

    Both have the slab's atoms in its order with the adatom appended last, and the slab's
    constraints; only the adatom and ``path.replaced_atom`` differ between them.

    Raises
    ------
    ValueError
        If the replaced atom is held fixed (``fix_bottom_A`` reaches the surface).
    """
    fixed = {int(i) for c in slab.constraints for i in c.get_indices()}
    if path.replaced_atom in fixed:
        raise ValueError(
            f"exchange {path.start}->{path.end}: surface atom {path.replaced_atom} is fixed; "
            "lower slab.fix_bottom_A or use a thicker slab"
        )
    start = slab.copy()
    start.append(Atom("Li", path.start_position_A))
    end = start.copy()
    end.positions[path.replaced_atom] = path.ejected_end_position_A
    end.positions[-1] = path.adatom_end_position_A
    return start, end
