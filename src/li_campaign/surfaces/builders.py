"""MapBuilders of the surface results: surface energies, adsorption, step energies and step adsorption.

Job outputs -> flat derived collections. Field names are those of the schema documents
(:mod:`li_campaign.schemas.surfaces`); provenance is flattened to ``campaign``,
``model_sha256``, ``spec_hash`` and ``code_version``; structures are never read.
"""

from __future__ import annotations

from li_campaign.builders.base import JobOutputMapBuilder, pick, provenance_fields

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


class SurfaceEnergyBuilder(JobOutputMapBuilder):
    """``surface_energy`` outputs -> ``surface_energies`` (one per facet and job; no structure)."""

    doc_type = "surface_energy"
    output_fields = (*_SURFACE_FIELDS, "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.surfaces.SurfaceEnergyDoc`."""
        out = item["output"]
        return {**pick(out, _SURFACE_FIELDS), **provenance_fields(out)}


class AdsorptionEnergyBuilder(JobOutputMapBuilder):
    """``adsorption`` outputs -> ``adsorption_energies`` (sites; no slab structure or site copies)."""

    doc_type = "adsorption"
    output_fields = (*_ADSORPTION_FIELDS, "sites", "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.surfaces.AdsorptionDoc`."""
        out = item["output"]
        sites = [pick(site, _SITE_FIELDS) for site in out["sites"]]
        return {
            **pick(out, _ADSORPTION_FIELDS),
            "sites": sites,
            "n_sites": len(sites),
            "n_stable_sites": sum(bool(site["stable"]) for site in sites),
            **provenance_fields(out),
        }


class StepEnergyBuilder(JobOutputMapBuilder):
    """``step_energy`` outputs -> ``step_energies`` (λ per terrace; no structures)."""

    doc_type = "step_energy"
    output_fields = (*_STEP_ENERGY_FIELDS, "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.surfaces.StepEnergyDoc`."""
        out = item["output"]
        return {**pick(out, _STEP_ENERGY_FIELDS), "facet": out["terrace"], **provenance_fields(out)}


class StepAdsorptionBuilder(JobOutputMapBuilder):
    """``step_adsorption`` outputs -> ``step_adsorption`` (terrace, step-edge and kink sites; no structures)."""

    doc_type = "step_adsorption"
    output_fields = (*_STEP_ADSORPTION_FIELDS, "sites", "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.surfaces.StepAdsorptionDoc`."""
        out = item["output"]
        sites = [pick(site, _STEP_SITE_FIELDS) for site in out["sites"]]
        return {**pick(out, _STEP_ADSORPTION_FIELDS), "facet": out["terrace"], "sites": sites, **provenance_fields(out)}
