"""The active-learning page of the report: one row per iteration and the convergence plot.

Reads the ``active_learning`` collection (:class:`~li_campaign.active.builders.ActiveLearningBuilder`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from li_campaign.core.formatting import fmt
from li_campaign.schemas.registry import result_type

if TYPE_CHECKING:
    from pathlib import Path


def active_learning_rows(docs: list[dict]) -> list[dict]:
    """Return one object per iteration (the registered report fields of ``active_learning``), in iteration order."""
    return [result_type("active_learning").reported(doc) for doc in sorted(docs, key=lambda d: d["iteration"])]


def committee_members(docs: list[dict]) -> set[str]:
    """Return the sha256 of every committee member (the report's default model is not one of them)."""
    return {sha for doc in docs for sha in doc.get("member_sha256s", [])}


def _spot_checks(row: dict) -> str:
    """``passed``/``failed`` and the largest error per quantity of an iteration's spot checks, or –."""
    if row.get("spot_checks_passed") is None:
        return "–"
    errors = ", ".join(f"{q} {e:.3f}" for q, e in sorted((row.get("spot_check_max_abs_error") or {}).items()))
    return f"{'passed' if row['spot_checks_passed'] else 'failed'} ({errors})"


def active_learning_markdown(rows: list[dict]) -> list[str]:
    """Markdown lines of the active-learning table (nothing when the campaign has no loop)."""
    if not rows:
        return []
    lines = [
        "## Active learning",
        "",
        f"Trust levels on the committee's max atomic force std σ: {rows[0]['trust_lower_eV_A']} ≤ σ < "
        f"{rows[0]['trust_upper_eV_A']} eV/Å is a candidate; at or above the upper level, failed exploration. "
        "Holdout errors are the committee mean's on frames no member trained on.",
        "",
        "| iteration | training frames | explored (fan-out) | accurate | candidates | failed | labelled | "
        "force MAE (meV/Å) | energy MAE (meV/atom) | spot checks: largest \\|error\\| | stop |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['iteration']} | {r['n_training_frames']} | {r['n_explored']} ({r.get('n_fanout_frames') or 0}) | "
        f"{fmt(r['accurate_fraction'])} | {r['n_candidates']} ({fmt(r['candidate_fraction'])}) | "
        f"{fmt(r['failed_fraction'])} | {r['n_selected']} | {fmt(r['force_mae_meV_A'], 1)} | "
        f"{fmt(r['energy_mae_meV_atom'], 2)} | {_spot_checks(r)} | {fmt(r['stop_reason'])} |"
        for r in rows
    ]
    return [*lines, "", "![active learning](active_learning.png)", ""]


def plot_active_learning(rows: list[dict], path: Path) -> None:
    """Candidate/accurate/failed fractions and holdout force MAE per iteration (a note without a loop)."""
    fig = Figure(figsize=(6.4, 3.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    if not rows:
        left.text(0.5, 0.5, "no active-learning iterations", ha="center", va="center", transform=left.transAxes)
        right.set_axis_off()
    else:
        it = [r["iteration"] for r in rows]
        for key, style in (("candidate_fraction", "o-"), ("accurate_fraction", "s--"), ("failed_fraction", "x:")):
            left.plot(it, [r[key] for r in rows], style, label=key.removesuffix("_fraction"))
        left.set_xlabel("iteration")
        left.set_ylabel("fraction of explored frames")
        left.set_ylim(-0.02, 1.02)
        left.legend(fontsize=8)
        right.plot(it, [r["force_mae_meV_A"] for r in rows], "o-", color="C3")
        right.set_xlabel("iteration")
        right.set_ylabel("holdout force MAE (meV/Å)", color="C3")
        twin = right.twinx()
        twin.plot(it, [r["n_training_frames"] for r in rows], "s--", color="C0")
        twin.set_ylabel("training frames", color="C0")
        for ax in (left, right):
            ax.set_xticks(it)
    FigureCanvasAgg(fig).print_figure(path, dpi=120)
