"""Makers of the MLIP stage: fit NequIP on stored frames, package, compile, register."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from jobflow import JobConfig, Maker, job

from li_campaign.core.context import current_campaign
from li_campaign.core.hashing import file_sha256
from li_campaign.mlip import nequip_cli
from li_campaign.mlip.calculator import load_calculator
from li_campaign.mlip.dataset import frame_to_atoms, split_frames, write_extxyz
from li_campaign.mlip.evaluate import evaluate_holdout
from li_campaign.mlip.nequip_config import nequip_config
from li_campaign.schemas.frames import TrainingSetDoc
from li_campaign.schemas.models import ModelDoc
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import MlipSpec


def read_frames(store, frame_ids: list[str]) -> list[dict]:
    """Read training frames back from the JobStore (newest document per frame id)."""
    docs = store.query(
        {"output.doc_type": "training_frame", "output.frame_id": {"$in": list(frame_ids)}},
        properties=["output", "completed_at"],
        sort={"completed_at": 1},
    )
    frames = {doc["output"]["frame_id"]: doc["output"] for doc in docs}
    missing = sorted(set(frame_ids) - set(frames))
    if missing:
        raise ValueError(f"{len(missing)} training frames are not in the store, e.g. {missing[:3]}")
    return [frames[f] for f in sorted(frame_ids)]


@dataclass
class FitNequipMaker(Maker):
    """Fit a NequIP model on frames read from the store and deploy it for ASE.

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
    campaign: str = ""
    spec_hash: str = ""

    @job(config=JobConfig(expose_store=True))
    def make(self, training_set: TrainingSetDoc) -> ModelDoc:
        """Train, package, (compile,) verify and register; returns the :class:`ModelDoc`."""
        from jobflow import CURRENT_JOB

        campaign = current_campaign()
        frames = read_frames(CURRENT_JOB.store, training_set.frame_ids)
        split = split_frames([f["frame_id"] for f in frames], self.mlip.split.model_dump(), self.mlip.seed)
        by_id = {f["frame_id"]: frame_to_atoms(f) for f in frames}
        work = Path.cwd()
        files = {part: write_extxyz([by_id[i] for i in ids], work / f"{part}.extxyz") for part, ids in split.items()}
        config_path = work / "nequip.yaml"
        config_path.write_text(yaml.safe_dump(nequip_config(self.mlip, files), sort_keys=False))

        start = time.perf_counter()
        checkpoint = nequip_cli.train(config_path, work / "train")
        train_time = time.perf_counter() - start

        start = time.perf_counter()
        package = nequip_cli.package(checkpoint, work / "model.nequip.zip")
        if self.mlip.deploy == "aotinductor":
            deployed = nequip_cli.compile_aoti(package, work / "model.nequip.pt2", device="cpu", target="ase")
        else:
            deployed = package
        deploy_time = time.perf_counter() - start

        sha = file_sha256(deployed)
        campaign.models_dir.mkdir(parents=True, exist_ok=True)
        suffix = ".nequip.pt2" if self.mlip.deploy == "aotinductor" else ".nequip.zip"
        final = campaign.models_dir / f"{sha}{suffix}"
        shutil.copyfile(deployed, final)
        package_final = campaign.models_dir / f"{file_sha256(package)}.nequip.zip"
        shutil.copyfile(package, package_final)

        calc = load_calculator(final, sha, self.mlip.deploy)
        holdout, parity = evaluate_holdout(calc, [by_id[i] for i in split["test"]])
        return ModelDoc(
            campaign=self.campaign,
            architecture=self.mlip.architecture,
            sha256=sha,
            deployed_path=str(final),
            deploy_mode=self.mlip.deploy,
            compile_target="ase" if self.mlip.deploy == "aotinductor" else None,
            compile_device="cpu",
            package_path=str(package_final),
            package_sha256=file_sha256(package_final),
            n_parameters=_count_parameters(load_calculator(package_final, file_sha256(package_final), "eager")),
            split=split,
            hyperparameters=self.mlip.model_dump(mode="json"),
            holdout=holdout,
            parity=parity,
            training_wall_time_s=train_time,
            deploy_wall_time_s=deploy_time,
            provenance=Provenance(campaign=self.campaign, spec_hash=self.spec_hash, model_sha256=sha),
        )


def _count_parameters(calc) -> int | None:
    model = getattr(calc, "model", None)
    try:
        return int(sum(p.numel() for p in model.parameters()))
    except (AttributeError, TypeError):
        return None
