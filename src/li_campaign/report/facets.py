"""The report's facet table: one Markdown row per facet (γ, Wulff fraction, adsorption, barriers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


def _yes_no(value: object) -> str:
    return "–" if value is None else ("yes" if value else "no")


def facet_row(row: dict, fmt: Callable[..., str]) -> str:
    """One Markdown row of the facet table (columns as in ``render_markdown``'s header).

    The adsorption minimum is marked *pinned* when no site is stable; the effective barrier
    is followed by its per-direction values, whether the hop network percolates along a and
    b, its path and mechanism; the lowest single hop comes last.
    """
    ads = fmt(row.get("min_adsorption_energy_eV"))
    if row.get("min_adsorption_basis") == "pinned_all_sites":
        ads += " (pinned)"
    by_direction = row.get("effective_barrier_by_direction_eV") or {}
    percolates = row.get("percolates") or {}
    directions = " / ".join(fmt(by_direction.get(d)) for d in ("a", "b")) if by_direction else "–"
    perc = " / ".join(_yes_no(percolates.get(d)) for d in ("a", "b")) if percolates else "–"
    path = " → ".join(row.get("effective_path") or []) or "–"
    return (
        f"| ({row['facet']}) | {fmt(row.get('surface_energy_J_m2'))} | {fmt(row.get('wulff_fraction'))} | "
        f"{ads} | {fmt(row.get('min_site'))} | {fmt(row.get('effective_barrier_eV'))} | {directions} | {perc} | "
        f"{path} | {row.get('effective_mechanism') or '–'} | {fmt(row.get('min_barrier_eV'))} | {fmt(row.get('min_hop'))} |"
    )
