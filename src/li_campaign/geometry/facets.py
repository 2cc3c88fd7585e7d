"""Every symmetrically distinct bcc Li facet up to a maximum Miller index, and slabs of a given thickness.

The facets come from pymatgen's ``get_symmetrically_distinct_miller_indices`` on the
conventional cubic cell (:func:`li_campaign.core.miller.distinct_facets`)
and the slabs from :func:`li_campaign.geometry.slabs.make_symmetric_slab` (pymatgen
``SlabGenerator``). Written here: the bcc interplanar spacing, and the trimming of a slab to an exact number of atomic planes at an exact vacuum.

Termination
-----------
bcc is a Bravais lattice with one atom per lattice point, so every atomic plane of a given
(hkl) is the same 2D net and the planes differ only by a rigid in-plane shift: a facet has a
single termination. pymatgen's ``SlabGenerator.get_slabs`` indeed returns exactly one
termination for every facet up to index 4 (:func:`termination_shifts`; checked in
``tests/structures/test_facets.py``), and a slab of any number of planes of a Bravais lattice
is inversion-symmetric about its centre, so it is always a symmetric slab.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from pymatgen.core import Structure
from pymatgen.core.surface import SlabGenerator
from pymatgen.io.ase import AseAtomsAdaptor

from li_campaign.core.errors import InputError
from li_campaign.core.lithium import bcc_li_conventional
from li_campaign.core.miller import canonical_miller, check_miller
from li_campaign.geometry.slabs import make_symmetric_slab

if TYPE_CHECKING:
    from li_campaign.core.miller import MillerIndex


def is_high_index(hkl: MillerIndex) -> bool:
    """Return True if any index of the reduced facet exceeds 1 (i.e. not (100), (110) or (111))."""
    return max(canonical_miller(hkl)) > 1


def interplanar_spacing(a: float, hkl: MillerIndex) -> float:
    """Return the distance between neighbouring atomic (hkl) planes of bcc with lattice constant ``a`` (Å).

    With (hkl) reduced and N = h² + k² + l²: a/√N if h + k + l is even (the (hkl) planes of
    the cubic lattice already contain the body centres), else a/(2√N) (the body centres add
    a plane halfway).
    """
    h, k, l = canonical_miller(hkl)
    n = h * h + k * k + l * l
    return a / math.sqrt(n) if (h + k + l) % 2 == 0 else a / (2.0 * math.sqrt(n))


def termination_shifts(a: float, hkl: MillerIndex) -> list[float]:
    """Return the shifts of every termination pymatgen's ``SlabGenerator.get_slabs`` finds for a facet.

    For bcc Li this is always a single shift (see the module docstring).
    """
    generator = SlabGenerator(
        bcc_li_conventional(a), check_miller(hkl), 4.0, 4.0, primitive=True, lll_reduce=True, allow_smaller_than_ouc=True
    )
    return [float(slab.shift) for slab in generator.get_slabs()]


def slab_with_layers(a: float, hkl: MillerIndex, n_layers: int, vacuum_A: float) -> Structure:
    """Return a symmetric bcc Li slab of exactly ``n_layers`` atomic planes and ``vacuum_A`` of vacuum.

    A slab at least ``n_layers`` planes thick is cut by
    :func:`~li_campaign.geometry.slabs.make_symmetric_slab` (laterally primitive: one atom
    per plane), the planes above the lowest ``n_layers`` are removed and the vacuum is set by
    ASE's ``Atoms.center(vacuum_A / 2, axis=2)`` (c along z becomes thickness + ``vacuum_A``, the
    atoms centred). Written by hand because pymatgen's thickness comes in steps of several planes
    for most facets (and its vacuum in multiples of the oriented-cell height); removing whole
    planes of a Bravais lattice keeps the slab inversion-symmetric.

    Parameters
    ----------
    a
        bcc lattice constant (Å).
    hkl
        Facet.
    n_layers
        Number of atomic planes, at least 2.
    vacuum_A
        Vacuum thickness (Å).

    Returns
    -------
    Structure
        Slab with a, b in the xy plane and c along z.
    """
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 2:
        raise InputError(f"n_layers = {n_layers!r}: a slab needs at least 2 atomic planes")
    if not vacuum_A > 0:
        raise InputError(f"vacuum {vacuum_A} Å: must be positive")
    spacing = interplanar_spacing(a, hkl)
    slab = make_symmetric_slab(a, hkl, (n_layers + 1) * spacing, max(vacuum_A, 5.0))
    z = slab.cart_coords[:, 2]
    levels = np.unique(np.round((z - z.min()) / spacing).astype(int))
    if len(levels) < n_layers:
        raise RuntimeError(f"facet {hkl}: pymatgen gave {len(levels)} planes, {n_layers} were asked for")
    keep = np.flatnonzero(z - z.min() < (n_layers - 0.5) * spacing)
    trimmed = Structure(slab.lattice, [slab.species[i] for i in keep], slab.cart_coords[keep], coords_are_cartesian=True)
    atoms = AseAtomsAdaptor.get_atoms(trimmed)
    atoms.center(vacuum=0.5 * vacuum_A, axis=2)  # c is along z (make_symmetric_slab)
    out = AseAtomsAdaptor.get_structure(atoms)
    counts = np.bincount(np.round((out.cart_coords[:, 2] - out.cart_coords[:, 2].min()) / spacing).astype(int))
    if len(counts) != n_layers or counts.min() != counts.max():
        raise RuntimeError(f"facet {hkl}: the trimmed slab is not {n_layers} whole planes: atoms per plane {counts.tolist()}")
    return out
