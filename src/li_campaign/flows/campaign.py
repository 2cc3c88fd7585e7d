"""The whole campaign as one jobflow Flow, built from a :class:`CampaignSpec`."""

from __future__ import annotations

from dataclasses import dataclass

from jobflow import Flow, Maker

from li_campaign.active.jobs import ActiveLearningMaker
from li_campaign.bulk.jobs import BulkLatticeMaker
from li_campaign.dft.jobs import DftBulkEosMaker
from li_campaign.execution.resources import CPU, GPU, run_on, use_gpus
from li_campaign.execution.reuse import expose_store
from li_campaign.flows.bulk import BulkPropertiesMaker, dft_teacher_elastic
from li_campaign.flows.fanout import FanOutMaker
from li_campaign.mlip.jobs import FitNequipMaker
from li_campaign.schemas.spec import CampaignSpec
from li_campaign.structures.jobs import TrainingSetMaker
from li_campaign.validation.jobs import TeacherSpotCheckMaker


@dataclass
class CampaignMaker(Maker):
    """Training set → DFT labels → NequIP fit → bulk EOS → fan-out (:class:`FanOutMaker`) → teacher spot checks
    (:class:`~li_campaign.validation.jobs.TeacherSpotCheckMaker`, unless ``validation.enabled`` is false) and bulk
    stage, as one flow.

    DFT jobs go to ``cpu`` workers and model jobs to ``gpu`` workers
    (:mod:`li_campaign.execution.resources`). The DFT teacher's own EOS (and elastic constants)
    run with the ASE engines (``gpaw``, ``morse``); with ``vasp`` the labels are production
    VASP and the teacher comparison is left out of the flow (the report shows none).

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
        ctx = spec.provenance_context()
        training = TrainingSetMaker(
            training_set=spec.training_set, dft=spec.dft, seed=spec.seed, r_max_A=spec.mlip.r_max_A,
            fanout_slab_size_A=spec.fanout.slab.min_slab_size_A, **ctx,
        ).make()  # fmt: skip
        teacher = None
        if spec.dft.engine != "vasp":
            teacher = DftBulkEosMaker(dft=spec.dft, eos=spec.fanout.eos, a_guess_A=spec.training_set.lattice_constant_A, **ctx).make()
        fit = use_gpus(FitNequipMaker(mlip=spec.mlip, **ctx).make(training.output), spec.mlip.n_gpus)
        bulk = BulkLatticeMaker(eos=spec.fanout.eos, a_guess_A=spec.training_set.lattice_constant_A, **ctx).make(fit.output)
        fanout = FanOutMaker(spec=spec).make(fit.output, bulk.output)
        parts = [(training, CPU), (fit, GPU), (bulk, GPU), (fanout, GPU)]
        if teacher is not None:
            parts.append((teacher, CPU))
        checks = None
        if spec.validation.enabled:
            checks = TeacherSpotCheckMaker(spec=spec).make(
                fit.output, bulk.output, None if teacher is None else teacher.output, fanout.output
            )
            parts.append((checks, CPU))
        if spec.bulk.enabled:
            parts.append((BulkPropertiesMaker(spec=spec).make(fit.output, bulk.output), GPU))
            if teacher is not None and spec.bulk.dft_elastic:
                parts.append((dft_teacher_elastic(spec, teacher.output), CPU))
        if spec.active_learning is not None:
            sources = None
            if spec.active_learning.explore_fanout:  # the loop also explores (and is checked on) the fan-out's own results
                sources = {"fanout": fanout.output, "validation": None if checks is None else checks.output}
            loop = ActiveLearningMaker(spec=spec, sources=sources).make(training.output, **(sources or {}))
            parts.append((loop, GPU))
        for part, category in parts:
            run_on(part, category)
        flow = Flow([part for part, _ in parts], name=self.name or spec.name)
        for job, _ in flow.iterflow():
            expose_store(job)  # every calculation may reuse an identical stored result (execution.reuse)
        return flow
