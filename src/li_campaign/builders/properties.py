"""MapBuilders from jobflow outputs to flat, queryable derived collections.

Field names are those of the schema documents (:mod:`li_campaign.schemas`); provenance is
flattened to ``campaign``, ``model_sha256``, ``spec_hash`` and ``code_version``. Large
fields (structures, forces, NEB images) are never read.
"""

from __future__ import annotations

from li_campaign.builders.base import JobOutputMapBuilder, provenance_fields
from li_campaign.schemas.registry import EFFECTIVE_BARRIER_FIELDS

_FRAME_FIELDS = ("frame_id", "origin", "label", "n_atoms", "energy_eV", "energy_per_atom_eV", "engine", "wall_time_s")
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
_BULK_FIELDS = (
    "source",
    "lattice_constant_A",
    "energy_per_atom_eV",
    "bulk_modulus_GPa",
    "bulk_modulus_derivative",
    "volumes_A3_atom",
    "energies_eV_atom",
)
_SURFACE_FIELDS = (
    "facet",
    "miller_index",
    "n_atoms",
    "n_layers",
    "slab_thickness_A",
    "vacuum_A",
    "area_A2",
    "slab_energy_eV",
    "bulk_energy_per_atom_eV",
    "surface_energy_J_m2",
    "surface_energy_eV_A2",
    "relax_converged",
    "relax_steps",
    # converged slabs (ConvergedSurfaceEnergyDoc; absent for single slabs)
    "high_index",
    "thickness_converged",
    "vacuum_converged",
    "converged",
    "termination_shift",
    "notes",
)
_ADSORPTION_FIELDS = (
    "facet",
    "miller_index",
    "n_slab_atoms",
    "supercell",
    "slab_energy_eV",
    "bulk_energy_per_atom_eV",
    "min_adsorption_energy_eV",
    "min_site",
    "min_adsorption_basis",
    "min_pinned_adsorption_energy_eV",
    "min_pinned_site",
    "site_heights_A",
)
_SITE_FIELDS = (
    "label",
    "site_type",
    "position_A",
    "adsorption_energy_eV",
    "stable",
    "relaxed_to",
    "free_adsorption_energy_eV",
)
_DIFFUSION_FIELDS = (
    "facet",
    "miller_index",
    "min_barrier_eV",
    "min_hop",
    "min_mechanism",
    *EFFECTIVE_BARRIER_FIELDS,
)
_HOP_FIELDS = (
    "start",
    "end",
    "distance_A",
    "barrier_forward_eV",
    "barrier_reverse_eV",
    "n_images",
    "converged",
    "mechanism",
    "images_converged",
    "valid",
    "invalid_reason",
)


def _pick(doc: dict, fields: tuple[str, ...]) -> dict:
    """Return the ``fields`` of ``doc`` that are present."""
    return {field: doc[field] for field in fields if field in doc}


class TrainingFrameBuilder(JobOutputMapBuilder):
    """``training_frame`` outputs -> ``training_frames`` (keyed by ``frame_id``; no structure or forces)."""

    doc_type = "training_frame"
    target_key_path = "output.frame_id"
    include_reused = True  # a reused frame is still a frame of this campaign's training set
    output_fields = (*_FRAME_FIELDS, "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.frames.TrainingFrameDoc`."""
        out = item["output"]
        prov = out["provenance"]
        return {
            **_pick(out, _FRAME_FIELDS),
            **provenance_fields(out),
            "structure_hash": prov.get("structure_hash"),
            "dft_settings": prov.get("dft_settings"),
        }


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
            **_pick(out, _MODEL_FIELDS),
            "n_train": len(split.get("train", [])),
            "n_val": len(split.get("val", [])),
            "n_test": len(split.get("test", [])),
            "holdout_n_frames": holdout["n_frames"],
            **_pick(holdout, _HOLDOUT_FIELDS),
            "stress_mae_meV_A3": holdout.get("stress_mae_meV_A3"),
            "parity": _pick(out["parity"], _PARITY_FIELDS),
            "energy_mae_by_origin_meV_atom": {
                part: {origin: e["energy_mae_meV_atom"] for origin, e in errors.get("by_origin", {}).items()}
                for part, errors in (out.get("split_errors") or {}).items()
            },
        }


class BulkBuilder(JobOutputMapBuilder):
    """``bulk`` outputs -> ``bulk`` (equation-of-state fit per model)."""

    doc_type = "bulk"
    output_fields = (*_BULK_FIELDS, "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.bulk.BulkDoc`."""
        out = item["output"]
        return {**_pick(out, _BULK_FIELDS), **provenance_fields(out)}


class SurfaceEnergyBuilder(JobOutputMapBuilder):
    """``surface_energy`` outputs -> ``surface_energies`` (one per facet and job; no structure)."""

    doc_type = "surface_energy"
    output_fields = (*_SURFACE_FIELDS, "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.surfaces.SurfaceEnergyDoc`."""
        out = item["output"]
        return {**_pick(out, _SURFACE_FIELDS), **provenance_fields(out)}


class AdsorptionEnergyBuilder(JobOutputMapBuilder):
    """``adsorption`` outputs -> ``adsorption_energies`` (sites; no slab structure or site copies)."""

    doc_type = "adsorption"
    output_fields = (*_ADSORPTION_FIELDS, "sites", "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.surfaces.AdsorptionDoc`."""
        out = item["output"]
        sites = [_pick(site, _SITE_FIELDS) for site in out["sites"]]
        return {
            **_pick(out, _ADSORPTION_FIELDS),
            "sites": sites,
            "n_sites": len(sites),
            "n_stable_sites": sum(bool(site["stable"]) for site in sites),
            **provenance_fields(out),
        }


class DiffusionBarrierBuilder(JobOutputMapBuilder):
    """``diffusion`` outputs -> ``diffusion_barriers`` (hops without NEB images)."""

    doc_type = "diffusion"
    output_fields = (*_DIFFUSION_FIELDS, "hops", "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.kinetics.DiffusionDoc`."""
        out = item["output"]
        return {
            **_pick(out, _DIFFUSION_FIELDS),
            "hops": [_pick(hop, _HOP_FIELDS) for hop in out["hops"]],
            **provenance_fields(out),
        }
