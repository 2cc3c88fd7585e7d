"""bcc lithium structures and the checks every input structure must pass."""

from __future__ import annotations

import numpy as np
from pymatgen.core import Lattice, Structure

from li_campaign.core.errors import InputError


def bcc_li_conventional(a: float) -> Structure:
    """Return the 2-atom conventional cubic cell of bcc Li with lattice constant ``a`` (Å)."""
    return Structure(Lattice.cubic(a), ["Li", "Li"], [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]])


def check_lithium_structure(structure: Structure, what: str = "structure") -> None:
    """Raise :class:`InputError` unless ``structure`` is periodic, Li-only and not overlapping.

    Parameters
    ----------
    structure
        The structure to check.
    what
        A name for the structure used in the error message.
    """
    if not isinstance(structure, Structure):
        raise InputError(f"{what}: a periodic pymatgen Structure is required, got {type(structure).__name__}")
    if not all(structure.lattice.pbc):
        raise InputError(f"{what}: periodic boundary conditions {structure.lattice.pbc}; a periodic 3D cell is required")
    elements = {el.symbol for el in structure.composition.elements}
    if elements != {"Li"}:
        raise InputError(f"{what}: li-campaign handles lithium only, got elements {sorted(elements)}")
    if structure.lattice.volume <= 1e-6:
        raise InputError(f"{what}: the cell has zero volume, a periodic 3D cell is required")
    if len(structure) > 1:
        distances = structure.distance_matrix[~np.eye(len(structure), dtype=bool)]
        dmin = float(distances.min())
        if dmin < 1.0:
            raise InputError(f"{what}: two Li atoms are {dmin:.2f} Å apart (< 1.0 Å); the structure is broken")
