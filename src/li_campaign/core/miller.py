"""Miller indices of bcc Li facets: parsing, checking, the canonical family member and its label.

Shared by the spec (:mod:`li_campaign.schemas.spec` validates facet lists and enumerates
facets) and the slab geometry (:mod:`li_campaign.geometry`), so it sits below both. pymatgen
is imported only by :func:`distinct_facets`, which keeps ``import li_campaign.schemas.spec``
light.
"""

from __future__ import annotations

import math
from functools import reduce
from typing import TYPE_CHECKING

from li_campaign.core.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

MillerIndex = tuple[int, int, int]

MAX_SUPPORTED_INDEX = 4
"""Largest ``max_index`` accepted: 22 facets; the (443) planes are 0.27 Å apart at a = 3.44 Å."""


def parse_miller(value: object) -> MillerIndex:
    """Parse ``"110"``, ``"1 1 0"``, ``"-1,1,0"`` or ``[1, 1, 0]`` into a Miller index tuple.

    Raises
    ------
    ValueError
        If the value is not three integers or is (0, 0, 0).
    """
    if isinstance(value, str):
        text = value.strip()
        if any(sep in text for sep in (" ", ",")):
            parts = [p for p in text.replace(",", " ").split() if p]
        elif text.lstrip("-").isdigit() and len(text.replace("-", "")) == 3:
            parts, i = [], 0
            while i < len(text):
                step = 2 if text[i] == "-" else 1
                parts.append(text[i : i + step])
                i += step
        else:
            raise ValueError(f"unknown facet {value!r}: expected a Miller index such as '110' or [1, 1, 0]")
        try:
            hkl = tuple(int(p) for p in parts)
        except ValueError as exc:
            raise ValueError(f"unknown facet {value!r}: Miller indices must be integers") from exc
    elif isinstance(value, (list, tuple)):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ValueError(f"unknown facet {value!r}: Miller indices must be integers")
        hkl = tuple(value)
    else:
        raise ValueError(f"unknown facet {value!r}: expected a string like '110' or a list of 3 integers")
    if len(hkl) != 3:
        raise ValueError(f"unknown facet {value!r}: a Miller index has 3 integers")
    if hkl == (0, 0, 0):
        raise ValueError("impossible facet (0, 0, 0): at least one Miller index must be non-zero")
    return hkl  # type: ignore[return-value]


def facet_label(hkl: MillerIndex) -> str:
    """Return the canonical bcc facet label: the cubic family, e.g. (0, -1, 1) -> ``"110"``.

    All members of a cubic {hkl} family are symmetry-equivalent surfaces of bcc Li, so the
    label is the sorted absolute indices, largest first. Indices above 9 are separated by
    ``_``.
    """
    fam = sorted((abs(i) for i in hkl), reverse=True)
    sep = "_" if max(fam) > 9 else ""
    return sep.join(str(i) for i in fam)


def check_miller(miller: Sequence[int]) -> MillerIndex:
    """Return ``miller`` as a tuple of three integers, not all zero.

    Raises
    ------
    InputError
        If it is not three integers, or is (0, 0, 0).
    """
    try:
        hkl = tuple(int(i) for i in miller)
    except (TypeError, ValueError):
        raise InputError(f"Miller index {miller!r}: expected three integers") from None
    if len(hkl) != 3 or any(int(i) != i for i in miller):
        raise InputError(f"Miller index {miller!r}: expected three integers")
    if hkl == (0, 0, 0):
        raise InputError("Miller index (0, 0, 0) does not define a plane: at least one index must be non-zero")
    return hkl  # type: ignore[return-value]


def canonical_miller(hkl: MillerIndex) -> MillerIndex:
    """Return the representative of the cubic {hkl} family: gcd-reduced absolute indices, largest first.

    Its string form is :func:`facet_label`.
    """
    hkl = check_miller(hkl)
    divisor = reduce(math.gcd, (abs(i) for i in hkl))
    return tuple(sorted((abs(i) // divisor for i in hkl), reverse=True))  # type: ignore[return-value]


def _order(hkl: MillerIndex) -> tuple:
    return (max(hkl), sum(i * i for i in hkl), hkl)


def distinct_facets(max_index: int) -> list[MillerIndex]:
    """Return every symmetrically distinct facet of bcc Li with no index above ``max_index``.

    ``get_symmetrically_distinct_miller_indices`` (pymatgen, point group m-3m of the
    conventional cell) gives one member of each family; each is canonicalised
    (:func:`canonical_miller`) and the list is sorted low index first: by largest index,
    then by h² + k² + l².

    Parameters
    ----------
    max_index
        Largest Miller index, 1 to 4.

    Returns
    -------
    list[tuple[int, int, int]]
        E.g. ``[(1, 0, 0), (1, 1, 0), (1, 1, 1)]`` for 1; 6 facets for 2, 13 for 3, 22 for 4.

    Raises
    ------
    InputError
        If ``max_index`` is not an integer from 1 to 4.
    """
    # deferred: pymatgen (also through core.lithium) is heavy, not needed to parse or validate a spec
    from pymatgen.core.surface import get_symmetrically_distinct_miller_indices

    from li_campaign.core.lithium import bcc_li_conventional

    if isinstance(max_index, bool) or not isinstance(max_index, int) or not 1 <= max_index <= MAX_SUPPORTED_INDEX:
        raise InputError(f"max_index = {max_index!r}: must be an integer from 1 to {MAX_SUPPORTED_INDEX}")
    found = get_symmetrically_distinct_miller_indices(bcc_li_conventional(3.44), max_index)
    return sorted({canonical_miller(hkl) for hkl in found}, key=_order)
