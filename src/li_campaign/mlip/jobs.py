"""Makers of the MLIP stage: fit NequIP or Allegro on stored frames, package, compile, register."""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from jobflow import CURRENT_JOB, JobConfig, job

from li_campaign.core.errors import InputError, MissingDataError
from li_campaign.core.hashing import file_sha256
from li_campaign.db.context import current_campaign
from li_campaign.execution.maker import CalculationMaker
from li_campaign.mlip import nequip_cli
from li_campaign.mlip.calculator import load_calculator
from li_campaign.mlip.dataset import TRAIN_ONLY_ORIGINS, frame_content_key, frame_to_atoms, split_frames, write_extxyz
from li_campaign.mlip.ddp import check_training_devices, training_devices, visible_cuda_devices
from li_campaign.mlip.device import compile_target, resolve_device
from li_campaign.mlip.evaluate import adsorption_label_errors, check_training_errors, evaluate_holdout
from li_campaign.mlip.nequip_config import loss_coefficients, nequip_config, read_scales
from li_campaign.schemas.frames import TrainingSetDoc
from li_campaign.schemas.models import EpochLoss, ModelDoc
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import MlipSpec

if TYPE_CHECKING:
    from jobflow import JobStore


log = logging.getLogger(__name__)


_LISTED_IDS = 20  # missing frame ids named in the error


_FRAME_DOC_TYPES = ("training_frame", "training_frames")


def read_frames(store: JobStore, frame_ids: list[str]) -> list[dict]:
    """Read training frames back from the JobStore (newest document per frame id).

    Frames are single-frame outputs (``training_frame``) or members of the frame batches of
    relaxation and MD label jobs (``training_frames``), as job outputs or inside the packs of
    packed label jobs (``dft.pack_size``).

    Parameters
    ----------
    store
        The JobStore to search (a job's ``CURRENT_JOB.store``).
    frame_ids
        Ids of the frames, e.g. a :class:`TrainingSetDoc`'s ``frame_ids``.

    Returns
    -------
    list of dict
        The frames, sorted by id.

    Raises
    ------
    MissingDataError
        If some frames are not in ``store``: the message says how many of how many, names
        the campaigns of their ids, the store searched and the first :data:`_LISTED_IDS`
        missing ids. Nothing is written before.
    """
    ids = sorted(set(frame_ids))
    wanted = set(ids)
    docs = store.query(
        {
            "$or": [
                {"output.doc_type": "training_frame", "output.frame_id": {"$in": ids}},
                {"output.doc_type": "training_frames", "output.frame_ids": {"$in": ids}},
                {"output.doc_type": "pack", "output.result_doc_types": {"$in": list(_FRAME_DOC_TYPES)}},
            ]
        },
        properties=["output", "completed_at"],
        sort={"completed_at": 1},
    )
    frames = {}
    for doc in docs:
        output = doc["output"]
        outputs = [r for r in output.get("results") or [] if r] if output["doc_type"] == "pack" else [output]
        for result in outputs:
            if result.get("doc_type") not in _FRAME_DOC_TYPES:
                continue
            for frame in result["frames"] if result["doc_type"] == "training_frames" else [result]:
                if frame["frame_id"] in wanted:
                    frames[frame["frame_id"]] = frame
    missing = [i for i in ids if i not in frames]
    if missing:
        listed = ", ".join(missing[:_LISTED_IDS])
        if len(missing) > _LISTED_IDS:
            listed += f", … ({len(missing) - _LISTED_IDS} more)"
        campaigns = sorted({i.split(":", 1)[0] for i in missing})
        raise MissingDataError(
            f"{len(missing)} of the {len(ids)} training frames of campaign(s) {campaigns} are not in the JobStore "
            f"{_store_name(store)}: {listed}. Their label jobs never stored them here (another store?) or they "
            "were deleted; nothing was trained or stored"
        )
    return [frames[i] for i in sorted(frame_ids)]


