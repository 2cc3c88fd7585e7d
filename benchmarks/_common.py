"""Shared pieces of the GPU benchmarks: models of two sizes, structures, timing.

The models are untrained NequIPs of the right architecture (random weights, seeded): speed
does not depend on the weights, so no training run is needed.
"""

from __future__ import annotations

import os
import platform
import time
from datetime import date

import torch
from ase.build import bulk

from li_campaign.schemas.spec import MlipSpec

MODELS = {
    "tiny": MlipSpec(num_layers=2, num_features=16, l_max=1, parity=False, radial_mlp_depth=1, radial_mlp_width=32),
    "tutorial": MlipSpec(num_layers=4, num_features=32, l_max=1, parity=True, radial_mlp_depth=2, radial_mlp_width=64),
}
"""tiny: 8.7 k parameters (the demo model); tutorial: 418 k parameters (nequip tutorial size)."""


def bcc(reps: tuple[int, int, int], seed: int, a: float = 3.44):
    """Rattled (0.05 Å) cubic bcc Li supercell."""
    atoms = bulk("Li", "bcc", a=a, cubic=True).repeat(reps)
    atoms.rattle(0.05, seed=seed)
    return atoms


def sync(device: str) -> None:
    """Wait for the GPU (no-op on the CPU)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device: str, min_s: float = 1.0, max_reps: int = 300, warmup: int = 3) -> float:
    """Seconds per call of ``fn`` after ``warmup`` calls, repeated until ``min_s`` has passed."""
    for _ in range(warmup):
        fn()
    sync(device)
    start, reps = time.perf_counter(), 0
    while reps < max_reps and (reps < 5 or time.perf_counter() - start < min_s):
        fn()
        reps += 1
        if reps % 5 == 0:
            sync(device)
    sync(device)
    return (time.perf_counter() - start) / reps


def machine(device: str) -> str:
    """One line: date, device, host CPU count, Python and torch versions."""
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else "CPU only"
    threads = torch.get_num_threads()
    return (
        f"date {date.today()}, device {device} ({gpu}), {os.cpu_count()} CPUs, torch threads {threads}, "
        f"Python {platform.python_version()}, torch {torch.__version__}"
    )
