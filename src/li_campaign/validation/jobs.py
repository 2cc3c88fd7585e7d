"""The validation stage: the campaign's DFT teacher recomputes a sample of the model's fan-out results.

::

    TeacherSpotCheckMaker.make(model, bulk, teacher, fanout)      # plans, then replaces itself by
        ├─ engine.static(frame) for every planned frame           #   cpu: DFT single points (origin "validation")
        ├─ engine.relax(frame) for each relaxation request        #   cpu: only with validation.relax_adsorption
        └─ compare_spot_checks(model, ..., labels)                #   gpu: the model on the same frames -> ValidationDoc

The labels are the engine's ordinary label jobs (:func:`li_campaign.dft.engine.get_engine`), so
they run with the campaign's DFT settings, are reused by structure and settings like every
other label, and are stored as training frames of origin ``validation``.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobflow import Flow, JobConfig, Maker, OnMissing, Response, job

from li_campaign.dft.engine import get_engine
from li_campaign.execution.packing import pack_jobs
from li_campaign.execution.resources import CPU, GPU, run_on
from li_campaign.execution.reuse import expose_store
from li_campaign.mlip.calculator import load_model
from li_campaign.schemas.bulk import BulkDoc
from li_campaign.schemas.frames import TrainingFrameBatchDoc, TrainingFrameDoc
from li_campaign.schemas.models import ModelDoc
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import CampaignSpec, RelaxTrajectorySpec, ValidationSpec
from li_campaign.schemas.validation import ORIGIN, SpotCheckPlan, TeacherEnergy, ValidationDoc
from li_campaign.validation.compare import (
    Frame,
    bulk_checks,
    evaluate_checks,
    model_energies,
    refuse_frames,
    thresholds,
)
from li_campaign.validation.plan import plan_spot_checks


def _as(cls, value):
    return value if value is None or isinstance(value, cls) else cls.model_validate(value)


def _final_frame(label) -> TrainingFrameDoc | None:
    """The frame whose energy counts: a single point's, or a relaxation's last (None if its job failed)."""
    batch = isinstance(label, TrainingFrameBatchDoc) or (isinstance(label, dict) and label.get("doc_type") == "training_frames")
    if batch:
        return _as(TrainingFrameBatchDoc, label).frames[-1]
    return _as(TrainingFrameDoc, label)


@dataclass
class TeacherSpotCheckMaker(Maker):
    """Plan the spot checks of a model's fan-out and replace this job by the teacher's labels and the comparison.

    Parameters
    ----------
    name
        Job name.
    spec
        The campaign spec: its ``validation`` section (what to check, tolerances), its
        ``dft`` section (the teacher) and its name (frame ids).
    """

    name: str = "teacher spot checks"
    spec: CampaignSpec | None = None

    @job(config=JobConfig(on_missing_references=OnMissing.NONE, pass_manager_config=False))
    def make(self, model: ModelDoc, bulk: BulkDoc, teacher: BulkDoc | None, fanout: dict) -> Response:
        """Plan from the fan-out documents (``fanout``: ``surface``/``adsorption``/``diffusion`` -> facet -> doc).

        Runs even when some fan-out calculations failed (their checks are listed as skipped).
        """
        spec = self.spec
        if model is None or bulk is None:
            raise ValueError(f"campaign {spec.name}: no deployed model or no model EOS to validate (that job failed)")
        model, bulk = _as(ModelDoc, model), _as(BulkDoc, bulk)
        plan = plan_spot_checks(
            spec.validation,
            bulk,
            fanout.get("surface") or {},
            fanout.get("adsorption") or {},
            fanout.get("diffusion") or {},
        )
        ctx = spec.provenance_context()
        engine = get_engine(spec.dft, **ctx)
        labels = []
        relax = RelaxTrajectorySpec(
            origins=["adatom"], max_steps=spec.validation.relax.max_steps, fmax_eV_A=spec.validation.relax.fmax_eV_A
        )
        for request in plan.requests:
            frame_id = f"{spec.name}:{ORIGIN}:{model.sha256[:12]}:{request.name}"
            if request.relax:
                label = engine.relax(request.structure, frame_id, ORIGIN, request.label, request.slab, relax)
            else:
                label = engine.static(request.structure, frame_id, ORIGIN, request.label, request.slab)
            label.name = f"dft label {request.label}"
            labels.append(expose_store(label))
        packs, refs = pack_jobs(labels, spec.dft.pack_size, "validation labels")
        for pack in packs:
            run_on(expose_store(pack), CPU)
        compare = compare_spot_checks(
            model, bulk, _as(BulkDoc, teacher), plan, {r.name: ref for r, ref in zip(plan.requests, refs)},
            spec.validation, engine.name, **ctx,
        )  # fmt: skip
        compare.name = "compare spot checks"
        run_on(compare, GPU)
        return Response(replace=Flow([*packs, compare], output=compare.output, name=self.name))


@job(data="plan", config=JobConfig(on_missing_references=OnMissing.NONE))
def compare_spot_checks(
    model: ModelDoc,
    bulk: BulkDoc,
    teacher: BulkDoc | None,
    plan: SpotCheckPlan,
    labels: dict[str, TrainingFrameDoc | TrainingFrameBatchDoc | None],
    spec: ValidationSpec,
    engine: str,
    campaign: str = "",
    spec_hash: str = "",
) -> ValidationDoc:
    """Evaluate the model on the planned frames and compare every check with the teacher's labels.

    A label whose job failed is None; a check that needs it is listed as refused, as is one
    whose teacher energy per atom is absurd (:func:`~li_campaign.validation.compare.refuse_frames`,
    against the teacher's bulk EOS energy, or the model's where there is no teacher EOS).
    """
    model, bulk, teacher, plan = (
        _as(ModelDoc, model),
        _as(BulkDoc, bulk),
        _as(BulkDoc, teacher),
        _as(SpotCheckPlan, plan),
    )
    frames: dict[str, Frame | None] = {}
    for request in plan.requests:
        doc = _final_frame(labels.get(request.name))
        frames[request.name] = None if doc is None else Frame(doc.energy_eV, doc.n_atoms, doc.frame_id)
    reference = (teacher or bulk).energy_per_atom_eV
    refused = refuse_frames(frames, reference, spec.max_energy_deviation_eV_atom)
    energies = model_energies(plan, load_model(model))
    checks = [*bulk_checks(spec, bulk, teacher), *evaluate_checks(plan, spec, energies, frames, refused)]
    counts = {status: sum(c.status == status for c in checks) for status in ("pass", "fail", "refused", "skipped")}
    notes = [] if teacher is not None else ["no teacher EOS (VASP labels): a0 and B0 are not checked"]
    return ValidationDoc(
        campaign=campaign,
        model_sha256=model.sha256,
        engine=engine,
        checks=checks,
        passed=bool(checks) and counts["pass"] == len(checks),
        n_checks=len(checks),
        n_passed=counts["pass"],
        n_failed=counts["fail"],
        n_refused=counts["refused"],
        n_skipped=counts["skipped"],
        thresholds=thresholds(spec),
        frame_ids=[f.frame_id for name, f in frames.items() if f is not None and name not in refused],
        refused_frames={frames[name].frame_id: reason for name, reason in refused.items()},
        notes=notes,
        plan=plan,
        teacher_energies={
            name: TeacherEnergy(energy_eV=f.energy_eV, n_atoms=f.n_atoms, frame_id=f.frame_id)
            for name, f in frames.items()
            if f is not None
        },
        provenance=Provenance(campaign=campaign, spec_hash=spec_hash, model_sha256=model.sha256),
    )
