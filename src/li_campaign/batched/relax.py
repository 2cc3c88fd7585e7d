"""Batched fixed-cell relaxations with torch-sim's FIRE.

torch-sim's ``fire`` with ``md_flavor="ase_fire"`` is ASE's FIRE with the same defaults
(dt 0.1, dt_max 1.0, N_min 5, f_inc 1.1, f_dec 0.5, α 0.1, f_α 0.99, max step 0.2 Å), run for all
structures of a batch at once. Fixed atoms get zero force (:class:`~li_campaign.batched.constraints.FixedAtomsModel`)
and so never move. Written here: the convergence bookkeeping. A structure is converged when its
largest force is below ``fmax`` (ASE's criterion); its geometry, energy and step count are
taken at that moment, as ASE's optimizer stops there, while the batch steps on until every
member is converged or ``max_steps`` is reached. So each result equals ASE's FIRE on that
structure alone, up to float round-off; with BFGS/LBFGS in ASE the end energies agree to the
force tolerance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from li_campaign.batched.batching import plan_batches
from li_campaign.batched.constraints import FixedAtomsModel
from li_campaign.batched.state import fixed_mask, positions_by_system, to_state, with_positions

if TYPE_CHECKING:
    from ase import Atoms
    from torch_sim.models.interface import ModelInterface


def batched_relax(
    structures: list[Atoms],
    model: ModelInterface,
    fmax_eV_A: float = 0.02,
    max_steps: int = 400,
    max_atoms: float | None = None,
) -> list[tuple[Atoms, float, bool, int]]:
    """Relax every structure at fixed cell, batched; same return shape as :func:`li_campaign.properties.relax.relax_atoms`.

    Parameters
    ----------
    structures
        Start geometries (copied; ``FixAtoms`` constraints honoured).
    model
        torch-sim model.
    fmax_eV_A, max_steps
        Convergence threshold on the largest atomic force and step limit (per structure).
    max_atoms
        Atoms per batch; default: measured from GPU memory.

    Returns
    -------
    list[tuple[Atoms, float, bool, int]]
        Per structure, in input order: relaxed copy (no calculator), energy (eV), whether
        ``fmax`` was reached, optimizer steps taken.
    """
    import torch_sim as ts

    results: dict[int, tuple] = {}
    for batch in plan_batches(structures, model, max_atoms):
        members = [structures[i] for i in batch]
        state = to_state(members, model.device, model.dtype)
        wrapped = FixedAtomsModel(model, fixed_mask(members, model.device))
        init, step = ts.optimizers.fire(wrapped, md_flavor="ase_fire")
        fire = init(state)
        n = len(members)
        done = np.zeros(n, dtype=bool)
        for n_steps in range(max_steps + 1):
            fmax = torch.zeros(n, device=model.device, dtype=model.dtype)
            fmax = fmax.scatter_reduce(0, fire.system_idx, fire.forces.norm(dim=1), reduce="amax")
            newly = (fmax < fmax_eV_A).cpu().numpy() & ~done
            if n_steps == max_steps:
                newly = ~done
            if newly.any():
                positions = positions_by_system(fire)
                for k in np.flatnonzero(newly):
                    atoms = with_positions([members[k]], [positions[k]])[0]
                    results[batch[k]] = (atoms, float(fire.energy[k]), bool(fmax[k] < fmax_eV_A), n_steps)
                done |= newly
            if done.all():
                break
            fire = step(fire)
    return [results[i] for i in range(len(structures))]
