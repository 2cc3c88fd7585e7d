"""The whole campaign as one jobflow Flow, built from a :class:`CampaignSpec`."""

from __future__ import annotations

from dataclasses import dataclass

from jobflow import Flow, Maker

from li_campaign.dft.jobs import DftBulkEosMaker
from li_campaign.mlip.jobs import FitNequipMaker
from li_campaign.properties.jobs import (
    AdsorptionSiteMaker,
    BulkLatticeMaker,
    SurfaceEnergyMaker,
    SurfaceNebMaker,
)
from li_campaign.schemas.spec import CampaignSpec, facet_label
from li_campaign.structures.jobs import TrainingSetMaker


@dataclass
class FanOutMaker(Maker):
    """Facet-resolved calculations with a deployed model: bulk, then per facet γ, sites, NEB.

    Parameters
    ----------
    name
        Flow name.
    spec
        The campaign spec (its ``fanout`` section and provenance fields are used).
    """

    name: str = "fan-out"
    spec: CampaignSpec | None = None

    def make(self, model) -> Flow:
        """Return the fan-out flow for ``model`` (a ModelDoc or a reference to one)."""
        spec = self.spec
        fan = spec.fanout
        ctx = {"campaign": spec.name, "spec_hash": spec.spec_hash()}
        bulk = BulkLatticeMaker(eos=fan.eos, a_guess_A=spec.training_set.lattice_constant_A, **ctx).make(model)
        jobs = [bulk]
        for hkl in fan.facets:
            label = facet_label(hkl)
            surface = SurfaceEnergyMaker(slab=fan.slab, relax=fan.relax, **ctx).make(model, bulk.output, hkl)
            sites = AdsorptionSiteMaker(fanout=fan, **ctx).make(model, bulk.output, hkl)
            neb = SurfaceNebMaker(fanout=fan, **ctx).make(model, sites.output)
            for job_, what in ((surface, "surface energy"), (sites, "adsorption sites"), (neb, "surface NEB")):
                job_.name = f"{what} {label}"
                jobs.append(job_)
        return Flow(jobs, name=self.name)


@dataclass
class CampaignMaker(Maker):
    """Training set → DFT labels → NequIP fit → fan-out, as one flow.

    Parameters
    ----------
    name
        Flow name (the spec's name is used when empty).
    spec
        The validated campaign spec.
    """

    name: str = ""
    spec: CampaignSpec | None = None

    def make(self) -> Flow:
        """Return the campaign flow."""
        spec = self.spec
        ctx = {"campaign": spec.name, "spec_hash": spec.spec_hash()}
        training = TrainingSetMaker(training_set=spec.training_set, dft=spec.dft, seed=spec.seed, **ctx).make()
        teacher = DftBulkEosMaker(dft=spec.dft, eos=spec.fanout.eos, a_guess_A=spec.training_set.lattice_constant_A, **ctx).make()
        fit = FitNequipMaker(mlip=spec.mlip, **ctx).make(training.output)
        fanout = FanOutMaker(spec=spec).make(fit.output)
        return Flow([training, teacher, fit, fanout], name=self.name or spec.name)
