"""Active-learning iterations: ``active_learning_iteration`` outputs -> ``active_learning`` (one document per iteration)."""

from __future__ import annotations

import numpy as np

from li_campaign.builders.base import JobOutputMapBuilder, provenance_fields

_ITERATION_FIELDS = (
    "iteration_id",
    "iteration",
    "committee_id",
    "member_sha256s",
    "n_training_frames",
    "n_holdout_frames",
    "n_explored",
    "n_accurate",
    "n_candidates",
    "n_failed",
    "accurate_fraction",
    "candidate_fraction",
    "failed_fraction",
    "candidates_by_origin",
    "failed_by_origin",
    "trust_lower_eV_A",
    "trust_upper_eV_A",
    "converged",
    "stop_reason",
    "exploration_wall_time_s",
    "max_force_std_eV_A",
    "n_fanout_frames",
    "spot_checks_passed",
)
_CHECK_FIELDS = ("quantity", "facet", "item", "model", "dft", "error", "threshold", "status")
_HOLDOUT_FIELDS = ("energy_mae_meV_atom", "energy_rmse_meV_atom", "force_mae_meV_A", "force_rmse_meV_A", "stress_mae_meV_A3")


class ActiveLearningBuilder(JobOutputMapBuilder):
    """One flat document per active-learning iteration, keyed by ``iteration_id``.

    The committee-mean holdout errors are flattened (``force_mae_meV_A``, ...), the selected
    frames are reduced to ``n_selected`` and their origins and labels (no structures), and
    the σ of every explored frame is kept with its median and maximum, for the report's
    convergence plot.
    """

    doc_type = "active_learning_iteration"
    target_key_path = "output.iteration_id"
    output_fields = (
        *_ITERATION_FIELDS,
        "holdout",
        "spot_checks",
        "selected.origin",
        "selected.label",
        *(f"provenance.{field}" for field in ("campaign", "spec_hash", "model_sha256", "code_version")),
    )

    def unary_function(self, item: dict) -> dict:
        """Flatten an :class:`~li_campaign.schemas.active.ActiveLearningIterationDoc`."""
        out = item["output"]
        sigma = np.asarray(out["max_force_std_eV_A"], dtype=float)
        finite = sigma[np.isfinite(sigma)]
        selected = out.get("selected", [])
        return {
            **provenance_fields(out),
            **{field: out[field] for field in _ITERATION_FIELDS if field in out},
            **{field: out["holdout"].get(field) for field in _HOLDOUT_FIELDS},
            "n_selected": len(selected),
            "selected_origins": [s["origin"] for s in selected],
            "selected_labels": [s["label"] for s in selected],
            "median_force_std_eV_A": float(np.median(finite)) if len(finite) else None,
            "max_force_std_max_eV_A": float(finite.max()) if len(finite) else None,
            "spot_checks": _checks(out.get("spot_checks")),
            "spot_check_max_abs_error": _largest_errors(out.get("spot_checks")),
        }


def _checks(rows: list[dict] | None) -> list[dict] | None:
    """The spot-check rows of an iteration without their geometry and frames."""
    return None if rows is None else [{field: row.get(field) for field in _CHECK_FIELDS} for row in rows]


def _largest_errors(rows: list[dict] | None) -> dict[str, float] | None:
    """Quantity -> the largest |model − DFT| of the iteration's spot checks (checks without an error left out)."""
    if rows is None:
        return None
    largest: dict[str, float] = {}
    for row in rows:
        if row.get("error") is not None:
            largest[row["quantity"]] = max(largest.get(row["quantity"], 0.0), abs(row["error"]))
    return largest
