"""The model registry: ``model`` outputs -> ``models``."""

from __future__ import annotations

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
    output_fields = (*_MODEL_FIELDS, "split", "holdout", "split_errors", "parity", "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.models.ModelDoc`, keeping its (small) parity data.

        ``energy_mae_by_origin_meV_atom``: the energy MAE per frame origin on each part of the
        split (train, val, test), the numbers the training-error gate judged.
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
            "energy_mae_by_origin_meV_atom": {
                part: {origin: e["energy_mae_meV_atom"] for origin, e in errors.get("by_origin", {}).items()}
                for part, errors in (out.get("split_errors") or {}).items()
            },
        }
