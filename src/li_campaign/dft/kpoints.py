"""Monkhorst–Pack mesh sizes from a k-point spacing."""

from __future__ import annotations

import math

import numpy as np


def kmesh_from_spacing(cell: np.ndarray, kspacing: float, periodic: tuple[bool, bool, bool] = (True,) * 3) -> list[int]:
    """Return n_i = ceil(2π |b_i| / kspacing) per reciprocal vector (1 along non-periodic axes).

    Parameters
    ----------
    cell
        3x3 lattice vectors (rows, Å).
    kspacing
        Largest allowed spacing between k-points (1/Å), the VASP KSPACING convention.
    periodic
        Which axes are periodic; a slab's vacuum axis gets one k-point.
    """
    reciprocal = np.linalg.inv(np.asarray(cell, dtype=float)).T  # rows b_i without the 2π
    lengths = 2.0 * math.pi * np.linalg.norm(reciprocal, axis=1)
    return [max(1, math.ceil(length / kspacing - 1e-9)) if per else 1 for length, per in zip(lengths, periodic)]
