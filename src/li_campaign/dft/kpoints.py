"""Monkhorst–Pack mesh sizes from a k-point spacing, and meshes commensurate between a slab and its supercells.

The k-spacing rule alone (:func:`kmesh_from_spacing`) gives a slab of in-plane vectors a, b
the mesh ceil(2π|b_a|/k) and its n_x × n_y supercell ceil(2π|b_a|/(n_x k)), which is in
general *not* the slab's mesh divided by n_x: the two cells then sample different k-point
sets and E(slab + adatom) − E(slab) carries k-point noise. :func:`commensurate_kmesh` fixes
this: the in-plane mesh of the slab (the facet's primitive surface cell) is rounded up to a
multiple of the adatom supercell's repeats, and a supercell gets exactly the slab's mesh
divided by its repeats (:func:`supercell_kmesh`). With Γ-centred meshes the two k-point sets
are then equivalent: every k-point of the slab folds onto one of the supercell's (checked in
``tests/dft/test_kpoints.py`` with ASE's Γ-centred Monkhorst–Pack points, which GPAW gets from
``kpts={"size": mesh, "gamma": True}``), so E(n_x × n_y slab) = n_x n_y E(slab) holds to SCF accuracy.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from li_campaign.schemas.spec import DftSpec


def kmesh_from_spacing(cell: np.ndarray, kspacing: float, periodic: tuple[bool, bool, bool] = (True,) * 3) -> list[int]:
    """Return n_i = ceil(2π |b_i| / kspacing) per reciprocal vector (1 along non-periodic axes).

    Written by hand, not ASE's ``kptdensity2monkhorstpack(atoms, 1 / kspacing, even=False)``: that
    is the same rule without a tolerance, so where 2π|b_i|/kspacing is an integer up to float
    round-off (e.g. 11.000000000000002 for a 9.03 Å cubic cell at kspacing 2π/(11 · 9.03)) ASE
    takes one k-point more. On such boundary cells (cubic 3.0–10.8 Å, kspacing 2π/(L·N)) 838 of 4392
    meshes differ; on 20 000 random cells and spacings none do. Changing the mesh would change
    the DFT labels and settings (reuse keys) of stored campaigns. ``even=True`` (ASE's default)
    rounds up to even counts, which VASP's KSPACING rule does not.

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


def _pair(value: Sequence[int], name: str) -> tuple[int, int]:
    pair = tuple(int(v) for v in value)
    if len(pair) != 2 or min(pair) < 1 or any(int(v) != v for v in value):
        raise ValueError(f"{name} {tuple(value)!r}: expected two positive integers (in-plane repeats along a, b)")
    return pair  # type: ignore[return-value]


def supercell_kmesh(mesh: Sequence[int], repeats: Sequence[int]) -> list[int]:
    """Return the mesh of an ``repeats[0] × repeats[1]`` in-plane supercell equivalent to ``mesh`` of its cell.

    Exactly ``(mesh[0] / n_x, mesh[1] / n_y, mesh[2])``: a Γ-centred mesh of the supercell that
    holds the same k-points (after folding) as ``mesh`` of the cell.

    Raises
    ------
    ValueError
        If a repeat does not divide the mesh (no equivalent supercell mesh exists); build the
        cell's mesh with :func:`commensurate_kmesh` (``multiple=repeats``) to avoid it.
    """
    nx, ny = _pair(repeats, "repeats")
    kx, ky, kz = (int(k) for k in mesh)
    if kx % nx or ky % ny:
        raise ValueError(
            f"k-mesh {(kx, ky, kz)} is not divisible by the supercell repeats {(nx, ny)}: "
            "round the slab's mesh up to a multiple of the repeats (commensurate_kmesh)"
        )
    return [kx // nx, ky // ny, kz]


def commensurate_kmesh(
    cell: np.ndarray, kspacing: float, repeats: Sequence[int] = (1, 1), multiple: Sequence[int] = (1, 1)
) -> list[int]:
    """Return the Γ-centred mesh of a slab-type cell, commensurate with the other cells of its facet.

    The cell is ``repeats`` (n_x, n_y) times a reference in-plane cell (the facet's slab, whose
    in-plane vectors are a/n_x and b/n_y). The reference cell's mesh is the k-spacing rule
    (:func:`kmesh_from_spacing`, one k-point along z) with each in-plane count rounded up to a
    multiple of ``multiple`` (the repeats of every supercell of the reference used for that
    facet); the cell's mesh is that divided by ``repeats`` (:func:`supercell_kmesh`). So the
    slab (``repeats=(1, 1)``) and its adatom supercell (``repeats = multiple = (n_x, n_y)``) get
    the meshes (k_x, k_y, 1) and (k_x/n_x, k_y/n_y, 1): equivalent k-point sets, and both at
    least as dense as ``kspacing`` asks. With ``repeats = multiple = (1, 1)`` this is the plain
    k-spacing rule.

    Parameters
    ----------
    cell
        3x3 lattice vectors (rows, Å) of the cell with a, b in the surface plane.
    kspacing
        Largest allowed k-point spacing of the reference cell (1/Å).
    repeats
        In-plane repeats of this cell relative to the reference cell.
    multiple
        The reference cell's in-plane mesh is rounded up to a multiple of these; each must be
        a multiple of the corresponding repeat.

    Raises
    ------
    ValueError
        If a repeat does not divide the corresponding ``multiple``.
    """
    nx, ny = _pair(repeats, "repeats")
    mx, my = _pair(multiple, "multiple")
    if mx % nx or my % ny:
        raise ValueError(f"repeats {(nx, ny)} must divide multiple {(mx, my)}: the supercell mesh would not be exact")
    reference = np.array(cell, dtype=float)
    reference[0] /= nx
    reference[1] /= ny
    kx, ky, kz = kmesh_from_spacing(reference, kspacing, (True, True, False))
    base = [mx * math.ceil(kx / mx), my * math.ceil(ky / my), kz]
    return supercell_kmesh(base, (nx, ny))


def engine_kspacing(dft: DftSpec) -> float | None:
    """The k-point spacing (1/Å) of the engine of ``dft``: GPAW's or VASP's; None for an engine without k-points (Morse)."""
    section = getattr(dft, dft.engine, None)
    return getattr(section, "kspacing_inv_A", None)
