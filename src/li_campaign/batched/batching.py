"""Split many structures into batches that fit the GPU, and evaluate them batch by batch.

Batch sizes come from torch-sim's memory-based autobatching: on CUDA,
:func:`torch_sim.autobatching.estimate_max_memory_scaler` runs the model on growing copies of
the smallest and largest structure until CUDA runs out of memory (or a size cap is reached) and
returns the largest atom count that fits; :func:`torch_sim.autobatching.to_constant_volume_bins`
then packs the structures into bins of at most that many atoms. On the CPU memory is not the
limit, so everything is one batch unless ``max_atoms`` is given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from li_campaign.batched.state import to_state

if TYPE_CHECKING:
    from ase import Atoms
    from torch_sim.models.interface import ModelInterface


_CAPACITY: dict[tuple[int, int, int], float] = {}
"""Measured capacities by (model id, smallest, largest structure size): measured once per process."""


def batch_capacity(structures: list[Atoms], model: ModelInterface, max_atoms_to_try: int = 200_000) -> float:
    """Largest number of atoms per batch that fits in GPU memory (inf on the CPU); measured once per model and sizes."""
    # deferred: torch-sim takes ~0.2 s to import; mlip.calculator imports this module (via dispatch) on every model load
    import torch_sim as ts

    if model.device.type != "cuda":
        return float("inf")
    sizes = [len(a) for a in structures]
    key = (id(model), min(sizes), max(sizes))
    if key in _CAPACITY:
        return _CAPACITY[key]
    samples = [to_state([structures[int(np.argmin(sizes))]], model.device), to_state([structures[int(np.argmax(sizes))]], model.device)]
    capacity = ts.autobatching.estimate_max_memory_scaler(
        model, samples, [float(min(sizes)), float(max(sizes))], max_atoms=max(2, max_atoms_to_try // max(sizes))
    )
    torch.cuda.empty_cache()
    _CAPACITY[key] = float(capacity)
    return _CAPACITY[key]


def plan_batches(structures: list[Atoms], model: ModelInterface, max_atoms: float | None = None) -> list[list[int]]:
    """Indices of ``structures`` grouped into batches of at most ``max_atoms`` atoms (default: :func:`batch_capacity`)."""
    # deferred: torch-sim takes ~0.2 s to import; mlip.calculator imports this module (via dispatch) on every model load
    import torch_sim as ts

    capacity = batch_capacity(structures, model) if max_atoms is None else max_atoms
    sizes = {i: float(len(a)) for i, a in enumerate(structures)}
    if capacity >= sum(sizes.values()):
        return [list(sizes)]
    if max(sizes.values()) > capacity:
        raise ValueError(f"a structure of {max(sizes.values()):.0f} atoms exceeds the batch capacity of {capacity:.0f} atoms")
    return [sorted(b) for b in ts.autobatching.to_constant_volume_bins(sizes, max_volume=capacity)]


def evaluate(
    structures: list[Atoms], model: ModelInterface, max_atoms: float | None = None
) -> tuple[list[float], list[np.ndarray]]:
    """Energies (eV) and forces (eV/Å, float64 numpy) of every structure, in batches.

    Constraints are not applied (as ``calc.get_forces()``, not ``atoms.get_forces()``).
    """
    energies: list[float] = [0.0] * len(structures)
    forces: list[np.ndarray] = [np.empty(0)] * len(structures)
    for batch in plan_batches(structures, model, max_atoms):
        out = model(to_state([structures[i] for i in batch], model.device, model.dtype))
        # one device-to-host copy per batch, not one per structure
        batch_energies = out["energy"].detach().cpu().numpy().astype(np.float64)
        batch_forces = out["forces"].detach().cpu().numpy().astype(np.float64)
        per_system = np.split(batch_forces, np.cumsum([len(structures[i]) for i in batch])[:-1])
        for k, i in enumerate(batch):
            energies[i] = float(batch_energies[k])
            forces[i] = per_system[k]
    return energies, forces
