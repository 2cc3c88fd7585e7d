"""MapBuilders of the adatom-kinetics results: NEB barriers, step-edge barriers, adatom MD diffusion and its Arrhenius fits.

Job outputs -> flat derived collections, as :mod:`li_campaign.surfaces.builders`: schema field
names, flattened provenance, no structures, NEB images or trajectories read.
"""

from __future__ import annotations

from li_campaign.builders.base import JobOutputMapBuilder, pick, provenance_fields
from li_campaign.schemas.registry import EFFECTIVE_BARRIER_FIELDS, LARGE_CELL_FIELDS

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
_STEP_EDGE_FIELDS = (
    "terrace",
    "step",
    "terrace_barrier_eV",
    "terrace_barrier_source",
    "step_edge_barrier_eV",
    "step_edge_mechanism",
    "es_barrier_eV",
)
_MD_FIELDS = (
    "facet",
    "miller_index",
    "temperature_K",
    "n_adatoms",
    "n_atoms",
    "timestep_fs",
    "production_steps",
    "diffusivity_cm2_s",
    "diffusivity_err_cm2_s",
    "fit_start_fs",
    "fit_end_fs",
    "analysed_fs",
    "events",
    "valid",
    "invalid_reasons",
    "n_hops",
    "hop_length_A",
    "expected_hops",
    "barrier_eV",
    "planned_production_steps",
    "run_length_reason",
    "thermostat_temperature_K",
    "adatom_temperature_K",
    "wall_time_s",
)
_ADATOM_DIFFUSION_FIELDS = tuple(
    dict.fromkeys((*_MD_FIELDS, *LARGE_CELL_FIELDS, "n_slab_atoms", "excluded_adatoms", "md_wall_time_s", "sample_every"))
)
"""Fields of both kinds of run in ``adatom_diffusion``: small cell (AdatomDiffusionDoc) and large cell (LargeCellDiffusionDoc)."""
_ARRHENIUS_FIELDS = (
    "facet",
    "miller_index",
    "n_adatoms",
    "temperatures_K",
    "diffusivities_cm2_s",
    "excluded",
    "activation_energy_eV",
    "prefactor_cm2_s",
    "r2",
    "n",
    "neb_min_barrier_eV",
    "neb_min_mechanism",
    "neb_effective_barrier_eV",
    "activation_minus_neb_eV",
)


class DiffusionBarrierBuilder(JobOutputMapBuilder):
    """``diffusion`` outputs -> ``diffusion_barriers`` (hops without NEB images)."""

    doc_type = "diffusion"
    output_fields = (*_DIFFUSION_FIELDS, "hops", "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.kinetics.DiffusionDoc`."""
        out = item["output"]
        return {
            **pick(out, _DIFFUSION_FIELDS),
            "hops": [pick(hop, _HOP_FIELDS) for hop in out["hops"]],
            **provenance_fields(out),
        }


class StepEdgeBarrierBuilder(JobOutputMapBuilder):
    """``step_edge_diffusion`` outputs -> ``step_edge_barriers`` (across-step paths, Ehrlich–Schwoebel barrier)."""

    doc_type = "step_edge_diffusion"
    output_fields = (*_STEP_EDGE_FIELDS, "hops", "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.kinetics.StepEdgeDiffusionDoc`."""
        out = item["output"]
        return {
            **pick(out, _STEP_EDGE_FIELDS),
            "facet": out["terrace"],
            "hops": [pick(hop, _HOP_FIELDS) for hop in out["hops"]],
            **provenance_fields(out),
        }


class AdatomDiffusionBuilder(JobOutputMapBuilder):
    """``adatom_diffusion`` outputs -> ``adatom_diffusion`` (D of one MD run; no trajectory or MSD curve).

    Small-cell and large-cell runs share the ``doc_type``; ``cell`` tells them apart ("small" for the
    documents without the field).
    """

    doc_type = "adatom_diffusion"
    output_fields = (*_ADATOM_DIFFUSION_FIELDS, "cell", "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten an :class:`~li_campaign.schemas.kinetics.AdatomDiffusionDoc` or a ``LargeCellDiffusionDoc``."""
        out = item["output"]
        return {**pick(out, _ADATOM_DIFFUSION_FIELDS), "cell": out.get("cell", "small"), **provenance_fields(out)}


class AdatomArrheniusBuilder(JobOutputMapBuilder):
    """``adatom_arrhenius`` outputs -> ``adatom_arrhenius`` (Ea, D0 per facet and adatom count, vs the NEB barrier)."""

    doc_type = "adatom_arrhenius"
    output_fields = (*_ARRHENIUS_FIELDS, "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.kinetics.AdatomArrheniusDoc`."""
        out = item["output"]
        return {**pick(out, _ARRHENIUS_FIELDS), **provenance_fields(out)}
