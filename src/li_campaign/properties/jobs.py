"""Makers of the fan-out stage: each loads the deployed model (sha256-checked) and returns a document."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from jobflow import Maker, job

from li_campaign.core.hashing import structure_hash
from li_campaign.core.lithium import bcc_li_conventional
from li_campaign.mlip.calculator import load_model
from li_campaign.properties.adsorption import adsorption_sites
from li_campaign.properties.bulk import fit_bulk_eos
from li_campaign.properties.diffusion import diffusion_barriers, minimum_barrier
from li_campaign.properties.surface import surface_energy
from li_campaign.schemas.models import ModelDoc
from li_campaign.schemas.properties import AdsorptionDoc, BulkDoc, DiffusionDoc, SurfaceEnergyDoc
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import EosSpec, FanOutSlabSpec, FanOutSpec, MillerIndex, RelaxSpec, facet_label
from li_campaign.structures.slabs import make_symmetric_slab


def _provenance(maker, model: ModelDoc, structure) -> Provenance:
    return Provenance(
        campaign=maker.campaign,
        spec_hash=maker.spec_hash,
        model_sha256=model.sha256,
        structure_hash=structure_hash(structure),
    )


@dataclass
class BulkLatticeMaker(Maker):
    """Equilibrium bcc lattice constant and ε_bulk of the model (Birch–Murnaghan E(V))."""

    name: str = "bulk lattice"
    eos: EosSpec = field(default_factory=EosSpec)
    a_guess_A: float = 3.44
    campaign: str = ""
    spec_hash: str = ""

    @job
    def make(self, model: ModelDoc) -> BulkDoc:
        """Return the model's :class:`BulkDoc`."""
        fit = fit_bulk_eos(load_model(model), self.a_guess_A, self.eos)
        cell = bcc_li_conventional(fit["lattice_constant_A"])
        return BulkDoc(source="mlip", **fit, provenance=_provenance(self, model, cell))


@dataclass
class SurfaceEnergyMaker(Maker):
    """Surface energy of a symmetric slab of one facet, bulk-referenced."""

    name: str = "surface energy"
    slab: FanOutSlabSpec = field(default_factory=FanOutSlabSpec)
    relax: RelaxSpec = field(default_factory=RelaxSpec)
    campaign: str = ""
    spec_hash: str = ""

    @job
    def make(self, model: ModelDoc, bulk: BulkDoc, miller: MillerIndex) -> SurfaceEnergyDoc:
        """Build the slab at the model's lattice constant, relax it, return γ."""
        slab = make_symmetric_slab(bulk.lattice_constant_A, tuple(miller), self.slab.min_slab_size_A, self.slab.min_vacuum_A)
        result = surface_energy(load_model(model), slab, bulk.energy_per_atom_eV, self.relax)
        return SurfaceEnergyDoc(
            facet=facet_label(miller),
            miller_index=tuple(miller),
            **{**result, "bulk_energy_per_atom_eV": bulk.energy_per_atom_eV},
            provenance=_provenance(self, model, slab),
        )


@dataclass
class AdsorptionSiteMaker(Maker):
    """Self-adsorption energy at every symmetry-distinct adatom site of one facet."""

    name: str = "adsorption sites"
    fanout: FanOutSpec = field(default_factory=FanOutSpec)
    campaign: str = ""
    spec_hash: str = ""

    @job
    def make(self, model: ModelDoc, bulk: BulkDoc, miller: MillerIndex) -> AdsorptionDoc:
        """Relax the adatom at each site; return the sites, their energies and stability."""
        spec = self.fanout
        slab = make_symmetric_slab(bulk.lattice_constant_A, tuple(miller), spec.slab.min_slab_size_A, spec.slab.min_vacuum_A)
        result = adsorption_sites(load_model(model), slab, bulk.energy_per_atom_eV, spec)
        result["site_copies"] = {k: np.asarray(v).tolist() for k, v in result["site_copies"].items()}
        return AdsorptionDoc(
            facet=facet_label(miller),
            miller_index=tuple(miller),
            **result,
            provenance=_provenance(self, model, slab),
        )


@dataclass
class SurfaceNebMaker(Maker):
    """CI-NEB over every distinct hop between neighbouring stable sites of one facet.

    The relaxed NEB images (``images``) go to the large-data store.
    """

    name: str = "surface neb"
    fanout: FanOutSpec = field(default_factory=FanOutSpec)
    campaign: str = ""
    spec_hash: str = ""

    @job(data="images")
    def make(self, model: ModelDoc, adsorption: AdsorptionDoc) -> DiffusionDoc:
        """Run the NEBs; return the hops and the minimum barrier of the facet."""
        if adsorption is None:
            raise ValueError(
                "no adsorption-site result to start the NEBs from: that calculation failed "
                "(its reason is listed by `li-campaign status`)"
            )
        result = adsorption.model_dump(exclude={"slab_structure", "provenance"})
        result["slab_structure"] = adsorption.slab_structure.as_dict()
        result = diffusion_barriers(load_model(model), result, self.fanout)
        barrier, hop = minimum_barrier(result.hops, adsorption.min_site)
        return DiffusionDoc(
            facet=adsorption.facet,
            miller_index=adsorption.miller_index,
            hops=result.hops,
            rejected_hops=result.rejected,
            min_barrier_eV=barrier,
            min_hop=hop,
            provenance=_provenance(self, model, adsorption.slab_structure),
        )
