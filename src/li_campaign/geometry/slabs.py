"""Symmetric bcc Li slabs with the surface normal along z, and adatom cells built on them.

The slab itself comes from pymatgen's :class:`~pymatgen.core.surface.SlabGenerator` and the
adatom sites from :class:`~pymatgen.analysis.adsorption.AdsorbateSiteFinder`. Written here:
input checking, layer counting, in-plane repeats and minimum images, the re-typing of
4-fold hollows that the site finder calls bridges, the adatom's starting height, and the
symmetry operations of the top surface with the copies of a site under them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from pymatgen.analysis.adsorption import AdsorbateSiteFinder
from pymatgen.core import Structure
from pymatgen.core.surface import SlabGenerator
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from li_campaign.core.errors import InputError
from li_campaign.core.lithium import bcc_li_conventional
from li_campaign.core.miller import check_miller

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pymatgen.core.operations import SymmOp
    from pymatgen.core.surface import Slab

LAYER_TOL_A = 0.05
"""Atoms whose z differ by less than this (Å) lie in one atomic plane."""
SYMPREC_A = 0.1
"""Symmetry tolerance (Å) for the relaxed slab, as AdsorbateSiteFinder uses."""
COPY_TOL_A = 0.05
"""Two site copies closer than this in-plane (Å) are the same copy."""


def make_symmetric_slab(
    a: float, miller: tuple[int, int, int], min_slab_size_A: float, min_vacuum_A: float
) -> Slab:
    """Build a symmetric bcc Li slab with its surface normal along Cartesian z.

    ``SlabGenerator(center_slab=True, primitive=True, lll_reduce=True,
    allow_smaller_than_ouc=True)`` cuts the slab (the last flag lets pymatgen return the
    primitive surface cell, e.g. 1 atom per plane for (110) or (211), instead of a multiple
    of the oriented unit cell); the first termination passing ``Slab.is_symmetric`` is kept
    and :meth:`~pymatgen.core.surface.Slab.get_orthogonal_c_slab` makes c perpendicular to
    the surface. pymatgen's ``reorient_lattice`` then puts a along x, b in the xy plane and
    c along +z; this is checked.

    Parameters
    ----------
    a
        bcc lattice constant (Å).
    miller
        Miller index of the surface, referred to the conventional cubic cell.
    min_slab_size_A, min_vacuum_A
        Minimum slab and vacuum thickness (Å), as ``SlabGenerator`` counts them.

    Returns
    -------
    Slab
        A pymatgen Slab (a Structure) with fractional coordinates wrapped into the cell.

    Raises
    ------
    InputError
        If ``a`` or a size is not positive, the Miller index is not three integers or is
        (0, 0, 0), or no symmetric termination exists.
    """
    hkl = check_miller(miller)
    if not a > 0:
        raise InputError(f"lattice constant a = {a} Å: must be positive")
    if not min_slab_size_A > 0 or not min_vacuum_A > 0:
        raise InputError(
            f"slab size {min_slab_size_A} Å and vacuum {min_vacuum_A} Å: both must be positive"
        )
    generator = SlabGenerator(
        bcc_li_conventional(a),
        hkl,
        min_slab_size_A,
        min_vacuum_A,
        center_slab=True,
        primitive=True,
        lll_reduce=True,
        allow_smaller_than_ouc=True,
    )
    symmetric = [slab for slab in generator.get_slabs() if slab.is_symmetric()]
    if not symmetric:
        raise InputError(f"facet {hkl}: pymatgen found no symmetric termination of bcc Li")
    slab = symmetric[0].get_orthogonal_c_slab()
    for site in slab:
        site.to_unit_cell(in_place=True)
    matrix = slab.lattice.matrix
    if not (np.allclose(matrix[:2, 2], 0.0, atol=1e-6) and np.allclose(matrix[2, :2], 0.0, atol=1e-6)):
        raise RuntimeError(f"facet {hkl}: the slab lattice is not oriented with c along z: {matrix.tolist()}")
    if matrix[2, 2] <= 0:
        raise RuntimeError(f"facet {hkl}: the slab c vector points along -z")
    return slab


def count_layers(structure: Structure, tol_A: float = LAYER_TOL_A) -> int:
    """Return the number of atomic planes: distinct Cartesian z values within ``tol_A``."""
    z = np.sort(structure.cart_coords[:, 2])
    return int(1 + np.count_nonzero(np.diff(z) > tol_A))


def lateral_repeats(structure: Structure, min_lateral_A: float) -> tuple[int, int]:
    """Return the smallest in-plane repeats (nx, ny) making the 2D cell at least ``min_lateral_A`` wide.

    Both the lengths of the repeated in-plane vectors and the perpendicular widths of the
    repeated 2D cell (the distance between its opposite edges, which is what limits the
    distance to a periodic image in an oblique cell) must reach ``min_lateral_A``. A width
    never exceeds the length of the vector it spans (width along a = area / |b| ≤ |a|), so
    the widths decide.

    Parameters
    ----------
    structure
        A slab with a, b in the xy plane.
    min_lateral_A
        Minimum in-plane size (Å).

    Returns
    -------
    tuple[int, int]
        Repeats along a and b.
    """
    if not min_lateral_A > 0:
        raise InputError(f"min_lateral_A = {min_lateral_A} Å: must be positive")
    vec_a, vec_b = structure.lattice.matrix[0, :2], structure.lattice.matrix[1, :2]
    len_a, len_b = float(np.linalg.norm(vec_a)), float(np.linalg.norm(vec_b))
    area = abs(float(vec_a[0] * vec_b[1] - vec_a[1] * vec_b[0]))
    width_a, width_b = area / len_b, area / len_a  # distances between the edges parallel to b, to a
    return max(math.ceil(min_lateral_A / width_a - 1e-9), 1), max(math.ceil(min_lateral_A / width_b - 1e-9), 1)


def shortest_inplane_translation(structure: Structure, repeats: tuple[int, int] = (1, 1)) -> float:
    """Length (Å) of the shortest nonzero in-plane lattice translation of ``structure`` repeated ``repeats`` times.

    It is the distance from an adatom to its nearest periodic image in that supercell.
    """
    a = repeats[0] * structure.lattice.matrix[0, :2]
    b = repeats[1] * structure.lattice.matrix[1, :2]
    # a Gauss-reduced basis has its shortest vector among i*a + j*b with |i|, |j| <= 1; these
    # cells are not reduced, so a wider search (|i|, |j| <= 4) is taken
    return min(float(np.linalg.norm(i * a + j * b)) for i in range(-4, 5) for j in range(-4, 5) if (i, j) != (0, 0))


def image_repeats(structure: Structure, min_image_A: float) -> tuple[int, int]:
    """Return the in-plane repeats (nx, ny) with the fewest atoms whose periodic images are ``min_image_A`` apart.

    Unlike :func:`lateral_repeats` (both cell widths at least the target, which bounds the
    image distance from below), the criterion is the image distance itself
    (:func:`shortest_inplane_translation`), so an oblique cell is not repeated more than it
    needs: the rhombic bcc(110) cell (|a| = |b| = √3a₀/2, 109.47°) repeated 2×2 has its images
    √3a₀ = 5.96 Å apart (at a₀ = 3.44 Å) although its width is only 5.62 Å. Ties in cell size go to the
    more compact cell (larger image distance).
    """
    most = lateral_repeats(structure, min_image_A)  # sufficient, so the answer lies within it
    candidates = [
        (nx * ny, -shortest_inplane_translation(structure, (nx, ny)), (nx, ny))
        for nx in range(1, most[0] + 1)
        for ny in range(1, most[1] + 1)
        if shortest_inplane_translation(structure, (nx, ny)) >= min_image_A - 1e-9
    ]
    return min(candidates)[2]


def inplane_minimum_image(cell: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Return the shortest periodic images of in-plane displacement vectors.

    Parameters
    ----------
    cell
        Lattice matrix (rows a, b, c) with a, b in the xy plane.
    vectors
        Displacements, shape (N, 2) or (N, 3); only x and y are used.

    Returns
    -------
    numpy.ndarray
        Shape (N, 2): the xy displacement of the nearest image, searching the 3 × 3
        neighbouring images after wrapping. That is exact for reduced in-plane cells such as
        the facet cells (checked against a brute-force search for all 22 facets up to index 4
        and their supercells up to 4 × 4); a strongly skewed cell can need more images.

    Notes
    -----
    Written by hand, not ASE's ``find_mic(v, cell, pbc=(1, 1, 0))``: that gives the same
    lengths (to 1e-14 Å) but breaks ties between equally short images differently, and
    callers use the vector itself where ties are the rule (a displacement of half a lattice
    vector): the hop direction of :func:`li_campaign.active.explore.hop_path`, the end points
    of exchange paths, the continued step-edge sites. Measured on facet cells: 942 of 4 431
    displacements of halves, thirds and quarters of lattice vectors get the opposite, equally
    long, image from ASE (e.g. the (100) 2 × 2 hop: (0, -3.44) here, (3.44, 0) after the
    tie-break of ``hop_path`` with ASE), which would move the geometries, and so the labels, of
    stored campaigns. ASE is also about 4× slower per call for a single vector.
    """
    plane = np.asarray(cell, dtype=float)[:2, :2]
    xy = np.atleast_2d(np.asarray(vectors, dtype=float))[:, :2]
    frac = np.linalg.solve(plane.T, xy.T).T
    frac -= np.round(frac)
    shifts = np.array([[i, j] for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=float)
    images = (frac[:, None, :] + shifts[None, :, :]) @ plane  # (N, 9, 2)
    best = np.argmin(np.linalg.norm(images, axis=2), axis=1)
    return images[np.arange(len(xy)), best]


def nearest_neighbour_distance(structure: Structure) -> float:
    """Return the shortest interatomic distance in a periodic structure (Å)."""
    _, _, _, distances = structure.get_neighbor_list(r=8.0)
    return float(distances[distances > 1e-8].min())


def top_surface_sites(slab: Structure) -> dict[str, list[np.ndarray]]:
    """Return the symmetry-distinct ontop, bridge and hollow sites of the top surface.

    Sites come from ``AdsorbateSiteFinder(...).find_adsorption_sites`` (Delaunay
    triangulation of the top-surface atoms, symmetry-reduced) at ``distance=0``, i.e. at the
    height of the surface atoms. pymatgen's triangulation treats 4-fold meshes such as
    bcc(100) as right triangles: it drops their centres as obtuse and returns the 4-fold
    hollow as the midpoint of a diagonal, typed ``bridge``. Written here by hand: a
    ``bridge`` site with three or more surface atoms at the same (shortest) lateral distance
    (within 0.1 Å) is re-typed ``hollow``.

    The sites of each type are ordered by their environment (:func:`_environment`), not by
    the triangulation's order, which changes with round-off-level differences of a relaxed
    slab (e.g. GPU vs CPU forces): so ``bridge-0`` names the same site in every run.

    Parameters
    ----------
    slab
        Slab with its surface normal along z.

    Returns
    -------
    dict[str, list[numpy.ndarray]]
        Cartesian site positions keyed ``"ontop"``, ``"bridge"``, ``"hollow"``.
    """
    finder = AdsorbateSiteFinder(slab, selective_dynamics=False)
    found = finder.find_adsorption_sites(distance=0.0, positions=("ontop", "bridge", "hollow"))
    surface = np.array([site.coords for site in finder.surface_sites])
    sites: dict[str, list[np.ndarray]] = {"ontop": list(found["ontop"]), "bridge": [], "hollow": list(found["hollow"])}
    for position in found["bridge"]:
        lateral = np.linalg.norm(inplane_minimum_image(slab.lattice.matrix, surface - position), axis=1)
        fold = int(np.count_nonzero(lateral < lateral.min() + 0.1))
        sites["hollow" if fold >= 3 else "bridge"].append(position)
    return {kind: sorted(positions, key=lambda p: _environment(slab, p)) for kind, positions in sites.items()}


def _environment(slab: Structure, position: np.ndarray, n_neighbours: int = 8) -> tuple[float, ...]:
    """Distances (Å, rounded to 0.01) from ``position`` to its nearest slab atoms: the same for symmetry copies."""
    distances = slab.lattice.get_all_distances(slab.lattice.get_fractional_coords(position), slab.frac_coords)[0]
    return tuple(np.round(np.sort(distances)[:n_neighbours], 2))


def adatom_start_position(slab: Structure, site: np.ndarray, bond_A: float) -> np.ndarray:
    """Return the position above ``site`` (same x, y) whose nearest slab atom is ``bond_A`` away.

    Written by hand (AdsorbateSiteFinder places adsorbates at a fixed distance along the
    normal, which is too close on top of an atom and too far in a deep hollow): the height
    is the lowest z at which no slab atom is closer than ``bond_A``.
    """
    position = np.asarray(site, dtype=float)
    coords = slab.cart_coords
    lateral = np.linalg.norm(inplane_minimum_image(slab.lattice.matrix, coords - position), axis=1)
    near = lateral < bond_A
    z = np.max(coords[near, 2] + np.sqrt(bond_A**2 - lateral[near] ** 2))
    return np.array([position[0], position[1], z])


def add_adatom(slab: Structure, position_cart: Sequence[float]) -> Structure:
    """Return a copy of ``slab`` with one Li added at a Cartesian position (Å)."""
    out = slab.copy()
    out.append("Li", np.asarray(position_cart, dtype=float), coords_are_cartesian=True)
    return out


def adatom_slabs(slab: Structure, min_lateral_A: float) -> list[tuple[str, Structure]]:
    """Return one adatom cell per symmetry-distinct top-surface site: ``[(site label, cell), ...]``.

    Sites come from :func:`top_surface_sites`, labelled ``<type>-<i>``, ordered hollow,
    bridge, ontop, then the second site of each type, and so on (so a prefix of the list
    covers every site type);
    the adatom starts where its nearest slab atom is one bulk nearest-neighbour distance away.
    """
    nx, ny = lateral_repeats(slab, min_lateral_A)
    supercell = slab.copy()
    supercell.make_supercell([nx, ny, 1])
    bond = nearest_neighbour_distance(supercell)
    sites = top_surface_sites(supercell)
    rounds = max(len(found) for found in sites.values())
    return [
        (f"{kind}-{i}", add_adatom(supercell, adatom_start_position(supercell, sites[kind][i], bond)))
        for i in range(rounds)
        for kind in ("hollow", "bridge", "ontop")
        if i < len(sites[kind])
    ]


def top_surface_operations(structure: Structure) -> list[SymmOp]:
    """Return the slab's symmetry operations (fractional) that map the top surface onto itself.

    These are the SpacegroupAnalyzer operations whose fractional z row is (0, 0, 1) with no
    z translation, i.e. those that neither flip nor shift the slab along its normal.
    """
    plain = Structure(structure.lattice, structure.species, structure.frac_coords)
    operations = SpacegroupAnalyzer(plain, symprec=SYMPREC_A).get_symmetry_operations()
    return [
        op
        for op in operations
        if np.allclose(op.rotation_matrix[2], [0, 0, 1])
        and abs(op.translation_vector[2] - round(op.translation_vector[2])) < 1e-3
    ]


def symmetry_copies(structure: Structure, position: np.ndarray, operations: list[SymmOp]) -> list[np.ndarray]:
    """Return every symmetry-equivalent copy of a site in the cell, the site itself first.

    Written by hand (pymatgen reduces sites by symmetry but does not list their copies):
    each operation is applied to the fractional position, x and y are wrapped into the
    cell, z is kept, and copies closer than ``COPY_TOL_A`` in-plane are merged.

    Parameters
    ----------
    structure
        The slab whose lattice the operations refer to.
    position
        Cartesian site position (Å).
    operations
        Fractional operations from :func:`top_surface_operations`.

    Returns
    -------
    list[numpy.ndarray]
        Cartesian positions (Å), all at the height of ``position``.
    """
    lattice = structure.lattice
    frac = lattice.get_fractional_coords(position)
    copies: list[np.ndarray] = []
    for image in [frac, *(op.operate(frac) for op in operations)]:
        wrapped = np.array([image[0] % 1.0, image[1] % 1.0, frac[2]])
        cart = lattice.get_cartesian_coords(wrapped)
        if not copies or np.min(
            np.linalg.norm(inplane_minimum_image(lattice.matrix, np.array(copies) - cart), axis=1)
        ) > COPY_TOL_A:
            copies.append(cart)
    return copies
