"""Langevin (NVT) MD of one large cell through torch-sim, with a per-atom friction and fixed atoms.

torch-sim 0.3.0's ``nvt_langevin`` takes one friction per system and has no fixed atoms, while
the adatom MD thermostats the slab only (the adatoms move by velocity Verlet, as in
:mod:`li_campaign.kinetics.md_diffusion`) and holds the bottom layers. This module runs the same
BAOAB splitting as ``nvt_langevin`` (torch-sim's ``momentum_step`` and ``position_step``, which
wraps positions into the cell) with an Ornstein–Uhlenbeck step whose friction is per atom:
c1 = exp(−γ_i dt), c2 = sqrt(k_B T (1 − c1²)); an atom with γ_i = 0 gets exactly the
velocity-Verlet step. Fixed atoms start at rest and have their forces and noise zeroed, so they
never move. Units are ASE's (Å, eV, amu; time in Å·sqrt(amu/eV)), which torch-sim's metal units share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch_sim as ts
from ase.units import fs, kB
from torch_sim.integrators.md import MDState, calculate_momenta, momentum_step, position_step

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ase import Atoms
    from torch_sim.models.interface import ModelInterface


def langevin_frames(
    model: ModelInterface,
    atoms: Atoms,
    friction_per_fs: np.ndarray,
    fixed: np.ndarray,
    temperature_K: float,
    timestep_fs: float,
    n_steps: int,
    every: int,
    seed: int,
) -> Iterator[tuple[int, np.ndarray, np.ndarray, float]]:
    """Run BAOAB Langevin MD of ``atoms`` with ``model`` on the model's device; yield every ``every``-th step.

    Parameters
    ----------
    model
        A torch-sim model (e.g. nequip's ``NequIPTorchSimCalc``); its device and dtype are used.
    atoms
        The cell (Li only); its positions are the start.
    friction_per_fs
        Langevin friction γ of each atom (1/fs), shape (n_atoms,); 0: no thermostat on that atom.
    fixed
        Boolean mask of the atoms held in place, shape (n_atoms,).
    temperature_K
        Thermostat temperature, also the temperature of the starting velocities (K).
    timestep_fs
        Time step (fs).
    n_steps
        Steps to run.
    every
        Steps between yielded frames.
    seed
        Seed of the starting velocities and the noise.

    Yields
    ------
    tuple
        After steps ``every``, ``2 every``, … ``n_steps``, on the host: the step, positions (Å, wrapped
        into the cell) and velocities (Å per ASE time unit), each of shape (n_atoms, 3), and the largest
        force on an atom (eV/Å; fixed atoms have none). The same as the ASE engine of
        :mod:`li_campaign.kinetics.large_cell` yields.
    """
    device, dtype = model.device, model.dtype
    state = ts.io.atoms_to_state([atoms], device=device, dtype=dtype)
    dt = torch.tensor(timestep_fs * fs, device=device, dtype=dtype)
    kt = torch.tensor(kB * temperature_K, device=device, dtype=dtype)
    gamma = torch.as_tensor(np.asarray(friction_per_fs, dtype=float) / fs, device=device, dtype=dtype)
    c1 = torch.exp(-gamma * dt).unsqueeze(-1)
    c2 = torch.sqrt(kt * (1.0 - c1**2)) * torch.sqrt(state.masses).unsqueeze(-1)
    held = torch.as_tensor(np.asarray(fixed, dtype=bool), device=device).unsqueeze(-1)
    c2 = torch.where(held, 0.0, c2)  # no noise on a fixed atom, whatever friction it was given
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)

    def forces(current: ts.SimState) -> tuple[torch.Tensor, torch.Tensor]:
        out = model(current)
        return out["energy"], torch.where(held, 0.0, out["forces"])

    momenta = calculate_momenta(state.positions, state.masses, state.system_idx, kt, seed)
    energy, force = forces(state)
    md = MDState(
        positions=state.positions,
        momenta=torch.where(held, 0.0, momenta),
        energy=energy,
        forces=force,
        masses=state.masses,
        cell=state.cell,
        pbc=state.pbc,
        system_idx=state.system_idx,
        atomic_numbers=state.atomic_numbers,
    )
    for step in range(1, n_steps + 1):
        md = momentum_step(md, dt / 2)
        md = position_step(md, dt / 2)
        noise = torch.randn(md.momenta.shape, device=device, dtype=dtype, generator=generator)
        md.momenta = c1 * md.momenta + c2 * noise
        md = position_step(md, dt / 2)
        md.energy, md.forces = forces(md)
        md = momentum_step(md, dt / 2)
        if step % every == 0:
            yield (
                step,
                md.positions.detach().cpu().numpy().astype(float),
                md.velocities.detach().cpu().numpy().astype(float),
                float(torch.linalg.norm(md.forces, dim=1).max()),
            )
