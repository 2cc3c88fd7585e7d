"""Stepped and kinked bcc Li slabs on the (100) and (110) terraces, with labelled adsorption sites.

pymatgen and ASE have no builder for a step on a bcc terrace (``ase.build`` makes vicinal
fcc(211)-type cells only, pymatgen's ``SlabGenerator`` makes flat high-index slabs), so the
construction is written here:

1. a flat slab of the terrace, laterally primitive with one atom per plane
   (:func:`li_campaign.geometry.facets.slab_with_layers`, pymatgen ``SlabGenerator``);
2. the step direction t is the shortest in-plane lattice vector, i.e. the densest atom row:
   ⟨100⟩ (length a) on (100) and ⟨111⟩ (length √3 a/2) on (110), the close-packed and
   lowest-energy step edges of those terraces;
3. the cell is repeated 2w times across the step (w = terrace width in rows) and n times
   along it; the rows of the top plane are lines along t, h = A_cell / |t| apart;
4. w adjacent rows of the top plane are removed, leaving a strip w rows wide: every cell then
   holds one ascending and one descending monatomic step of length n|t| (periodic), with an
   upper terrace of w rows and, one plane down, a lower terrace of w rows;
5. the kinked variant removes, in addition, the first half of one edge row (n = kink spacing):
   two kinks per cell on that step, the other step stays straight.

The bottom ``fix_bottom_layers`` planes carry ``selective_dynamics = False`` in the stepped
slab and in its flat reference (same cell, same planes), so both are relaxed with the same
constraints.

Sites are *lattice-continuation* positions: where the next bcc atom would sit. Upper-level
sites are the positions of the plane above the upper terrace that have all their bulk
neighbours below (the 4-fold hollow on (100), the long-bridge hollow on (110)); lower-level
sites are the positions of the removed atoms (each sits on the full plane below). pymatgen's
``AdsorbateSiteFinder`` is not used: it finds surface atoms by height, which on a stepped slab
sees the upper terrace only, and its Delaunay sites mix the two levels. Each site is
classified by its perpendicular distance to the nearest step-edge row: the closest sites of
each level are ``step-edge-upper`` (on the upper terrace at its edge) and ``step-edge-lower``
(in the corner at the foot of the step), the others ``terrace``; removed edge-row positions
next to a remaining edge atom (the half-crystal positions) are ``kink``. Symmetry-equivalent
sites (operations of the stepped slab that keep the surface normal,
:func:`li_campaign.geometry.slabs.top_surface_operations`) are merged.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from pymatgen.core import Structure

from li_campaign.core.errors import InputError
from li_campaign.core.miller import canonical_miller, check_miller, facet_label
from li_campaign.geometry.facets import interplanar_spacing, slab_with_layers
from li_campaign.geometry.slabs import inplane_minimum_image, symmetry_copies, top_surface_operations
from li_campaign.schemas.spec import STEP_TERRACES

if TYPE_CHECKING:
    from collections.abc import Sequence

    from li_campaign.core.miller import MillerIndex

SITE_CLASSES = ("terrace", "step-edge-upper", "step-edge-lower", "kink")
SITE_TOL_A = 0.1
"""Two sites closer than this (Å) are one site."""


@dataclass
class StepSite:
    """One symmetry-distinct adsorption site of a stepped slab."""

    label: str
    """``<class>-<i>``, e.g. ``step-edge-lower-0``."""
    site_class: str
    """One of :data:`SITE_CLASSES`."""
    level: str
    """``upper`` (one plane above the upper terrace) or ``lower`` (in the removed plane)."""
    position_A: list[float]
    """Cartesian lattice-continuation position (Å): where the adatom starts."""
    distance_to_edge_A: float
    """Perpendicular in-plane distance to the nearest step-edge row (Å)."""
    copies: list[list[float]] = field(default_factory=list)
    """Every symmetry-equivalent copy in the cell (Cartesian Å), this one first."""


@dataclass
class SteppedSlab:
    """A stepped (or kinked) slab, its flat reference and its labelled sites."""

    structure: Structure
    flat: Structure
    terrace: MillerIndex
    kinked: bool
    step_vector_cell: tuple[int, int]
    """Step direction t as integer multiples (i, j) of the primitive terrace cell's a and b."""
    step_direction: list[float]
    """Unit vector along the step (Cartesian, slab frame with the normal along z)."""
    step_direction_family: str
    """Cubic family of t, e.g. ``<111>``."""
    atom_spacing_A: float
    """|t|: distance between atoms along the step edge (Å)."""
    row_spacing_A: float
    """Distance between neighbouring rows across the step (Å)."""
    step_height_A: float
    """Interplanar spacing of the terrace (Å)."""
    terrace_width_rows: int
    terrace_width_A: float
    """terrace_width_rows × row_spacing_A."""
    n_along: int
    """Atoms per cell along the step."""
    step_length_A: float
    """Length of one step per cell, n_along × |t| (Å)."""
    n_steps: int
    n_removed: int
    """Atoms removed from the flat reference."""
    n_layers: int
    fix_bottom_layers: int
    sites: list[StepSite]


