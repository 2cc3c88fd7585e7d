"""ASE Atoms ⇄ torch-sim SimState for a list of independent structures, and the fixed-atom mask.

torch-sim's :func:`torch_sim.io.atoms_to_state` concatenates the structures into one batched
state (``system_idx`` tells them apart). Going back, each result is a copy of its input
Atoms (so ``FixAtoms`` constraints, tags and info survive) with the new positions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from li_campaign.core.errors import InputError

if TYPE_CHECKING:
    from ase import Atoms
    from torch_sim.state import SimState


def to_state(structures: list[Atoms], device: torch.device | str, dtype: torch.dtype = torch.float64) -> SimState:
    """Batch ``structures`` into one torch-sim state (positions in ``dtype``, default float64).

    Raises
    ------
    InputError
        If the list is empty or a structure is not periodic in all three directions (the batched
        neighbour list and torch-sim's single ``pbc`` flag need full periodicity; slabs carry vacuum).
    """
    import torch_sim as ts

    if not structures:
        raise InputError("batched execution got an empty list of structures")
    for index, atoms in enumerate(structures):
        if not all(atoms.pbc):
            raise InputError(f"structure {index} ({atoms.get_chemical_formula()}): pbc={list(atoms.pbc)}; batched execution needs pbc in x, y and z")
    return ts.io.atoms_to_state(list(structures), device=torch.device(device), dtype=dtype)


def fixed_mask(structures: list[Atoms], device: torch.device | str) -> torch.Tensor:
    """Boolean mask over the atoms of the batched state: True where ``FixAtoms`` holds the atom."""
    from ase.constraints import FixAtoms

    masks = []
    for atoms in structures:
        mask = np.zeros(len(atoms), dtype=bool)
        for constraint in atoms.constraints:
            if isinstance(constraint, FixAtoms):
                mask[constraint.get_indices()] = True
        masks.append(mask)
    mask = np.concatenate(masks)
    return torch.as_tensor(mask, dtype=torch.bool, device=torch.device(device))


def positions_by_system(state: SimState) -> list[np.ndarray]:
    """Positions of each system of ``state`` as float64 numpy arrays, in input order."""
    counts = torch.bincount(state.system_idx, minlength=state.n_systems).tolist()
    return [p.detach().cpu().numpy().astype(np.float64) for p in torch.split(state.positions, counts)]


def with_positions(structures: list[Atoms], positions: list[np.ndarray]) -> list[Atoms]:
    """Copies of ``structures`` (constraints kept, no calculator) with new positions."""
    out = []
    for atoms, pos in zip(structures, positions):
        copy = atoms.copy()
        copy.set_positions(pos, apply_constraint=False)
        out.append(copy)
    return out
