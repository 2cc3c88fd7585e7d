"""Numbers in the report's Markdown tables: one format for every section."""

from __future__ import annotations

MISSING = "–"
"""Shown where a value is missing (a failed or absent calculation)."""


def fmt(value: object, digits: int = 3) -> str:
    """A float with ``digits`` decimals, anything else as ``str``, :data:`MISSING` for None."""
    if value is None:
        return MISSING
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def fmt_significant(value: object, digits: int = 3) -> str:
    """A float with ``digits`` significant figures (prefactors, rates that span decades), else as :func:`fmt`."""
    if value is None:
        return MISSING
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)
