"""Many climbing-image NEBs at once with a torch-sim model: all images of all bands evaluated together.

:func:`converged_nebs` is :func:`li_campaign.properties.neb.converged_neb` (image-count
refinement) for a list of endpoint pairs, each refinement level batched over all pairs still
refining. The bands are driven by :func:`li_campaign.properties.neb.relax_bands` (ASE's own
NEB and FIRE, all bands in lockstep); the evaluator here is the batched model call
:func:`li_campaign.batched.batching.evaluate`. (Moved from ``li_campaign.batched.neb``: the
batched engine sits below the property algorithms it serves.)
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Literal

from li_campaign.batched.batching import evaluate
from li_campaign.properties.neb import (
    NebOutcome,
    band_barriers,
    band_invalid_reason,
    interpolated_band,
    refined_band,
    relax_bands,
)

if TYPE_CHECKING:
    from ase import Atoms
    from torch_sim.models.interface import ModelInterface

    from li_campaign.schemas.spec import NebConvergenceSpec, NebSpec


def converged_nebs(
    pairs: list[tuple[Atoms, Atoms]],
    model: ModelInterface,
    neb: NebSpec,
    convergence: NebConvergenceSpec | None = None,
    method: Literal["linear", "idpp"] = "linear",
    max_atoms: float | None = None,
) -> list[NebOutcome]:
    """:func:`li_campaign.properties.neb.converged_neb` for every (start, end) pair, batched across pairs."""
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
