"""Tiny jobs that report what a worker process sees (importable by worker processes)."""

from __future__ import annotations

import os

from jobflow import job


@job
def seen_gpus(i: int) -> dict:
    """Return ``i`` with this process's ``CUDA_VISIBLE_DEVICES`` and pid."""
    return {"i": i, "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"), "pid": os.getpid()}
