"""Makers of the structures stage: generate the training set and fan out one label job per frame."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from jobflow import Flow, Maker, Response, job

from li_campaign.dft.jobs import LabelFrameMaker
from li_campaign.schemas.frames import TrainingSetDoc
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import DftSpec, TrainingSetSpec
from li_campaign.structures.training_set import generate_training_structures


@job
def collect_training_set(campaign: str, spec_hash: str, frame_ids: list[str], origins: list[str]) -> TrainingSetDoc:
    """Record which frames make up the training set (runs after every label job)."""
    return TrainingSetDoc(
        campaign=campaign,
        frame_ids=list(frame_ids),
        n_frames=len(frame_ids),
        counts_by_origin=dict(Counter(origins)),
        provenance=Provenance(campaign=campaign, spec_hash=spec_hash),
    )


@dataclass
class TrainingSetMaker(Maker):
    """Generate the training structures of a spec and replace itself by their label jobs.

    The output of the job (after replacement) is the :class:`TrainingSetDoc` of the collect
    job, so a fit job that takes it runs after every frame is labelled.
    """

    name: str = "training set"
    training_set: TrainingSetSpec = field(default_factory=TrainingSetSpec)
    dft: DftSpec = field(default_factory=DftSpec)
    seed: int = 7
    campaign: str = ""
    spec_hash: str = ""

    @job
    def make(self) -> Response:
        """Build the label jobs and the collect job."""
        structures = generate_training_structures(self.training_set, self.seed)
        labeller = LabelFrameMaker(dft=self.dft, campaign=self.campaign, spec_hash=self.spec_hash)
        jobs = []
        for i, item in enumerate(structures):
            label_job = labeller.make(
                item.structure,
                frame_id=f"{self.campaign}:{item.origin}:{i:04d}",
                origin=item.origin,
                label=item.label,
                slab=item.is_slab,
            )
            label_job.name = f"dft label {item.label}"
            jobs.append(label_job)
        collect = collect_training_set(
            self.campaign,
            self.spec_hash,
            [j.output.frame_id for j in jobs],
            [j.output.origin for j in jobs],
        )
        return Response(replace=Flow([*jobs, collect], output=collect.output, name="dft labels"))
