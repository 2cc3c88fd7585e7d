"""The whole campaign as one jobflow Flow, built from a :class:`CampaignSpec`."""

from __future__ import annotations

from dataclasses import dataclass

from jobflow import Flow, Job, Maker

from li_campaign.dft.jobs import DftBulkEosMaker
from li_campaign.flows.bulk import BulkPropertiesMaker, dft_teacher_elastic
from li_campaign.flows.packing import pack_jobs
from li_campaign.flows.resources import CPU, GPU, run_on
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
    """Facet-resolved calculations with a deployed model: per facet γ, sites, NEB.

    The surface-energy and adsorption-site calculations
    of all facets are packed into jobs of ``fanout.pack_size`` calculations, then the NEBs
    (which need the sites) likewise (:func:`~li_campaign.flows.packing.pack_jobs`).

    Parameters
    ----------
    name
        Flow name.
    spec
        The campaign spec (its ``fanout`` section and provenance fields are used).
    """

    name: str = "fan-out"
    spec: CampaignSpec | None = None

    def make(self, model, bulk) -> Flow:
        """Return the fan-out flow.

        Parameters
        ----------
        model
            The deployed model (a ModelDoc or a reference to one).
        bulk
            The model's :class:`~li_campaign.schemas.properties.BulkDoc` (or a reference):
            lattice constant of the slabs and the bulk energy reference.
        """
        spec = self.spec
        fan = spec.fanout
        ctx = {"campaign": spec.name, "spec_hash": spec.spec_hash()}
        surfaces_and_sites = []
        for hkl in fan.facets:
            label = facet_label(hkl)
            surface = SurfaceEnergyMaker(slab=fan.slab, relax=fan.relax, **ctx).make(model, bulk, hkl)
            sites = AdsorptionSiteMaker(fanout=fan, **ctx).make(model, bulk, hkl)
            surfaces_and_sites += [_named(surface, f"surface energy {label}"), _named(sites, f"adsorption sites {label}")]
        stage1, outputs = pack_jobs(surfaces_and_sites, fan.pack_size, "fan-out pack")
        nebs = [
            _named(SurfaceNebMaker(fanout=fan, **ctx).make(model, sites), f"surface NEB {facet_label(hkl)}")
            for hkl, sites in zip(fan.facets, outputs[1::2])
        ]
        stage2, _ = pack_jobs(nebs, fan.pack_size, "fan-out NEB pack")
        return Flow([*stage1, *stage2], name=self.name)


def _named(job: Job, name: str) -> Job:
    """Set the name of ``job`` and return it."""
    job.name = name
    return job


@dataclass
class CampaignMaker(Maker):
    """Training set → DFT labels → NequIP fit → bulk EOS → fan-out and bulk stage, as one flow.

    DFT jobs go to ``cpu`` workers and model jobs to ``gpu`` workers
    (:mod:`li_campaign.flows.resources`).

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
        bulk = BulkLatticeMaker(eos=spec.fanout.eos, a_guess_A=spec.training_set.lattice_constant_A, **ctx).make(fit.output)
        fanout = FanOutMaker(spec=spec).make(fit.output, bulk.output)
        parts = [(training, CPU), (teacher, CPU), (fit, GPU), (bulk, GPU), (fanout, GPU)]
        if spec.bulk.enabled:
            parts += [
                (BulkPropertiesMaker(spec=spec).make(fit.output, bulk.output), GPU),
                (dft_teacher_elastic(spec, teacher.output), CPU),
            ]
        for part, category in parts:
            run_on(part, category)
        return Flow([part for part, _ in parts], name=self.name or spec.name)
