"""Batched molecular dynamics of many independent structures with torch-sim.

One torch-sim state holds every structure of a batch; each step is one model call for all
of them. Ensembles: ``nvt_langevin`` (torch-sim's Langevin integrator, as the fan-out's MD)
and ``nve`` (velocity Verlet, which reproduces ASE's ``VelocityVerlet`` step for step and is
what the tests compare). Atoms held by ``FixAtoms`` feel no force and are put back with zero
momentum after every step (:mod:`li_campaign.batched.constraints`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from ase import units

from li_campaign.batched.batching import plan_batches
from li_campaign.batched.constraints import FixedAtomsModel, hold_fixed
from li_campaign.batched.state import fixed_mask, positions_by_system, to_state, with_positions

if TYPE_CHECKING:
    from ase import Atoms
    from torch_sim.models.interface import ModelInterface


@dataclass(frozen=True)
class MdResult:
    """End of a batched MD run, one entry per input structure, in input order."""

    structures: list[Atoms]
    potential_energies_eV: list[float]
    temperatures_K: list[float]


def batched_md(
    structures: list[Atoms],
    model: ModelInterface,
    n_steps: int,
    timestep_fs: float = 1.0,
    temperature_K: float = 300.0,
    ensemble: Literal["nvt_langevin", "nve"] = "nvt_langevin",
    friction_per_fs: float = 0.01,
    seed: int = 0,
    max_atoms: float | None = None,
) -> MdResult:
    """Run ``n_steps`` of MD on every structure, batched.

    Parameters
    ----------
    structures
        Periodic structures; those with non-zero momenta start from them, the others from a
        Maxwell-Boltzmann draw at ``temperature_K`` (torch-sim, seeded by ``seed``).
    model
        torch-sim model (:func:`li_campaign.batched.loader.load_batched`).
    n_steps, timestep_fs, temperature_K, friction_per_fs
        MD settings (friction only for Langevin).
    ensemble
        ``nvt_langevin`` or ``nve``.
    seed
        Seed of the initial momenta and of the Langevin noise.
    max_atoms
        Atoms per batch; default: measured from GPU memory (:func:`~li_campaign.batched.batching.plan_batches`).

    Returns
    -------
    MdResult
        Final structures (positions wrapped into the cell as torch-sim does, momenta set,
        constraints kept), potential energies and kinetic temperatures.
    """
    import torch_sim as ts

    torch.manual_seed(seed)  # torch-sim draws the Langevin noise from torch's global generator
    results: dict[int, tuple] = {}
    for batch in plan_batches(structures, model, max_atoms):
        members = [structures[i] for i in batch]
        state = to_state(members, model.device, model.dtype)
        mask = fixed_mask(members, model.device)
        wrapped = FixedAtomsModel(model, mask)
        dt = torch.tensor(timestep_fs * units.fs, device=model.device, dtype=model.dtype)
        kT = torch.tensor(temperature_K * units.kB, device=model.device, dtype=model.dtype)
        if ensemble == "nve":
            init, update = ts.integrators.nve(wrapped, dt=dt, kT=kT, seed=seed)
        else:
            gamma = torch.tensor(friction_per_fs / units.fs, device=model.device, dtype=model.dtype)
            init, update = ts.integrators.nvt_langevin(wrapped, dt=dt, kT=kT, gamma=gamma, seed=seed)
        given = np.concatenate([a.get_momenta() for a in members])
        if np.any(given):
            state.momenta = torch.as_tensor(given, device=model.device, dtype=model.dtype)
        md = hold_fixed(init(state), mask, state.positions.clone())
        reference = md.positions.clone()
        for _ in range(n_steps):
            md = hold_fixed(update(md), mask, reference)
        momenta = torch.split(md.momenta.detach(), [len(a) for a in members])
        final = with_positions(members, positions_by_system(md))
        for k, i in enumerate(batch):
            final[k].set_momenta(momenta[k].cpu().numpy().astype(np.float64), apply_constraint=False)
            results[i] = (final[k], float(md.energy[k]), float(final[k].get_temperature()))
    ordered = [results[i] for i in range(len(structures))]
    return MdResult([r[0] for r in ordered], [r[1] for r in ordered], [r[2] for r in ordered])
