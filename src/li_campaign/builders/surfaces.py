"""MapBuilders of the step and adatom-kinetics results: job outputs -> flat derived collections.

Same conventions as :mod:`li_campaign.builders.properties`: schema field names, flattened
provenance, no structures, NEB images or trajectories read.
"""

from __future__ import annotations

from li_campaign.builders.base import JobOutputMapBuilder, provenance_fields
from li_campaign.builders.properties import _HOP_FIELDS, _pick
from li_campaign.schemas.registry import LARGE_CELL_FIELDS

_STEP_ENERGY_FIELDS = (
    "terrace",
    "terrace_miller_index",
    "step_direction_family",
    "terrace_width_rows",
    "terrace_width_A",
    "step_energy_eV_per_A",
    "stepped_energy_eV",
    "flat_energy_eV",
    "bulk_energy_per_atom_eV",
    "relax_converged",
)
_STEP_ADSORPTION_FIELDS = ("terrace", "terrace_miller_index", "kind", "n_slab_atoms", "min_adsorption_energy_eV", "min_site")
_STEP_SITE_FIELDS = (
    "label",
    "site_class",
    "level",
    "distance_to_edge_A",
    "adsorption_energy_eV",
    "displacement_A",
    "relaxed_to",
    "stable",
    "relax_converged",
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


class StepEnergyBuilder(JobOutputMapBuilder):
    """``step_energy`` outputs -> ``step_energies`` (λ per terrace; no structures)."""

    doc_type = "step_energy"
    output_fields = (*_STEP_ENERGY_FIELDS, "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.surfaces.StepEnergyDoc`."""
        out = item["output"]
        return {**_pick(out, _STEP_ENERGY_FIELDS), "facet": out["terrace"], **provenance_fields(out)}


class StepAdsorptionBuilder(JobOutputMapBuilder):
    """``step_adsorption`` outputs -> ``step_adsorption`` (terrace, step-edge and kink sites; no structures)."""

    doc_type = "step_adsorption"
    output_fields = (*_STEP_ADSORPTION_FIELDS, "sites", "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.surfaces.StepAdsorptionDoc`."""
        out = item["output"]
        sites = [_pick(site, _STEP_SITE_FIELDS) for site in out["sites"]]
        return {**_pick(out, _STEP_ADSORPTION_FIELDS), "facet": out["terrace"], "sites": sites, **provenance_fields(out)}


class StepEdgeBarrierBuilder(JobOutputMapBuilder):
    """``step_edge_diffusion`` outputs -> ``step_edge_barriers`` (across-step paths, Ehrlich–Schwoebel barrier)."""

    doc_type = "step_edge_diffusion"
    output_fields = (*_STEP_EDGE_FIELDS, "hops", "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.kinetics.StepEdgeDiffusionDoc`."""
        out = item["output"]
        return {
            **_pick(out, _STEP_EDGE_FIELDS),
            "facet": out["terrace"],
            "hops": [_pick(hop, _HOP_FIELDS) for hop in out["hops"]],
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
        return {**_pick(out, _ADATOM_DIFFUSION_FIELDS), "cell": out.get("cell", "small"), **provenance_fields(out)}


class AdatomArrheniusBuilder(JobOutputMapBuilder):
    """``adatom_arrhenius`` outputs -> ``adatom_arrhenius`` (Ea, D0 per facet and adatom count, vs the NEB barrier)."""

    doc_type = "adatom_arrhenius"
    output_fields = (*_ARRHENIUS_FIELDS, "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.kinetics.AdatomArrheniusDoc`."""
        out = item["output"]
        return {**_pick(out, _ARRHENIUS_FIELDS), **provenance_fields(out)}
