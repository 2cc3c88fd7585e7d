"""Torch-native batched relaxations and NEBs, used only by the benchmarks (``fanout_relax_neb.py``).

The campaign's own GPU path is :mod:`li_campaign.batched.dispatch` (the ordinary ASE calculations
of a fan-out pack, their model calls evaluated together); the drivers here measure how much faster
a torch-native driver per kind would be for uniform packs (``docs/benchmarks.md``). Moved out of
the package (``li_campaign.batched.relax``, ``.constraints``, part of ``.state`` and
``li_campaign.properties.neb_batched``) because no production code calls them; the batched MD
driver (``li_campaign.batched.md``), which nothing called, was deleted.

* :func:`batched_relax`: torch-sim's ``fire`` with ``md_flavor="ase_fire"`` is ASE's FIRE with the
  same defaults (dt 0.1, dt_max 1.0, N_min 5, f_inc 1.1, f_dec 0.5, α 0.1, f_α 0.99, max step
  0.2 Å), run for all structures of a batch at once. Fixed atoms get zero force
  (:class:`FixedAtomsModel`) and so never move. Written here: the convergence bookkeeping. A
  structure is converged when its largest force is below ``fmax`` (ASE's criterion); its
  geometry, energy and step count are taken at that moment, as ASE's optimizer stops there,
  while the batch steps on until every member is converged or ``max_steps`` is reached. So each
  result equals ASE's FIRE on that structure alone, up to float round-off.
* :func:`converged_nebs`: :func:`li_campaign.kinetics.neb.converged_neb` (image-count refinement)
  for a list of endpoint pairs, each refinement level batched over all pairs still refining. The
  bands are driven by :func:`li_campaign.kinetics.neb.relax_bands` (ASE's own NEB and FIRE, all
  bands in lockstep); the evaluator is the batched model call
  :func:`li_campaign.batched.batching.evaluate`.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from torch_sim.models.interface import ModelInterface

from li_campaign.batched.batching import evaluate, plan_batches
from li_campaign.batched.state import to_state
from li_campaign.kinetics.neb import (
    NebOutcome,
    band_barriers,
    band_invalid_reason,
    interpolated_band,
    refined_band,
    relax_bands,
)

if TYPE_CHECKING:
    from ase import Atoms
    from torch_sim.state import SimState

    from li_campaign.schemas.spec import NebConvergenceSpec, NebSpec


class FixedAtomsModel(ModelInterface):
    """A torch-sim model whose forces are zero on the atoms where ``mask`` is True.

    Written by hand: torch-sim (0.3.0) has no constraints. Zeroing the forces on fixed atoms is
    what ASE's ``FixAtoms.adjust_forces`` does; with zero force a fixed atom keeps zero velocity in
    torch-sim's FIRE (``ase_fire`` flavour: the velocity mix and the ``v += dt F`` update only
    scale or add zero), so relaxations hold it exactly, as ASE's FIRE does.

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
    return torch.as_tensor(np.concatenate(masks), dtype=torch.bool, device=torch.device(device))


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


def batched_relax(
    structures: list[Atoms],
    model: ModelInterface,
    fmax_eV_A: float = 0.02,
    max_steps: int = 400,
    max_atoms: float | None = None,
) -> list[tuple[Atoms, float, bool, int]]:
    """Relax every structure at fixed cell, batched; same return shape as :func:`li_campaign.simulation.relax.relax_atoms`.

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


def converged_nebs(
    pairs: list[tuple[Atoms, Atoms]],
    model: ModelInterface,
    neb: NebSpec,
    convergence: NebConvergenceSpec | None = None,
    method: Literal["linear", "idpp"] = "linear",
    max_atoms: float | None = None,
) -> list[NebOutcome]:
    """:func:`li_campaign.kinetics.neb.converged_neb` for every (start, end) pair, batched across pairs."""
    evaluator = partial(evaluate, model=model, max_atoms=max_atoms)
    bands = [interpolated_band(start, end, neb.n_images, method) for start, end in pairs]
    status = relax_bands(bands, evaluator, neb)
    energies = [[float(i.get_potential_energy()) for i in band] for band in bands]
    tried = [[neb.n_images] for _ in pairs]
    barriers = [[band_barriers(e)[0]] for e in energies]
    refining = convergence is not None and convergence.enabled
    images_converged: list[bool | None] = [False if refining else None] * len(pairs)
    active = list(range(len(pairs))) if refining else []
    while active:
        active = [p for p in active if 2 * tried[p][-1] + 1 <= convergence.max_images]
        if not active:
            break
        finer = [refined_band(bands[p]) for p in active]
        for p, result, band in zip(active, relax_bands(finer, evaluator, neb), finer):
            bands[p], status[p] = band, result
            energies[p] = [float(i.get_potential_energy()) for i in band]
            tried[p].append(len(band) - 2)
            barriers[p].append(band_barriers(energies[p])[0])
            if abs(barriers[p][-1] - barriers[p][-2]) < convergence.tolerance_eV:
                images_converged[p] = True
        active = [p for p in active if not images_converged[p]]
    return [
        NebOutcome(
            images=bands[p],
            energies_eV=energies[p],
            barrier_forward_eV=band_barriers(energies[p])[0],
            barrier_reverse_eV=band_barriers(energies[p])[1],
            converged=status[p][0],
            steps=status[p][1],
            images_tried=tried[p],
            barriers_by_images_eV=[float(b) for b in barriers[p]],
            images_converged=images_converged[p],
            invalid_reason=band_invalid_reason(energies[p], status[p][0], neb),
        )
        for p in range(len(pairs))
    ]
