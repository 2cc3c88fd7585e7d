"""ASE Atoms → one torch-sim SimState for a list of independent structures.

torch-sim's :func:`torch_sim.io.atoms_to_state` concatenates the structures into one batched
state (``system_idx`` tells them apart); :func:`to_state` adds the checks the batched path needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    # deferred: torch-sim takes ~0.2 s to import; mlip.calculator imports this module (via dispatch) on every model load
    import torch_sim as ts

    if not structures:
        raise InputError("batched execution got an empty list of structures")
    for index, atoms in enumerate(structures):
        if not all(atoms.pbc):
            raise InputError(f"structure {index} ({atoms.get_chemical_formula()}): pbc={list(atoms.pbc)}; batched execution needs pbc in x, y and z")
    return ts.io.atoms_to_state(list(structures), device=torch.device(device), dtype=dtype)

