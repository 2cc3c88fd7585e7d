"""The model registry: ``model`` outputs -> ``models``."""

from __future__ import annotations

from collections import defaultdict

from li_campaign.builders.base import JobOutputMapBuilder, pick, provenance_fields

_MODEL_FIELDS = (
    "campaign",
    "architecture",
    "sha256",
    "deployed_path",
    "deploy_mode",
    "compile_target",
    "compile_device",
    "package_path",
    "package_sha256",
    "n_parameters",
    "hyperparameters",
    "training_wall_time_s",
    "deploy_wall_time_s",
    "energy_shift_eV",
    "epochs_trained",
)
_HOLDOUT_FIELDS = ("energy_mae_meV_atom", "energy_rmse_meV_atom", "force_mae_meV_A", "force_rmse_meV_A")
_PARITY_FIELDS = (
    "dft_energy_per_atom_eV",
    "mlip_energy_per_atom_eV",
    "dft_force_components_eV_A",
    "mlip_force_components_eV_A",
)


class ModelRegistryBuilder(JobOutputMapBuilder):
    """``model`` outputs -> ``models`` (keyed by ``sha256``; holdout errors flattened, split as counts)."""

    doc_type = "model"
    target_key_path = "output.sha256"
    output_fields = (*_MODEL_FIELDS, "split", "holdout", "split_errors", "adsorption_label_errors", "parity", "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.models.ModelDoc`, keeping its (small) parity data.

        ``energy_mae_by_origin_meV_atom``: the energy MAE per frame origin on each part of the
        split (train, val, test), the numbers the training-error gate judged.
        ``adsorption_label_errors_by_facet``: :func:`adsorption_errors_by_facet` of the model's
        adsorption-energy errors on its adatom training cells (kept whole as ``adsorption_label_errors``).
        """
        out = item["output"]
        split = out["split"]
        holdout = out["holdout"]
        return {
            **provenance_fields(out),
            **pick(out, _MODEL_FIELDS),
            "n_train": len(split.get("train", [])),
            "n_val": len(split.get("val", [])),
            "n_test": len(split.get("test", [])),
            "holdout_n_frames": holdout["n_frames"],
            **pick(holdout, _HOLDOUT_FIELDS),
            "stress_mae_meV_A3": holdout.get("stress_mae_meV_A3"),
            "parity": pick(out["parity"], _PARITY_FIELDS),
            "adsorption_label_errors": out.get("adsorption_label_errors") or [],
            "adsorption_label_errors_by_facet": adsorption_errors_by_facet(out.get("adsorption_label_errors") or []),
            "energy_mae_by_origin_meV_atom": {
                part: {origin: e["energy_mae_meV_atom"] for origin, e in errors.get("by_origin", {}).items()}
                for part, errors in (out.get("split_errors") or {}).items()
            },
        }


def adsorption_errors_by_facet(rows: list[dict]) -> dict[str, dict]:
    """Per facet: the count, mean and largest |model − teacher| of the adsorption-energy errors of the
    adatom training cells (:class:`~li_campaign.schemas.models.AdsorptionLabelError` rows), and the
    cell of the largest (``site dz``), in facet order."""
    by_facet: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_facet[row["facet"]].append(row)
    out = {}
    for facet, cells in sorted(by_facet.items()):
        worst = max(cells, key=lambda row: abs(row["error_eV"]))
        height = worst.get("height_offset_A")
        out[facet] = {
            "n": len(cells),
            "mean_eV": sum(row["error_eV"] for row in cells) / len(cells),
            "max_abs_eV": abs(worst["error_eV"]),
            "worst": worst["site"] + ("" if height is None else f" dz {height:+.2f} Å"),
        }
    return out