def _store_name(store: JobStore) -> str:
    """Name a JobStore's output collection and database (never a URI, which may hold a password)."""
    docs = store.docs_store
    database = getattr(docs, "database_name", None) or getattr(docs, "database", None)
    where = "/".join(str(part) for part in (getattr(docs, "database_path", None), database) if part)
    return f"{type(docs).__name__} '{docs.collection_name}'" + (f" in {where}" if where else "")


def energy_shift(mlip: MlipSpec, frames: list[dict]) -> float | None:
    """The model's per-atom energy shift: the isolated-atom frame's energy, or None for nequip's mean.

    Raises
    ------
    InputError
        If ``mlip.energy_shift`` is ``isolated_atom`` and the training frames hold no
        isolated-atom frame, or several with different energies.
    """
    if mlip.energy_shift == "mean":
        return None
    energies = sorted({round(float(f["energy_eV"]), 6) for f in frames if f["origin"] == "isolated_atom"})
    if len(energies) != 1:
        found = "none" if not energies else f"{len(energies)} with different energies {energies} eV"
        raise InputError(
            f"mlip.energy_shift = 'isolated_atom' needs exactly one isolated-atom energy among the training frames, "
            f"found {found}: label it (training_set.isolated_atom_box_A) or set mlip.energy_shift: mean; "
            "nothing was trained or stored"
        )
    return energies[0]


