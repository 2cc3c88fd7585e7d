"""Fixed atoms (ASE ``FixAtoms``) in torch-sim, which has no constraints in 0.3.0.

Written by hand: :class:`FixedAtomsModel` wraps a torch-sim model and zeroes the forces on
fixed atoms, which is what ASE's ``FixAtoms.adjust_forces`` does. With zero force a fixed atom
keeps zero velocity in torch-sim's FIRE (``ase_fire`` flavour: the velocity mix and the
``v += dt F`` update only scale or add zero), so relaxations hold it exactly, as ASE's FIRE does.
Langevin MD adds noise to every momentum, so :func:`hold_fixed` also resets the fixed atoms'
positions and momenta after each MD step (:func:`li_campaign.batched.md.batched_md` calls it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch_sim.models.interface import ModelInterface

if TYPE_CHECKING:
    from torch_sim.state import SimState


class FixedAtomsModel(ModelInterface):
    """A torch-sim model whose forces are zero on the atoms where ``mask`` is True.

    Parameters
    ----------
    model
        The wrapped torch-sim model (e.g. ``NequIPTorchSimCalc``); energies and stresses pass through.
    mask
        Boolean tensor over the atoms of the batched state the model will be called with.
    """

    def __init__(self, model: ModelInterface, mask: torch.Tensor) -> None:
        super().__init__()
        self.model = model
        self.mask = mask
        self._device = model.device
        self._dtype = model.dtype
        self._compute_forces = True
        self._compute_stress = model.compute_stress
        self._memory_scales_with = model.memory_scales_with

    def forward(self, state: SimState) -> dict[str, torch.Tensor]:
        """Evaluate the wrapped model and zero the forces on fixed atoms."""
        out = dict(self.model(state))
        if self.mask.shape[0] != out["forces"].shape[0]:
            raise ValueError(f"fixed-atom mask has {self.mask.shape[0]} entries, the state {out['forces'].shape[0]} atoms")
        out["forces"] = out["forces"].masked_fill(self.mask[:, None], 0.0)
        return out


def hold_fixed(state: SimState, mask: torch.Tensor, reference_positions: torch.Tensor) -> SimState:
    """Put the fixed atoms of an MD ``state`` back at ``reference_positions`` with zero momentum."""
    state.positions = torch.where(mask[:, None], reference_positions, state.positions)
    state.momenta = state.momenta.masked_fill(mask[:, None], 0.0)
    return state