def _shortest_inplane_vector(matrix: np.ndarray) -> tuple[int, int]:
    """Return (i, j) of the shortest non-zero i a + j b (ties: the first in a fixed order)."""
    best = None
    for i, j in itertools.product(range(-3, 4), repeat=2):
        if (i, j) == (0, 0):
            continue
        length = float(np.linalg.norm(i * matrix[0] + j * matrix[1]))
        key = (round(length, 6), -i, -j)
        if best is None or key < best[0]:
            best = (key, (i, j))
    return best[1]


def _complement(i: int, j: int) -> tuple[int, int]:
    """Return (p, q) with p j − q i = 1 (extended Euclid), so (p, q), (i, j) is a basis of the 2D lattice."""
    g, x, y = _egcd(j, -i)  # x j + y (−i) = g
    if abs(g) != 1:
        raise RuntimeError(f"in-plane vector ({i}, {j}) is not primitive")
    return x * g, y * g


def _egcd(a: int, b: int) -> tuple[int, int, int]:
    if b == 0:
        return a, 1, 0
    g, x, y = _egcd(b, a % b)
    return g, y, x - (a // b) * y


def direction_family(a: float, terrace: MillerIndex, length_A: float) -> str:
    """Return the cubic family ⟨uvw⟩ of the bcc lattice vectors of length ``length_A`` lying in the terrace."""
    hkl = np.array(canonical_miller(terrace))
    target = (2.0 * length_A / a) ** 2  # bcc lattice vectors are (a/2) u with u all even or all odd
    for u in itertools.product(range(-4, 5), repeat=3):
        vec = np.array(u)
        if len({x % 2 for x in u}) == 1 and vec.any() and vec @ hkl == 0 and abs(vec @ vec - target) < 1e-3:
            reduced = np.abs(vec) // math.gcd(*(abs(int(x)) for x in u))
            return "<" + "".join(str(int(x)) for x in sorted(reduced, reverse=True)) + ">"
    raise RuntimeError(f"no bcc lattice vector of length {length_A:.3f} Å in the {facet_label(terrace)} plane")


def _with_fixed_bottom(structure: Structure, spacing: float, fix_bottom_layers: int) -> Structure:
    z = structure.cart_coords[:, 2]
    fixed = z - z.min() < (fix_bottom_layers - 0.5) * spacing
    out = structure.copy()
    out.add_site_property("selective_dynamics", [[not f] * 3 for f in fixed])
    return out


def stepped_slab(
    a: float,
    terrace: MillerIndex,
    terrace_width_rows: int,
    slab_thickness_A: float,
    vacuum_A: float,
    fix_bottom_layers: int = 2,
    n_along: int = 1,
    kinked: bool = False,
) -> SteppedSlab:
    """Build a stepped (optionally kinked) slab of a (100) or (110) bcc Li terrace.

    See the module docstring for the construction.

    Parameters
    ----------
    a
        bcc lattice constant (Å).
    terrace
        Terrace facet, a member of the {100} or {110} family.
    terrace_width_rows
        Rows of the upper terrace (and of the lower one), at least 3.
    slab_thickness_A
        Thickness of the flat slab (Å), rounded up to whole planes; at least
        ``fix_bottom_layers`` + 2 planes.
    vacuum_A
        Vacuum above the flat slab (Å).
    fix_bottom_layers
        Bottom planes held fixed.
    n_along
        Atoms per cell along the step; for a kinked slab at least 4, and the first
        ``n_along // 2`` atoms of one edge row are removed.
    kinked
        Build the kinked variant.

    Returns
    -------
    SteppedSlab

    Raises
    ------
    InputError
        If the terrace is not {100} or {110}, the width is below 3 rows, ``n_along`` is too
        small, or a size is not positive.
    """
    terrace = check_miller(terrace)
    if facet_label(terrace) not in STEP_TERRACES:
        raise InputError(
            f"terrace {terrace}: stepped slabs are built on the {' and '.join(STEP_TERRACES)} terraces only "
            "(bcc(111) is too open for a monatomic step)"
        )
    if isinstance(terrace_width_rows, bool) or not isinstance(terrace_width_rows, int) or terrace_width_rows < 3:
        raise InputError(f"terrace_width_rows = {terrace_width_rows!r}: need an integer of at least 3")
    if n_along < (4 if kinked else 1):
        raise InputError(
            f"n_along = {n_along}: a {'kinked' if kinked else 'stepped'} slab needs at least {4 if kinked else 1} atoms "
            "along the step (a kinked one keeps and removes at least two edge atoms)"
        )
    if fix_bottom_layers < 0 or not slab_thickness_A > 0 or not vacuum_A > 0:
        raise InputError(
            f"fix_bottom_layers {fix_bottom_layers}, slab_thickness_A {slab_thickness_A}, vacuum_A {vacuum_A}: "
            "need fix_bottom_layers >= 0 and positive sizes"
        )
    spacing = interplanar_spacing(a, terrace)
    n_layers = max(math.ceil(slab_thickness_A / spacing - 1e-9) + 1, fix_bottom_layers + 2)
    primitive = slab_with_layers(a, terrace, n_layers, vacuum_A)
    cell2d = primitive.lattice.matrix[:2, :]
    i, j = _shortest_inplane_vector(cell2d)
    t = i * cell2d[0] + j * cell2d[1]
    p, q = _complement(i, j)
    u = p * cell2d[0] + q * cell2d[1]
    m = -round(float(u @ t) / float(t @ t))  # shortest complement: u + m t
    p, q = p + m * i, q + m * j
    width = terrace_width_rows
    flat = primitive.copy()
    flat.make_supercell([[2 * width * p, 2 * width * q, 0], [n_along * i, n_along * j, 0], [0, 0, 1]])

    along = t / np.linalg.norm(t)
    across = np.cross([0.0, 0.0, 1.0], along)
    area = float(np.linalg.norm(np.cross(cell2d[0], cell2d[1])))
    atom_spacing = float(np.linalg.norm(t))
    row_spacing = area / atom_spacing
    coords = flat.cart_coords
    z_top = coords[:, 2].max()
    top = np.flatnonzero(coords[:, 2] > z_top - 0.5 * spacing)
    ref = coords[top[0]]
    rows = np.mod(np.round((coords[top] - ref) @ across / row_spacing).astype(int), 2 * width)
    places = np.mod(np.round((coords[top] - ref) @ along / atom_spacing).astype(int), n_along)
    if sorted(np.bincount(rows, minlength=2 * width)) != [n_along] * (2 * width):
        raise RuntimeError(f"terrace {terrace}: the top plane is not {2 * width} rows of {n_along} atoms")
    removed = set(top[rows >= width].tolist())
    edge_row = width - 1  # the kept row next to the removed row `width`
    notch_places = set(range(n_along // 2)) if kinked else set()
    notch = set(top[(rows == edge_row) & (places < n_along // 2)].tolist()) if kinked else set()
    removed |= notch

    flat = _with_fixed_bottom(flat, spacing, fix_bottom_layers)
    stepped = flat.copy()
    stepped.remove_sites(sorted(removed))

    period = 2 * width * row_spacing
    edge_s = [float((coords[top[rows == r][0]] - ref) @ across) for r in (0, edge_row)]

    def edge_distance(position: np.ndarray) -> float:
        s = float((position - ref) @ across)
        return min(abs((s - e + 0.5 * period) % period - 0.5 * period) for e in edge_s)

    # lattice-continuation candidates
    second = np.flatnonzero((coords[:, 2] < z_top - 0.5 * spacing) & (coords[:, 2] > z_top - 1.5 * spacing))
    stack = coords[top[0]] - coords[second[0]]  # in-plane shift + one spacing up
    cutoff = 1.05 * a  # first (√3 a/2) and second (a) bulk neighbours
    flat_support = _neighbour_count(flat, coords[top[0]] + stack, cutoff)
    candidates: list[tuple[str, np.ndarray, str | None]] = []
    for index in top:
        if index in removed:
            forced = None
            if index in notch:  # the notch ends are half-crystal (kink) positions, its middle lies along the edge
                place = int(places[top == index][0])
                kink = bool({(place - 1) % n_along, (place + 1) % n_along} - notch_places)
                forced = "kink" if kink else "step-edge-lower"
            candidates.append(("lower", coords[index].copy(), forced))
        position = coords[index] + stack
        if _neighbour_count(stepped, position, cutoff) == flat_support:
            candidates.append(("upper", position, None))

    sites = _classify(stepped, candidates, edge_distance)
    return SteppedSlab(
        structure=stepped,
        flat=flat,
        terrace=terrace,
        kinked=kinked,
        step_vector_cell=(int(i), int(j)),
        step_direction=[float(x) for x in along],
        step_direction_family=direction_family(a, terrace, atom_spacing),
        atom_spacing_A=atom_spacing,
        row_spacing_A=row_spacing,
        step_height_A=spacing,
        terrace_width_rows=width,
        terrace_width_A=width * row_spacing,
        n_along=n_along,
        step_length_A=n_along * atom_spacing,
        n_steps=2,
        n_removed=len(removed),
        n_layers=n_layers,
        fix_bottom_layers=fix_bottom_layers,
        sites=sites,
    )


def _neighbour_count(structure: Structure, position: np.ndarray, cutoff: float) -> int:
    return len(structure.get_sites_in_sphere(position, cutoff))


def _classify(stepped: Structure, candidates: list[tuple[str, np.ndarray, str | None]], edge_distance) -> list[StepSite]:
    """Label candidate sites by their distance to the nearest step edge and merge symmetry copies."""
    lattice = stepped.lattice
    wrapped = []
    for level, position, forced in candidates:
        frac = lattice.get_fractional_coords(position)
        frac[:2] %= 1.0
        wrapped.append((level, lattice.get_cartesian_coords(frac), forced))
    nearest = {
        level: min((edge_distance(p) for lv, p, forced in wrapped if lv == level and forced is None), default=None)
        for level in ("upper", "lower")
    }
    plain = Structure(lattice, stepped.species, stepped.frac_coords)
    operations = top_surface_operations(plain)
    order = {name: k for k, name in enumerate(SITE_CLASSES)}
    labelled = []
    for level, position, forced in wrapped:
        distance = edge_distance(position)
        if forced is not None:
            site_class = forced
        elif abs(distance - nearest[level]) < SITE_TOL_A:
            site_class = f"step-edge-{level}"
        else:
            site_class = "terrace"
        labelled.append((order[site_class], distance, level, position, site_class))
    labelled.sort(key=lambda item: (item[0], item[1], item[2]))

    sites: list[StepSite] = []
    counts = dict.fromkeys(SITE_CLASSES, 0)
    for _, distance, level, position, site_class in labelled:
        if any(_is_copy(lattice.matrix, position, site.copies) for site in sites):
            continue
        copies = symmetry_copies(plain, position, operations)
        sites.append(
            StepSite(
                label=f"{site_class}-{counts[site_class]}",
                site_class=site_class,
                level=level,
                position_A=[float(x) for x in position],
                distance_to_edge_A=distance,
                copies=[[float(x) for x in c] for c in copies],
            )
        )
        counts[site_class] += 1
    return sites


def _is_copy(matrix: np.ndarray, position: np.ndarray, copies: list[list[float]]) -> bool:
    copies_arr = np.asarray(copies)
    lateral = np.linalg.norm(inplane_minimum_image(matrix, copies_arr - position), axis=1)
    return bool(np.any((lateral < SITE_TOL_A) & (np.abs(copies_arr[:, 2] - position[2]) < SITE_TOL_A)))


def step_edge_pair(sites: Sequence, cell: np.ndarray) -> tuple[list[float], list[float]]:
    """Return an upper step-edge site and the lower step-edge site at the foot of the *same* step.

    The representatives ``step-edge-upper-0`` and ``step-edge-lower-0`` may sit at different
    steps of the cell; the lower one is replaced by its symmetry copy nearest (in-plane) to
    the upper one, which is at the foot of that step (1.5 row spacings away, the other step's
    foot at least 2.5).

    Parameters
    ----------
    sites
        :class:`StepSite` objects or anything with ``site_class``, ``position_A`` and
        ``copies`` (e.g. ``StepSiteDoc`` of a stored document).
    cell
        Lattice matrix of the slab (rows a, b, c).

    Returns
    -------
    tuple[list[float], list[float]]
        Cartesian positions (Å) of the upper and the lower site.
    """
    upper = next((s for s in sites if s.site_class == "step-edge-upper"), None)
    lower = next((s for s in sites if s.site_class == "step-edge-lower"), None)
    if upper is None or lower is None:
        raise InputError("the slab has no step-edge-upper or no step-edge-lower site")
    copies = np.asarray(lower.copies, dtype=float)
    lateral = np.linalg.norm(inplane_minimum_image(cell, copies - np.asarray(upper.position_A)), axis=1)
    return list(upper.position_A), [float(x) for x in copies[int(np.argmin(lateral))]]
