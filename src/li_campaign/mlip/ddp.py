"""Training devices: one GPU (or the CPU), or data-parallel (DDP) training on several GPUs of one node.

nequip 0.19 trains through a Lightning ``Trainer``; with ``devices: N > 1`` and a DDP strategy
Lightning starts one process per GPU (re-running ``nequip-train`` with Hydra's overrides), each
process gets its own shard of every epoch (``DistributedSampler``) at the configured batch
size, and nequip's loss sums over ranks. nequip's :class:`nequip.train.SimpleDDPStrategy`
is used: it is Lightning's ``DDPStrategy`` with manual gradient syncs and also works when the
model is compiled for training (nequip's docs, "Distributed Data Parallel Training").
``num_nodes`` is always 1: the fit job runs on one node (its worker's pinned GPUs).
"""

from __future__ import annotations

import os

import torch

from li_campaign.core.errors import InputError
from li_campaign.schemas.models import TrainingDevices
from li_campaign.schemas.spec import MlipSpec

DDP_STRATEGY = {"_target_": "nequip.train.SimpleDDPStrategy"}


def trainer_devices(n_gpus: int) -> dict:
    """The Lightning ``Trainer`` arguments for training on ``n_gpus`` GPUs of one node.

    ``devices`` and ``num_nodes`` always; ``strategy`` (DDP) only when ``n_gpus > 1``, so a
    one-device run keeps Lightning's single-device default.
    """
    settings: dict = {"devices": n_gpus, "num_nodes": 1}
    if n_gpus > 1:
        settings["strategy"] = dict(DDP_STRATEGY)
    return settings


def visible_cuda_devices() -> list[str]:
    """Names of the GPUs this process sees (torch, after ``CUDA_VISIBLE_DEVICES``); empty without CUDA."""
    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def check_training_devices(mlip: MlipSpec, gpu_names: list[str]) -> None:
    """Refuse a fit that asks for more GPUs than the worker sees, naming the field.

    Raises
    ------
    InputError
        ``mlip.n_gpus`` > 1 with ``mlip.device: cpu``, or more than ``gpu_names`` hold.
    """
    if mlip.n_gpus == 1:
        return
    if mlip.device == "cpu":
        raise InputError(f"mlip.n_gpus = {mlip.n_gpus} needs GPUs, but mlip.device is 'cpu'; set n_gpus: 1 or device: auto")
    if mlip.n_gpus > len(gpu_names):
        pinned = os.environ.get("CUDA_VISIBLE_DEVICES", "(not set)")
        raise InputError(
            f"mlip.n_gpus = {mlip.n_gpus} but this worker sees {len(gpu_names)} GPU(s) "
            f"(CUDA_VISIBLE_DEVICES={pinned}); run the fit on a node with {mlip.n_gpus} GPUs "
            "(`li-campaign run --gpus auto` gives it that many) or lower mlip.n_gpus"
        )


def training_devices(trainer: dict, batch_size: int, gpu_names: list[str]) -> TrainingDevices:
    """What the registry records about a training run of the Lightning ``trainer`` config.

    Parameters
    ----------
    trainer
        The ``trainer`` section that was trained with (``accelerator``, ``devices``, ``strategy``).
    batch_size
        The training batch size per device.
    gpu_names
        The GPUs the worker sees (:func:`visible_cuda_devices`).
    """
    n_devices = int(trainer.get("devices", 1))
    on_gpu = trainer.get("accelerator") in ("gpu", "cuda") or (trainer.get("accelerator") == "auto" and bool(gpu_names))
    return TrainingDevices(
        n_gpus=n_devices,
        accelerator="gpu" if on_gpu else "cpu",
        strategy="ddp" if "strategy" in trainer else "single_device",
        world_size=n_devices * int(trainer.get("num_nodes", 1)),
        per_device_batch_size=batch_size,
        device_names=gpu_names[:n_devices] if on_gpu else [],
        cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
    )
