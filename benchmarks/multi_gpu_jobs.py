"""The fan-out calculations of ``benchmarks/multi_gpu.py``: jobs that worker processes import.

Each job loads the packaged model on its worker's device (its pinned GPU, or the CPU), runs
one calculation with ASE and reports where it ran, so the benchmark can check the pinning.
"""

from __future__ import annotations

import os
import platform
import time

from jobflow import job


def _atoms(reps: int, seed: int):
    from ase.build import bulk

    atoms = bulk("Li", "bcc", a=3.44, cubic=True).repeat(reps)
    atoms.rattle(0.05, seed=seed)
    return atoms


def _calculator(model_path: str, sha256: str):
    import torch

    from li_campaign.mlip.calculator import load_calculator

    device = "cuda" if torch.cuda.is_available() else "cpu"
    return load_calculator(model_path, sha256, "eager", device=device), device


def _where(device: str) -> dict:
    return {"device": device, "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"), "host": platform.node()}


@job
def md_run(model_path: str, sha256: str, seed: int, reps: int, steps: int) -> dict:
    """Langevin MD (300 K, 1 fs) of a rattled ``reps``³ bcc Li cell; final energy and atom-steps."""
    import numpy as np
    from ase import units
    from ase.md.langevin import Langevin

    atoms = _atoms(reps, seed)
    atoms.calc, device = _calculator(model_path, sha256)
    start = time.perf_counter()
    Langevin(atoms, timestep=1.0 * units.fs, temperature_K=300.0, friction=0.01 / units.fs,
             fixcm=False, rng=np.random.default_rng(seed)).run(steps)
    return {"kind": "md", "seed": seed, "energy_eV": float(atoms.get_potential_energy()),
            "atom_steps": len(atoms) * steps, "wall_s": time.perf_counter() - start, **_where(device)}


@job
def relax_run(model_path: str, sha256: str, seed: int, reps: int, max_steps: int) -> dict:
    """BFGS relaxation of a rattled ``reps``³ bcc Li cell (fixed cell); final energy and force calls."""
    from li_campaign.schemas.spec import RelaxSpec
    from li_campaign.simulation.relax import relax_atoms

    atoms = _atoms(reps, seed)
    calc, device = _calculator(model_path, sha256)
    start = time.perf_counter()
    relaxed, energy, converged, steps = relax_atoms(atoms, calc, RelaxSpec(fmax_eV_A=0.01, max_steps=max_steps))
    return {"kind": "relax", "seed": seed, "energy_eV": float(energy), "converged": bool(converged),
            "atom_steps": len(relaxed) * steps, "wall_s": time.perf_counter() - start, **_where(device)}
