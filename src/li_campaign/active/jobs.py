"""Makers of the active-learning loop: committee fit → exploration and selection → DFT labels → next committee.

The loop is a dynamic jobflow flow that FireWorks runs with no human in the loop::

    ActiveLearningMaker.make(training_set)            # holds out frames, replaced by iteration 0
      iteration k:  fit member 1 … fit member N       (FitNequipMaker, seeds differ)  gpu
                    register committee k              (CommitteeDoc, fixed-holdout errors)  gpu
                    explore k                         (ActiveLearningIterationDoc)  gpu
                      └─ no stop_reason (selection.stop_reason): Response(addition=
                           dft label … (LabelFrameMaker, origin "active_learning": the selected
                             frames and, while spot checks fail, copies near them: active.near_checks)  cpu
                           grow training set k + 1                                  cpu
                           iteration k + 1)

Jobs that add jobs set ``pass_manager_config=False`` so that each added job keeps the worker
category it was given (:mod:`li_campaign.execution.resources`). A label that fails does not stop
the loop: the training set grows by the frames that were labelled.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from jobflow import CURRENT_JOB, Flow, Job, JobConfig, Maker, OnMissing, OutputReference, Response, job
from jobflow.core.reference import find_and_resolve_references
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from li_campaign.active.committee import CommitteeMeanCalculator, load_committee
from li_campaign.active.descriptors import distance_histogram
from li_campaign.active.explore import explore, fanout_frames, start_structures
from li_campaign.active.near_checks import near_check_frames
from li_campaign.active.selection import ACCURATE, CANDIDATE, FAILED, is_converged, select_frames, stop_reason
from li_campaign.dft.jobs import LabelFrameMaker
from li_campaign.execution.resources import CPU, GPU, run_on, use_gpus
from li_campaign.execution.reuse import calculation_key, current_store, expose_store, reuse_or_compute
from li_campaign.mlip.dataset import TRAIN_ONLY_ORIGINS, frame_to_atoms
from li_campaign.mlip.evaluate import evaluate_holdout
from li_campaign.mlip.jobs import FitNequipMaker, read_frames
from li_campaign.schemas.active import ActiveLearningIterationDoc, CommitteeDoc, CommitteeMember, SelectedFrame
from li_campaign.schemas.frames import TrainingSetDoc
from li_campaign.schemas.models import ModelDoc
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import CampaignSpec
from li_campaign.schemas.validation import ValidationDoc
from li_campaign.validation.compare import recheck

ORIGIN = "active_learning"
"""Origin of every frame labelled by the loop; the iteration is in its frame id and label."""


def frame_origin(frame_id: str) -> str:
    """Return the origin part of a frame id ``<campaign>:<origin>:<index>`` (campaign names have no ':')."""
    return frame_id.split(":")[1]


def training_set_doc(campaign: str, spec_hash: str, frame_ids: list[str]) -> TrainingSetDoc:
    """Return a :class:`TrainingSetDoc` of ``frame_ids`` (origins read from the ids)."""
    ids = sorted(frame_ids)
    return TrainingSetDoc(
        campaign=campaign,
        frame_ids=ids,
        n_frames=len(ids),
        counts_by_origin=dict(Counter(frame_origin(i) for i in ids)),
        provenance=Provenance(campaign=campaign, spec_hash=spec_hash),
    )


def choose_holdout(frame_ids: list[str], fraction: float, seed: int) -> list[str]:
    """Return the fixed holdout: ``round(fraction · n)`` (at least one) frame ids drawn with ``seed``.

    Frames of :data:`~li_campaign.mlip.dataset.TRAIN_ONLY_ORIGINS` (the isolated atom, which pins
    every member's energy shift) are never held out: the draw passes over them to the next frame.
    """
    ids = sorted(frame_ids)
    if len(ids) < 4:
        raise ValueError(f"active learning needs at least 4 initial frames (holdout, train, val, test), got {len(ids)}")
    n = max(1, round(fraction * len(ids)))
    order = np.random.default_rng(seed).permutation(len(ids))
    drawn = [ids[i] for i in order if frame_origin(ids[i]) not in TRAIN_ONLY_ORIGINS]
    return sorted(drawn[:n])


@job
def subsample_training_set(training_set: TrainingSetDoc, fraction: float, seed: int, campaign: str, spec_hash: str) -> TrainingSetDoc:
    """Return a random ``fraction`` (at least 3 frames) of ``training_set``, drawn with ``seed``.

    Frames of :data:`~li_campaign.mlip.dataset.TRAIN_ONLY_ORIGINS` (the isolated atom) are always
    kept, drawn or not: a member without it could not set its energy shift.
    """
    ids = sorted(training_set.frame_ids)
    n = min(len(ids), max(3, round(fraction * len(ids))))
    order = np.random.default_rng(seed).permutation(len(ids))
    kept = {ids[i] for i in order[:n]} | {i for i in ids if frame_origin(i) in TRAIN_ONLY_ORIGINS}
    return training_set_doc(campaign, spec_hash, sorted(kept))


@job(config=JobConfig(on_missing_references=OnMissing.NONE))
def grow_training_set(previous: TrainingSetDoc, new_frame_ids: list[str | None], campaign: str, spec_hash: str) -> TrainingSetDoc:
    """Return ``previous`` plus the newly labelled frames (a failed label gives None and is left out)."""
    labelled = [i for i in new_frame_ids if i is not None]
    return training_set_doc(campaign, spec_hash, [*previous.frame_ids, *labelled])


def _as_model(doc: ModelDoc | dict) -> ModelDoc:
    return doc if isinstance(doc, ModelDoc) else ModelDoc.model_validate({k: v for k, v in doc.items() if not k.startswith("@")})


@job(config=JobConfig(expose_store=True))
def register_committee(
    members: list[ModelDoc],
    seeds: list[int],
    training_set: TrainingSetDoc,
    holdout_ids: list[str],
    iteration: int,
    campaign: str,
    spec_hash: str,
) -> CommitteeDoc:
    """Group the members' registry entries into one :class:`CommitteeDoc` with fixed-holdout errors."""
    models = [_as_model(m) for m in members]
    team = [
        CommitteeMember(
            sha256=m.sha256,
            deployed_path=m.deployed_path,
            deploy_mode=m.deploy_mode,
            compile_device=m.compile_device,
            seed=seed,
            n_train=len(m.split.get("train", [])),
        )
        for m, seed in zip(models, seeds)
    ]
    sha = committee_sha256(m.sha256 for m in models)
    key = calculation_key("committee_holdout", None, sha, {"holdout": sorted(holdout_ids), "iteration": iteration})
    provenance = Provenance(campaign=campaign, spec_hash=spec_hash, model_sha256=sha, calc_key=key)

    def evaluate() -> CommitteeDoc:
        frames = [frame_to_atoms(f) for f in read_frames(CURRENT_JOB.store, holdout_ids)]
        evaluator = load_committee(team)
        return CommitteeDoc(
            committee_id=f"{campaign}:committee:iter{iteration}",
            campaign=campaign,
            iteration=iteration,
            members=team,
            n_training_frames=training_set.n_frames,
            holdout_frame_ids=sorted(holdout_ids),
            holdout=evaluate_holdout(CommitteeMeanCalculator(evaluator), frames)[0],
            member_holdout=[evaluate_holdout(calc, frames)[0] for calc in evaluator.calculators],
            provenance=provenance,
        )

    return reuse_or_compute(provenance, evaluate)


def committee_sha256(member_sha256s) -> str:
    """Return one sha256 for a committee: of its members' sha256s, in member order."""
    return hashlib.sha256(":".join(member_sha256s).encode()).hexdigest()


_POINTER = "output_reference_uuid"


def pointers(value):
    """``value`` with every jobflow ``OutputReference`` in it replaced by a plain pointer (uuid and attributes).

    Jobs that a running job adds may not hold references to jobs outside the added flow, not
    even in their Makers (jobflow checks every reference it finds); pointers are plain data.
    :func:`references` turns them back.
    """
    if isinstance(value, OutputReference):
        return {_POINTER: value.uuid, "attributes": [list(a) for a in value.attributes]}
    if isinstance(value, dict):
        return {key: pointers(item) for key, item in value.items()}
    return value


def references(value):
    """The inverse of :func:`pointers`."""
    if isinstance(value, dict) and _POINTER in value:
        return OutputReference(value[_POINTER], tuple(tuple(a) for a in value["attributes"]))
    if isinstance(value, dict):
        return {key: references(item) for key, item in value.items()}
    return value


def iteration_flow(
    spec: CampaignSpec, iteration: int, training_set, holdout_ids: list[str], sources: dict | None = None
) -> Flow:
    """Return the flow of one iteration: fit the committee, register it, explore and select.

    Parameters
    ----------
    spec
        The campaign spec (its ``active_learning`` section must be set).
    iteration
        k, from 0.
    training_set
        The :class:`TrainingSetDoc` (or a reference to one) the committee is fit to; holdout excluded.
    holdout_ids
        The fixed holdout frames.
    sources
        With ``active_learning.explore_fanout``: where the ``fanout`` (fan-out flow) and
        ``validation`` (teacher spot checks) outputs are (:func:`pointers`), read from the
        JobStore by the explore job itself (:meth:`ExploreSelectMaker.resolved_sources`): a
        flow that a running job adds may not reference jobs outside it (jobflow), so they are
        not inputs; the loop's first job waits for them instead.
    """
    al = spec.active_learning
    ctx = spec.provenance_context()
    seeds = al.member_seeds(spec.mlip.seed)
    jobs: list[Job] = []
    fits = []
    for i, seed in enumerate(seeds):
        member_set = training_set
        if al.subsample_fraction is not None:
            sub = subsample_training_set(training_set, al.subsample_fraction, seed, **ctx)
            sub.name = f"subsample committee {iteration} member {i}"
            jobs.append(sub)
            member_set = sub.output
        mlip = spec.mlip.model_copy(update={"seed": seed, "max_epochs": al.max_epochs or spec.mlip.max_epochs})
        fit = FitNequipMaker(name=f"fit nequip committee {iteration} member {i}", mlip=mlip, **ctx).make(member_set)
        use_gpus(fit, mlip.n_gpus)  # a member trained with DDP asks the runner for that many GPUs
        fits.append(fit)
        jobs.append(fit)
    register = register_committee([f.output for f in fits], seeds, training_set, holdout_ids, iteration, **ctx)
    register.name = f"register committee {iteration}"
    step = ExploreSelectMaker(
        name=f"active learning explore {iteration}", spec=spec, iteration=iteration, holdout_ids=holdout_ids,
        sources=sources,
    )  # fmt: skip
    explore_job = step.make(register.output, training_set)
    jobs += [register, explore_job]
    for j in jobs:
        run_on(j, GPU)
        expose_store(j)
    return Flow(jobs, output=explore_job.output, name=f"active learning iteration {iteration}")


@dataclass
class ExploreSelectMaker(Maker):
    """Explore with a committee, select frames for labels and add the next iteration unless the loop stops.

    Parameters
    ----------
    name
        Job name.
    spec
        The campaign spec (``active_learning``, ``dft`` and ``training_set.lattice_constant_A`` are used).
    iteration
        k, from 0.
    holdout_ids
        The fixed holdout frames (handed on to the next iteration).
    sources
        The references of ``fanout`` and ``validation`` (``active_learning.explore_fanout``),
        resolved from the JobStore when the job runs (:meth:`resolved_sources`) and handed on
        to the next iteration.
    """

    name: str = "active learning explore"
    spec: CampaignSpec | None = None
    iteration: int = 0
    holdout_ids: list[str] = field(default_factory=list)
    sources: dict | None = None

    def resolved_sources(self) -> tuple[dict | None, ValidationDoc | None]:
        """The fan-out documents and the spot checks of :attr:`sources`, read from the running job's JobStore.

        None where there are no sources or that calculation failed (the loop runs on without it).
        """
        if not self.sources:
            return None, None
        store = current_store()
        if store is None:
            raise RuntimeError("active learning explore: the JobStore is not exposed to this job (expose_store)")
        resolved = find_and_resolve_references(references(self.sources), store, on_missing=OnMissing.NONE)
        validation = resolved.get("validation")
        return resolved.get("fanout"), None if validation is None else ValidationDoc.model_validate(validation)

    @job(config=JobConfig(pass_manager_config=False))
    def make(self, committee: CommitteeDoc, training_set: TrainingSetDoc) -> Response:
        """Return the :class:`ActiveLearningIterationDoc`, with the next iteration's jobs as an addition.

        With :attr:`sources` the fan-out's documents are explored too and the teacher spot
        checks redone with the committee mean.
        """
        spec, al = self.spec, self.spec.active_learning
        fanout, validation = self.resolved_sources()
        settings = {
            "active_learning": al,
            "iteration": self.iteration,
            "a": spec.training_set.lattice_constant_A,
            "fanout_model_sha256": None if validation is None else validation.model_sha256,
            "fanout_facets": sorted((fanout or {}).get("diffusion") or {}),
        }
        provenance = Provenance(
            campaign=spec.name,
            spec_hash=spec.spec_hash(),
            model_sha256=committee.provenance.model_sha256,
            calc_key=calculation_key("active_learning_exploration", None, committee.provenance.model_sha256, settings),
        )
        doc = reuse_or_compute(provenance, lambda: self._explore(committee, training_set, provenance, fanout, validation))
        if doc.stop_reason is not None:
            return Response(output=doc)
        return Response(output=doc, addition=self._next_iteration(doc, training_set))

    def _explore(
        self,
        committee: CommitteeDoc,
        training_set: TrainingSetDoc,
        provenance: Provenance,
        fanout: dict | None = None,
        validation: ValidationDoc | None = None,
    ) -> ActiveLearningIterationDoc:
        """Run the exploration (and the fan-out's frames and spot checks) and the selection; decide whether to stop."""
        spec, al = self.spec, self.spec.active_learning
        start = time.perf_counter()
        evaluator = load_committee(committee.members)
        starts = start_structures(al.exploration, spec.training_set.lattice_constant_A)
        frames = explore(starts, evaluator, al.exploration, al.seed + self.iteration)
        extra = fanout_frames(fanout, evaluator) if fanout else []
        frames += extra
        checks = None
        if validation is not None and validation.plan is not None:
            checks = recheck(validation, spec.validation, CommitteeMeanCalculator(evaluator))
        passed = None if checks is None else bool(checks) and all(c.status == "pass" for c in checks)
        wall = time.perf_counter() - start
        sigma = [f.max_force_std_eV_A for f in frames]
        origins = [f.origin for f in frames]
        descriptors = np.array([distance_histogram(f.atoms, al.descriptor_r_max_A, al.descriptor_bins) for f in frames])
        selection = select_frames(
            sigma,
            descriptors,
            origins,
            al.trust_lower_eV_A,
            al.trust_upper_eV_A,
            al.budget_per_iteration,
            method=al.diversity,
            quotas=al.origin_quotas,
            seed=al.seed + self.iteration,
        )
        near = [] if passed is not False else near_check_frames(validation, checks, al, self.iteration, evaluator)
        stop = stop_reason(
            selection.fraction(CANDIDATE),
            al.converged_candidate_fraction,
            self.iteration,
            al.max_iterations,
            len(selection.selected) + len(near),
            spot_checks_passed=passed,
        )
        picked = [] if stop else selection.selected
        return ActiveLearningIterationDoc(
            iteration_id=f"{spec.name}:active_learning:iter{self.iteration}",
            campaign=spec.name,
            iteration=self.iteration,
            committee_id=committee.committee_id,
            member_sha256s=[m.sha256 for m in committee.members],
            n_training_frames=training_set.n_frames,
            n_holdout_frames=len(committee.holdout_frame_ids),
            holdout=committee.holdout,
            n_explored=len(frames),
            n_accurate=len(selection.indices(ACCURATE)),
            n_candidates=len(selection.indices(CANDIDATE)),
            n_failed=len(selection.indices(FAILED)),
            accurate_fraction=selection.fraction(ACCURATE),
            candidate_fraction=selection.fraction(CANDIDATE),
            failed_fraction=selection.fraction(FAILED),
            max_force_std_eV_A=sigma,
            origins=origins,
            candidates_by_origin=dict(Counter(origins[i] for i in selection.indices(CANDIDATE))),
            failed_by_origin=dict(Counter(origins[i] for i in selection.indices(FAILED))),
            selected=[
                SelectedFrame(
                    origin=frames[i].origin,
                    label=frames[i].label,
                    is_slab=frames[i].is_slab,
                    max_force_std_eV_A=sigma[i],
                    structure=AseAtomsAdaptor.get_structure(frames[i].atoms).as_dict(),
                )
                for i in picked
            ]
            + ([] if stop else near),
            trust_lower_eV_A=al.trust_lower_eV_A,
            trust_upper_eV_A=al.trust_upper_eV_A,
            converged=is_converged(selection.fraction(CANDIDATE), al.converged_candidate_fraction),
            stop_reason=stop,
            exploration_wall_time_s=wall,
            n_fanout_frames=len(extra),
            spot_checks=checks,
            spot_checks_passed=passed,
            provenance=provenance,
        )

    def _next_iteration(self, doc: ActiveLearningIterationDoc, training_set: TrainingSetDoc) -> Flow:
        """Label the selected frames (cpu), grow the training set (cpu), then iteration k + 1 (gpu)."""
        spec = self.spec
        ctx = spec.provenance_context()
        labeller = LabelFrameMaker(dft=spec.dft, **ctx)
        labels = []
        for i, frame in enumerate(doc.selected):
            label = labeller.make(
                Structure.from_dict(frame.structure),
                frame_id=f"{spec.name}:{ORIGIN}:iter{self.iteration}-{i:03d}",
                origin=ORIGIN,
                label=f"active learning iter {self.iteration}: {frame.label}",
                slab=frame.is_slab,
            )
            label.name = f"dft label active learning {self.iteration}-{i:03d}"
            labels.append(label)
        grow = grow_training_set(training_set, [j.output.frame_id for j in labels], **ctx)
        grow.name = f"grow training set {self.iteration + 1}"
        for j in [*labels, grow]:
            run_on(j, CPU)
            expose_store(j)
        following = iteration_flow(spec, self.iteration + 1, grow.output, self.holdout_ids, self.sources)
        return Flow([*labels, grow, following], name=f"active learning labels {self.iteration}")


@dataclass
class ActiveLearningMaker(Maker):
    """The active-learning loop of a campaign, started from its initial training set.

    Parameters
    ----------
    name
        Job name.
    spec
        The campaign spec; its ``active_learning`` section must be set.
    sources
        With ``active_learning.explore_fanout``: ``{"fanout": <fan-out flow output>,
        "validation": <spot-check output or None>}``; pass them to :meth:`make` too (as
        keyword arguments), so that the loop starts after them.

    Examples
    --------
    >>> loop = ActiveLearningMaker(spec=spec).make(training.output)  # doctest: +SKIP
    """

    name: str = "active learning"
    spec: CampaignSpec | None = None
    sources: dict | None = None

    @job(config=JobConfig(pass_manager_config=False, on_missing_references=OnMissing.NONE))
    def make(self, training_set: TrainingSetDoc, **after) -> Response:
        """Hold out a fixed fraction of the initial frames and replace this job by iteration 0.

        ``after``: the :attr:`sources` again, as inputs, so that this job (and so the whole
        loop) starts once they are done; their values are read later, by each explore job.
        """
        spec, al = self.spec, self.spec.active_learning
        if training_set is None:
            raise ValueError(f"campaign {spec.name}: no initial training set for active learning (its labels failed)")
        if al is None:
            raise ValueError(f"campaign {spec.name}: the spec has no active_learning section")
        holdout = choose_holdout(training_set.frame_ids, al.holdout_fraction, al.seed)
        train = training_set_doc(spec.name, spec.spec_hash(), sorted(set(training_set.frame_ids) - set(holdout)))
        sources = None if self.sources is None else pointers(self.sources)
        return Response(replace=iteration_flow(spec, 0, train, holdout, sources))
