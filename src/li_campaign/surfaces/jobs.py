"""Makers of the surfaces: surface energy (one slab, or converged), adsorption sites, step energy, step/kink adsorption.

Each loads the deployed model (sha256-checked), keys its calculation for reuse
(:mod:`li_campaign.execution.reuse`) and returns one document.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from jobflow import job

from li_campaign.execution.maker import CalculationMaker
from li_campaign.geometry.facets import is_high_index, slab_with_layers
from li_campaign.geometry.slabs import make_symmetric_slab
from li_campaign.geometry.steps import SteppedSlab, stepped_slab
from li_campaign.mlip.calculator import load_model
from li_campaign.schemas.bulk import BulkDoc
from li_campaign.schemas.models import ModelDoc
from li_campaign.schemas.spec import (
    FacetEnumerationSpec,
    FanOutSlabSpec,
    FanOutSpec,
    MillerIndex,
    RelaxSpec,
    StepSpec,
    facet_label,
)
from li_campaign.schemas.surfaces import (
    AdsorptionDoc,
    ConvergedSurfaceEnergyDoc,
    StepAdsorptionDoc,
    StepEnergyDoc,
    SteppedSlabInfo,
    StepSiteDoc,
    SurfaceEnergyDoc,
)
from li_campaign.surfaces.adsorption import FREE_BASIS, adsorption_sites
from li_campaign.surfaces.step_energy import step_adsorption, step_formation_energy
from li_campaign.surfaces.surface_convergence import converged_surface_energy, layer_schedule
from li_campaign.surfaces.surface_energy import surface_energy


@dataclass
class SurfaceEnergyMaker(CalculationMaker):
    """Surface energy of a symmetric slab of one facet, bulk-referenced."""

    name: str = "surface energy"
    slab: FanOutSlabSpec = field(default_factory=FanOutSlabSpec)
    relax: RelaxSpec = field(default_factory=RelaxSpec)

    @job
    def make(self, model: ModelDoc, bulk: BulkDoc, miller: MillerIndex) -> SurfaceEnergyDoc:
        """Build the slab at the model's lattice constant, relax it, return γ."""
        slab = make_symmetric_slab(bulk.lattice_constant_A, tuple(miller), self.slab.min_slab_size_A, self.slab.min_vacuum_A)
        settings = {"relax": self.relax, "bulk_energy_per_atom_eV": bulk.energy_per_atom_eV}
        provenance = self.provenance("surface_energy", settings, structure=slab, model_sha256=model.sha256)

        def compute() -> SurfaceEnergyDoc:
            result = surface_energy(load_model(model), slab, bulk.energy_per_atom_eV, self.relax)
            return SurfaceEnergyDoc(
                facet=facet_label(miller),
                miller_index=tuple(miller),
                **{**result, "bulk_energy_per_atom_eV": bulk.energy_per_atom_eV},
                provenance=provenance,
            )

        return self.reuse_or_compute(provenance, compute)


@dataclass
class AdsorptionSiteMaker(CalculationMaker):
    """Self-adsorption energy at every symmetry-distinct adatom site of one facet."""

    name: str = "adsorption sites"
    fanout: FanOutSpec = field(default_factory=FanOutSpec)

    @job
    def make(self, model: ModelDoc, bulk: BulkDoc, miller: MillerIndex) -> AdsorptionDoc:
        """Relax the adatom at each site; return the sites, their energies and stability."""
        spec = self.fanout
        slab = make_symmetric_slab(bulk.lattice_constant_A, tuple(miller), spec.slab.min_slab_size_A, spec.slab.min_vacuum_A)
        settings = {
            **spec.model_dump(mode="json", include={"slab", "relax", "site_perturbation_A"}),
            "bulk_energy_per_atom_eV": bulk.energy_per_atom_eV,
            # results stored before the facet minimum was the free one (pinned minimum) are not reused
            "min_adsorption_basis": FREE_BASIS,
        }
        provenance = self.provenance("adsorption_sites", settings, structure=slab, model_sha256=model.sha256)

        def compute() -> AdsorptionDoc:
            result = adsorption_sites(load_model(model), slab, bulk.energy_per_atom_eV, spec)
            result["site_copies"] = {k: np.asarray(v).tolist() for k, v in result["site_copies"].items()}
            return AdsorptionDoc(facet=facet_label(miller), miller_index=tuple(miller), **result, provenance=provenance)

        return self.reuse_or_compute(provenance, compute)


@dataclass
class ConvergedSurfaceEnergyMaker(CalculationMaker):
    """Surface energy of one facet converged in slab thickness and vacuum (``doc_type`` ``surface_energy``)."""

    name: str = "converged surface energy"
    enumeration: FacetEnumerationSpec = field(default_factory=FacetEnumerationSpec)
    relax: RelaxSpec = field(default_factory=RelaxSpec)

    @job
    def make(self, model: ModelDoc, bulk: BulkDoc, miller: MillerIndex) -> ConvergedSurfaceEnergyDoc:
        """Run the thickness and vacuum series of ``miller`` at the model's lattice constant."""
        a = bulk.lattice_constant_A
        first = slab_with_layers(a, tuple(miller), layer_schedule(a, tuple(miller), self.enumeration)[0], self.enumeration.vacuum_A)
        settings = {
            "enumeration": self.enumeration,
            "relax": self.relax,
            "miller": list(miller),
            "bulk_energy_per_atom_eV": bulk.energy_per_atom_eV,
        }
        provenance = self.provenance(
            "converged_surface_energy", settings, structure=first, model_sha256=model.sha256
        )

        def compute() -> ConvergedSurfaceEnergyDoc:
            result = converged_surface_energy(
                load_model(model), a, tuple(miller), bulk.energy_per_atom_eV, self.enumeration, self.relax
            )
            return ConvergedSurfaceEnergyDoc(
                facet=facet_label(miller),
                miller_index=tuple(miller),
                high_index=is_high_index(miller),
                bulk_energy_per_atom_eV=bulk.energy_per_atom_eV,
                **result,
                provenance=provenance,
            )

        return self.reuse_or_compute(provenance, compute)