@dataclass
class FitNequipMaker(CalculationMaker):
    """Fit a NequIP or Allegro model on frames read from the store and deploy it for ASE.

    Both architectures (``mlip.architecture``) are models of the nequip framework, trained by
    ``nequip-train`` on the same frames, split, loss (stress masked on cells with vacuum),
    learning-rate schedule and early stopping, packaged by ``nequip-package`` and compiled by
    ``nequip-compile``; only the config's model section differs
    (:func:`~li_campaign.mlip.nequip_config.architecture_config`). The registry entry records the
    architecture and the compile target. The class, its job name (``fit nequip``) and its reuse
    kind (``nequip_fit``) keep their names for either architecture, so that stored flows still
    load.

    Parameters
    ----------
    name
        Job name.
    mlip
        Model, training and deployment settings.
    campaign
        Campaign name (provenance).
    spec_hash
        Campaign spec hash (provenance).
    """

    name: str = "fit nequip"
    mlip: MlipSpec = field(default_factory=MlipSpec)

    @job(config=JobConfig(expose_store=True))
    def make(self, training_set: TrainingSetDoc) -> ModelDoc:
        """Train, package, (compile,) verify and register; returns the :class:`ModelDoc`."""
        frames = read_frames(CURRENT_JOB.store, training_set.frame_ids)
        # the fit is identified by what it learns from (structure hash + DFT settings of every
        # frame) and how, not by the frames' names, which carry the campaign's name
        settings = {"mlip": self.mlip, "frames": sorted(frame_content_key(f) for f in frames)}
        provenance = self.provenance("nequip_fit", settings)
        update = {"campaign": self.campaign}
        return self.reuse_or_compute(provenance, lambda: self._fit(frames, provenance), update=update)

    def _fit(self, frames: list[dict], provenance: Provenance) -> ModelDoc:
        """Train on ``frames``; return the registered model."""
        campaign = current_campaign()
        gpu_names = visible_cuda_devices()
        check_training_devices(self.mlip, gpu_names)
        content = {f["frame_id"]: frame_content_key(f) for f in frames}
        origin = {f["frame_id"]: f["origin"] for f in frames}
        split_spec = self.mlip.split
        split = split_frames(
            list(content),
            split_spec.model_dump(include={"train", "val", "test"}),
            self.mlip.seed,
            sort_key=content.__getitem__,
            stratum=origin.__getitem__,
            min_stratum_frames=split_spec.stratify_min_frames,
            train_strata=TRAIN_ONLY_ORIGINS,
        )
        by_id = {f["frame_id"]: frame_to_atoms(f) for f in frames}
        work = Path.cwd()
        files = {part: write_extxyz([by_id[i] for i in ids], work / f"{part}.extxyz") for part, ids in split.items()}
        config_path = work / "nequip.yaml"
        scales = read_scales(files)
        shift = energy_shift(self.mlip, frames)
        config = nequip_config(self.mlip, files, scales=scales, energy_shift_eV=shift)
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))

        start = time.perf_counter()
        checkpoint = nequip_cli.train(config_path, work / "train")
        train_time = time.perf_counter() - start
        curve = [EpochLoss(**row) for row in nequip_cli.learning_curve(work / "train")]

        start = time.perf_counter()
        device = resolve_device(self.mlip.device)  # compile for the device type this worker has
        target = compile_target(device)
        package = nequip_cli.package(checkpoint, work / "model.nequip.zip")
        # the model's errors on its own frames, per part and origin; a fit that does not reproduce
        # its training frames stops here, before the (slow) compile and before anything is stored
        eager = load_calculator(package, file_sha256(package), "eager", device)
        split_errors = {part: evaluate_holdout(eager, [by_id[i] for i in ids])[0] for part, ids in split.items()}
        check_training_errors(
            split_errors["train"], self.mlip.max_train_energy_mae_meV_atom, self.mlip.max_train_force_mae_meV_A
        )
        part_of = {fid: part for part, ids in split.items() for fid in ids}
        adsorption = adsorption_label_errors(eager, by_id, {f["frame_id"]: f["label"] for f in frames}, part_of)
        mode, deployed = self.mlip.deploy, package
        if mode == "aotinductor":
            try:
                deployed = nequip_cli.compile_aoti(package, work / "model.nequip.pt2", device=device, target="ase")
            except nequip_cli.NequipError as exc:
                if device == "cpu":
                    raise
                # AOTInductor builds of torch 2.11 crashed on an H100 (shared/notes/gpu_anchor.md): deploy eager there
                log.warning("AOTInductor compile for %s failed, deploying the eager package instead: %s", device, exc)
                mode = "eager"
        deploy_time = time.perf_counter() - start

        sha = file_sha256(deployed)
        campaign.models_dir.mkdir(parents=True, exist_ok=True)
        suffix = ".nequip.pt2" if mode == "aotinductor" else ".nequip.zip"
        final = campaign.models_dir / f"{sha}{suffix}"
        shutil.copyfile(deployed, final)
        package_final = campaign.models_dir / f"{file_sha256(package)}.nequip.zip"
        shutil.copyfile(package, package_final)

        calc = load_calculator(final, sha, mode, device)
        holdout, parity = evaluate_holdout(calc, [by_id[i] for i in split["test"]])
        return ModelDoc(
            campaign=self.campaign,
            architecture=self.mlip.architecture,
            sha256=sha,
            deployed_path=str(final),
            deploy_mode=mode,
            compile_target="ase" if mode == "aotinductor" else None,
            compile_device=device,
            compile_gpu=target["gpu"] if mode == "aotinductor" else None,
            compile_torch=target["torch"] if mode == "aotinductor" else None,
            package_path=str(package_final),
            package_sha256=file_sha256(package_final),
            n_parameters=_count_parameters(load_calculator(package_final, file_sha256(package_final), "eager")),
            split=split,
            energy_shift_eV=shift,
            hyperparameters=self.mlip.model_dump(mode="json"),
            holdout=holdout,
            split_errors=split_errors,
            adsorption_label_errors=adsorption,
            learning_curve=curve,
            epochs_trained=len(curve),
            loss_coeffs=loss_coefficients(self.mlip, scales["train"]),
            stress_masked=sorted(i for i, atoms in by_id.items() if atoms.info["stress_masked"]),
            parity=parity,
            training_wall_time_s=train_time,
            deploy_wall_time_s=deploy_time,
            training_devices=training_devices(config["trainer"], config["data"]["train_dataloader"]["batch_size"], gpu_names),
            provenance=provenance.model_copy(update={"model_sha256": sha}),
        )


def _count_parameters(calc) -> int | None:
    model = getattr(calc, "model", None)
    try:
        return int(sum(p.numel() for p in model.parameters()))
    except (AttributeError, TypeError):
        return None
