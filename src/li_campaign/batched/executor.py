"""Which executor runs the fan-out's model calculations on this worker: batched on a GPU, one by one on a CPU.

The fan-out Makers call :func:`select_executor` (or :func:`use_batched`) inside their job, on
the worker that runs it, so the same flow runs batched on ``gpu`` workers and one by one
through ASE on ``cpu`` workers (and in debugging, with ``LI_CAMPAIGN_EXECUTOR=one-by-one``).
"""

from __future__ import annotations

import os
from typing import Literal

import torch

from li_campaign.core.errors import InputError

Executor = Literal["batched", "one-by-one"]
ENV = "LI_CAMPAIGN_EXECUTOR"
"""Environment variable that overrides the choice: ``batched`` or ``one-by-one``."""


def use_batched(device: str | None = None) -> bool:
    """True when model calculations should run batched through torch-sim on ``device`` (default: this worker)."""
    return select_executor(device) == "batched"


def select_executor(device: str | None = None) -> Executor:
    """Return ``batched`` on a CUDA device, ``one-by-one`` on the CPU; ``$LI_CAMPAIGN_EXECUTOR`` overrides.

    Raises
    ------
    InputError
        If the override is neither ``batched`` nor ``one-by-one``.
    """
    forced = os.environ.get(ENV, "").strip()
    if forced:
        if forced not in ("batched", "one-by-one"):
            raise InputError(f"${ENV}={forced!r}: expected 'batched' or 'one-by-one'")
        return forced  # type: ignore[return-value]
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return "batched" if str(device).startswith("cuda") else "one-by-one"


def worker_device() -> str:
    """``cuda`` when this worker has a GPU, else ``cpu``."""
    return "cuda" if torch.cuda.is_available() else "cpu"
