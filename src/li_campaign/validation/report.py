"""The validation page of the report: the teacher spot checks of the model, a table and a parity plot.

Reads the ``validation`` collection (:class:`~li_campaign.validation.builders.ValidationBuilder`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from li_campaign.schemas.registry import result_type

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

#: Fields of each check in ``report --json`` ``validation.checks``.
CHECK_FIELDS = (
    "quantity", "facet", "item", "unit", "model", "dft", "error", "threshold", "status", "reason", "model_reported",
    "geometry", "n_atoms", "frame_ids",
)  # fmt: skip
NOT_RUN = "no teacher spot checks for this model (validation disabled, not run yet, or failed): not validated"


def validation_section(docs: list[dict]) -> dict:
    """``report --json`` ``validation`` from the model's ``validation`` documents (the newest run counts).

    Returns
    -------
    dict
        ``validated`` (every check passed), ``reason`` (why not), the counts, ``thresholds``,
        ``refused_frames``, ``notes`` and ``checks`` (:data:`CHECK_FIELDS`).
    """
    doc = max(docs, key=lambda d: d["completed_at"], default=None)
    if doc is None:
        return {"validated": False, "reason": NOT_RUN, **result_type("validation").reported(None), "checks": []}
    checks = [{field: check.get(field) for field in CHECK_FIELDS} for check in doc.get("checks") or []]
    reason = None
    if not doc.get("passed"):
        reason = (
            f"{doc['n_failed']} failed, {doc['n_refused']} refused and {doc['n_skipped']} skipped of "
            f"{doc['n_checks']} teacher spot checks: not validated"
        )
    return {
        "validated": bool(doc.get("passed")),
        "reason": reason,
        **result_type("validation").reported(doc),
        "checks": checks,
    }


def validation_markdown(section: dict, fmt: Callable[[object, int], str]) -> list[str]:
    """The report's validation section: verdict, one row per check, refused frames."""
    verdict = (
        "**validated**: every teacher spot check passed"
        if section["validated"]
        else f"**not validated**: {section['reason']}"
    )
    lines = ["", "## Teacher spot checks (validation)", "", verdict + "."]
    if not section["checks"]:
        return [*lines, ""]
    lines += [
        "",
        f"Teacher: {section['engine']}, the campaign's label settings, at the model's own geometries (model and DFT "
        "on identical structures; error = model − DFT).",
        "",
        "| quantity | facet | site / hop | model | DFT | error | threshold | unit | status | note |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for check in section["checks"]:
        note = check["reason"] or check["geometry"]
        lines.append(
            f"| {check['quantity']} | {check['facet'] or '–'} | {check['item']} | {fmt(check['model'], 3)} | "
            f"{fmt(check['dft'], 3)} | {fmt(check['error'], 3)} | {check['threshold']:g} | {check['unit']} | "
            f"{check['status']} | {note} |"
        )
    for frame_id, reason in (section.get("refused_frames") or {}).items():
        lines.append(f"\nRefused teacher frame `{frame_id}`: {reason}.")
    return [*lines, "", "![validation](validation.png)", ""]


def plot_validation(section: dict, path: Path) -> None:
    """Parity of the spot-checked adsorption energies and barriers: model against the teacher, with the tolerance band."""
    fig = Figure(figsize=(8, 3.8), layout="constrained")
    for ax, quantity in zip(fig.subplots(1, 2), ("adsorption_energy", "barrier")):
        rows = [c for c in section["checks"] if c["quantity"] == quantity and c["dft"] is not None]
        for status, colour in (("pass", "C0"), ("fail", "C3")):
            chosen = [c for c in rows if c["status"] == status]
            ax.scatter([c["dft"] for c in chosen], [c["model"] for c in chosen], s=18, color=colour, label=status)
        for c in rows:
            ax.annotate(
                c["facet"] or "", (c["dft"], c["model"]), fontsize="x-small", xytext=(3, 3), textcoords="offset points"
            )
        if rows:
            values = [c["dft"] for c in rows] + [c["model"] for c in rows]
            lo, hi = min(values) - 0.1, max(values) + 0.1
            tol = rows[0]["threshold"]
            ax.plot([lo, hi], [lo, hi], color="k", lw=0.8)
            ax.fill_between([lo, hi], [lo - tol, hi - tol], [lo + tol, hi + tol], color="0.85", zorder=0)
            ax.legend(fontsize="small")
        ax.set_xlabel(f"DFT {quantity.replace('_', ' ')} (eV)")
        ax.set_ylabel(f"model {quantity.replace('_', ' ')} (eV)")
        ax.set_title(f"{len(rows)} spot checks" if rows else "no spot checks", fontsize="medium")
    FigureCanvasAgg(fig).print_png(path)