def slab_info(slab: SteppedSlab) -> SteppedSlabInfo:
    """Return the geometry record of a stepped slab."""
    return SteppedSlabInfo(
        terrace=facet_label(slab.terrace),
        terrace_miller_index=slab.terrace,
        kinked=slab.kinked,
        step_vector_cell=slab.step_vector_cell,
        step_direction=slab.step_direction,
        step_direction_family=slab.step_direction_family,
        atom_spacing_A=slab.atom_spacing_A,
        row_spacing_A=slab.row_spacing_A,
        step_height_A=slab.step_height_A,
        terrace_width_rows=slab.terrace_width_rows,
        terrace_width_A=slab.terrace_width_A,
        n_along=slab.n_along,
        step_length_A=slab.step_length_A,
        n_steps=slab.n_steps,
        n_removed=slab.n_removed,
        n_layers=slab.n_layers,
        fix_bottom_layers=slab.fix_bottom_layers,
        sites=[StepSiteDoc(**vars(site)) for site in slab.sites],
    )


def _build(step: StepSpec, a: float, terrace: MillerIndex, n_along: int, kinked: bool) -> SteppedSlab:
    return stepped_slab(
        a, tuple(terrace), step.terrace_width_rows, step.slab_thickness_A, step.vacuum_A, step.fix_bottom_layers, n_along, kinked
    )


@dataclass
class StepEnergyMaker(CalculationMaker):
    """Formation energy per unit length of the close-packed step on one terrace (one atom along the step per cell)."""

    name: str = "step energy"
    step: StepSpec = field(default_factory=StepSpec)
    relax: RelaxSpec = field(default_factory=RelaxSpec)

    @job
    def make(self, model: ModelDoc, bulk: BulkDoc, terrace: MillerIndex) -> StepEnergyDoc:
        """Relax the stepped slab and its flat reference; return λ (eV/Å)."""
        slab = _build(self.step, bulk.lattice_constant_A, terrace, 1, False)
        settings = {"step": self.step, "relax": self.relax, "bulk_energy_per_atom_eV": bulk.energy_per_atom_eV}
        provenance = self.provenance("step_energy", settings, structure=slab.structure, model_sha256=model.sha256)

        def compute() -> StepEnergyDoc:
            result = step_formation_energy(load_model(model), slab, bulk.energy_per_atom_eV, self.relax)
            return StepEnergyDoc(
                terrace=facet_label(slab.terrace),
                terrace_miller_index=slab.terrace,
                step_direction_family=slab.step_direction_family,
                terrace_width_rows=slab.terrace_width_rows,
                terrace_width_A=slab.terrace_width_A,
                step_energy_eV_per_A=result["step_energy_eV_per_A"],
                stepped_energy_eV=result["stepped_energy_eV"],
                flat_energy_eV=result["flat_energy_eV"],
                bulk_energy_per_atom_eV=bulk.energy_per_atom_eV,
                relax_converged=result["relax_converged"],
                relax_steps=result["relax_steps"],
                geometry=slab_info(slab),
                relaxed_structure=result["relaxed_structure"],
                provenance=provenance,
            )

        return self.reuse_or_compute(provenance, compute)


@dataclass
class StepAdsorptionMaker(CalculationMaker):
    """Li self-adsorption at the sites of a stepped slab (all sites) or of a kinked slab (its kink sites).

    The stepped cell is repeated along the step to at least ``step.min_lateral_A``; the
    kinked cell has ``step.kink_spacing_atoms`` atoms along the step.
    """

    name: str = "step adsorption"
    step: StepSpec = field(default_factory=StepSpec)
    relax: RelaxSpec = field(default_factory=RelaxSpec)

    @job
    def make(self, model: ModelDoc, bulk: BulkDoc, terrace: MillerIndex, kinked: bool = False) -> StepAdsorptionDoc:
        """Relax the adatom at each site; return the energies, labels and the relaxed clean slab."""
        a = bulk.lattice_constant_A
        if kinked:
            n_along = self.step.kink_spacing_atoms
        else:
            spacing = _build(self.step, a, terrace, 1, False).atom_spacing_A
            n_along = max(math.ceil(self.step.min_lateral_A / spacing - 1e-9), 1)
        slab = _build(self.step, a, terrace, n_along, kinked)
        classes = ("kink",) if kinked else None
        settings = {
            "step": self.step,
            "relax": self.relax,
            "kinked": kinked,
            "bulk_energy_per_atom_eV": bulk.energy_per_atom_eV,
        }
        provenance = self.provenance("step_adsorption", settings, structure=slab.structure, model_sha256=model.sha256)

        def compute() -> StepAdsorptionDoc:
            result = step_adsorption(load_model(model), slab, bulk.energy_per_atom_eV, self.relax, classes)
            return StepAdsorptionDoc(
                terrace=facet_label(slab.terrace),
                terrace_miller_index=slab.terrace,
                kind="kinked" if kinked else "stepped",
                bulk_energy_per_atom_eV=bulk.energy_per_atom_eV,
                geometry=slab_info(slab),
                **result,
                provenance=provenance,
            )

        return self.reuse_or_compute(provenance, compute)
