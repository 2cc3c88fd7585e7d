"""A Lightning callback that appends each training epoch's wall time (s) to a file (for benchmarks/training.py)."""

from __future__ import annotations

import time

from lightning.pytorch.callbacks import Callback


class EpochTimer(Callback):
    """Write one line per training epoch: its wall time in seconds."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.start = 0.0

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        with open(self.path, "a") as out:
            out.write(f"{time.perf_counter() - self.start:.4f}\n")
