"""Makers of the structures stage: generate the training set and fan out one label job per calculation."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from jobflow import Flow, Maker, Response, job

from li_campaign.dft.engine import get_engine
from li_campaign.dft.engines import LabelError
from li_campaign.dft.frames import frame_key
from li_campaign.dft.kpoints import engine_kspacing
from li_campaign.execution.packing import pack_jobs
from li_campaign.execution.reuse import expose_store, find_result, reuse_or_compute
from li_campaign.schemas.frames import TrainingFrameBatchDoc, TrainingFrameDoc, TrainingSetDoc
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import DftSpec, TrainingSetSpec
from li_campaign.structures.training_set import generate_training_structures


@job
def collect_training_set(
    campaign: str, spec_hash: str, frame_ids: list[str | list[str]], origins: list[str]
) -> TrainingSetDoc:
    """Record which frames make up the training set (runs after every label job).

    ``frame_ids`` holds one entry per label job: a frame id, or the list of frame ids of a
    relaxation or MD job; ``origins`` the origin of each job.
    """
    ids: list[str] = []
    counts: Counter[str] = Counter()
    for entry, origin in zip(frame_ids, origins):
        batch = [entry] if isinstance(entry, str) else list(entry)
        ids += batch
        counts[origin] += len(batch)
    return TrainingSetDoc(
        campaign=campaign,
        frame_ids=ids,
        n_frames=len(ids),
        counts_by_origin=dict(counts),
        provenance=Provenance(campaign=campaign, spec_hash=spec_hash),
    )


def _stored_result_gone(key: str):
    def compute():
        raise LabelError(f"calculation {key[:12]}… was in the store when the flow was built and is gone now")

    return compute


@job
def reuse_frames(
    key: str, frame_id: str, origin: str, label: str, campaign: str, spec_hash: str
) -> TrainingFrameDoc | TrainingFrameBatchDoc:
    """Return the stored frame(s) of calculation ``key`` under this campaign's ids (nothing is computed)."""
    doc = reuse_or_compute(Provenance(campaign=campaign, spec_hash=spec_hash, calc_key=key), _stored_result_gone(key))
    if isinstance(doc, TrainingFrameDoc):
        return doc.model_copy(update={"frame_id": frame_id, "origin": origin, "label": label})
    frames = [
        frame.model_copy(
            update={
                "frame_id": f"{frame_id}:{step:04d}",
                "origin": origin,
                "label": f"{label} step {step}",
                "provenance": frame.provenance.model_copy(
                    update={"campaign": campaign, "spec_hash": spec_hash, "reused_from": doc.provenance.reused_from}
                ),
            }
        )
        for frame, step in zip(doc.frames, doc.steps)
    ]
    return doc.model_copy(
        update={"frames": frames, "frame_ids": [f.frame_id for f in frames], "origin": origin, "label": label}
    )


@dataclass
class TrainingSetMaker(Maker):
    """Generate the training structures of a spec and replace itself by their label jobs.

    The label jobs come from the DFT engine of ``dft`` (:func:`li_campaign.dft.engine.get_engine`):
    single points, relaxations or MD runs, as each generated item asks. A calculation whose
    reuse key (structure, engine settings; :func:`li_campaign.dft.frames.frame_key`) already
    has a result in the store is not run again: a :func:`reuse_frames` job copies the stored
    frames instead. The output of the job (after replacement) is the
    :class:`TrainingSetDoc` of the collect job, so a fit job that takes it runs after every
    frame is labelled.

    ``r_max_A`` is the campaign's ``mlip.r_max_A``: adatom images are at least that far apart
    unless ``training_set.slabs.adatom_min_image_distance_A`` says otherwise;
    ``fanout_slab_size_A`` (``fanout.slab.min_slab_size_A``) adds each facet's clean slab at the
    fan-out's thickness (``training_set.slabs.fanout_thickness``). Slabs and their
    adatom supercells get commensurate k-meshes (:meth:`TrainingStructure.kpoint_mesh`), passed
    to the engine as explicit meshes and part of the reuse keys. ``dft.pack_size`` label
    calculations run per job (:func:`~li_campaign.execution.packing.pack_jobs`).
    """

    name: str = "training set"
    training_set: TrainingSetSpec = field(default_factory=TrainingSetSpec)
    dft: DftSpec = field(default_factory=DftSpec)
    seed: int = 7
    r_max_A: float | None = None
    fanout_slab_size_A: float | None = None
    campaign: str = ""
    spec_hash: str = ""

    @job
    def make(self) -> Response:
        """Build the label jobs and the collect job."""
        structures = generate_training_structures(self.training_set, self.seed, self.r_max_A, self.fanout_slab_size_A)
        engine = get_engine(self.dft, self.campaign, self.spec_hash)
        kspacing = engine_kspacing(self.dft)
        ctx = {"campaign": self.campaign, "spec_hash": self.spec_hash}
        jobs, origins = [], []
        reused = 0
        for i, item in enumerate(structures):
            frame_id = f"{self.campaign}:{item.origin}:{i:04d}"
            seed = self.seed * 1000 + i
            kpts = item.kpoint_mesh(kspacing)
            settings = engine.calc_settings(
                item.calculation, item.is_slab, relax=self.training_set.relax, aimd=self.training_set.aimd,
                temperature_K=item.temperature_K, seed=seed, kpts=kpts,
            )  # fmt: skip
            key = frame_key(item.calculation, item.structure, settings)
            if find_result(key) is not None:
                label_job = reuse_frames(key, frame_id, item.origin, item.label, **ctx)
                reused += 1
            elif item.calculation == "relax":
                label_job = engine.relax(
                    item.structure, frame_id, item.origin, item.label, item.is_slab, self.training_set.relax, kpts=kpts
                )
            elif item.calculation == "md":
                label_job = engine.md(
                    item.structure, frame_id, item.origin, item.label, item.temperature_K, self.training_set.aimd, seed
                )
            else:
                label_job = engine.static(item.structure, frame_id, item.origin, item.label, item.is_slab, kpts=kpts)
            label_job.name = f"dft label {item.label}"
            jobs.append(expose_store(label_job))
            origins.append(item.origin)
        packs, outputs = pack_jobs(jobs, self.dft.pack_size, "dft labels")
        for pack in packs:
            expose_store(pack)
        frame_ids = [
            out.frame_ids if item.calculation != "static" else out.frame_id for item, out in zip(structures, outputs)
        ]
        collect = collect_training_set(self.campaign, self.spec_hash, frame_ids, origins)
        name = f"dft labels ({engine.name}, {reused} reused)" if reused else f"dft labels ({engine.name})"
        return Response(replace=Flow([*packs, collect], output=collect.output, name=name))
