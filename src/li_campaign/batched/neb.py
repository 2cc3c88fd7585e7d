"""Many climbing-image NEBs at once: ASE drives each band, torch-sim evaluates all images together.

The images of many NEBs are independent structures at each force call. Each band keeps ASE's
own machinery (:class:`~ase.mep.NEB` with the improved tangent, :class:`~ase.optimize.FIRE`),
exactly as :func:`li_campaign.properties.neb.relax_band` runs it. Written here: the driver. It
steps all bands in lockstep, repeating ASE's ``Optimizer.irun`` sequence (forces, convergence
check, ``step``) for each band, but before every round it evaluates the intermediate images of
every band still running in one batched model call and attaches the results as
:class:`~ase.calculators.singlepoint.SinglePointCalculator`\\ s, which the NEB then reads. ASE applies
the images' ``FixAtoms`` constraints as usual. :func:`converged_nebs` is
:func:`li_campaign.properties.neb.converged_neb` (image-count refinement) for a list of
endpoint pairs, each refinement level batched over all pairs still refining.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Literal

from ase.calculators.singlepoint import SinglePointCalculator
from ase.mep import NEB
from ase.optimize import FIRE

from li_campaign.batched.batching import evaluate
from li_campaign.properties.neb import NebOutcome, interpolated_band, refined_band

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    from ase import Atoms
    from torch_sim.models.interface import ModelInterface

    Evaluator = Callable[[list[Atoms]], tuple[list[float], list[np.ndarray]]]

    from li_campaign.schemas.spec import NebConvergenceSpec, NebSpec


def _attach(images: list[Atoms], evaluator: Evaluator) -> None:
    energies, forces = evaluator(images)
    for image, energy, force in zip(images, energies, forces):
        image.calc = SinglePointCalculator(image, energy=energy, forces=force)


def relax_bands(bands: list[list[Atoms]], evaluator: Evaluator, neb: NebSpec) -> list[tuple[bool, int]]:
    """Optimise every band in place (ASE CI-NEB + FIRE), with the images of all bands evaluated in one call per step.

    Parameters
    ----------
    bands
        The bands (endpoints included); each image ends with a SinglePointCalculator of its last evaluation.
    evaluator
        Evaluates a list of structures at once: the batched model
        (``partial(evaluate, model=..., max_atoms=...)``) or a
        :meth:`~li_campaign.batched.dispatch.BatchedCalculator.evaluate_many`.
    neb
        Band settings.

    Returns
    -------
    list[tuple[bool, int]]
        Per band, whether ``neb.fmax_eV_A`` was reached and the optimizer steps taken.
    """
    _attach([image for band in bands for image in band], evaluator)  # endpoints once
    optimizers = []
    for images in bands:
        band = NEB(images, k=neb.spring_constant, climb=neb.climb, method="improvedtangent")
        optimizer = FIRE(band, logfile=None, trajectory=None)
        optimizer.fmax = neb.fmax_eV_A  # what Optimizer.irun(fmax=...) sets
        optimizers.append(optimizer)
    outcome: dict[int, tuple[bool, int]] = {}
    while True:
        for b, optimizer in enumerate(optimizers):
            if b in outcome:
                continue
            converged = bool(optimizer.gradient_converged(optimizer.optimizable.get_gradient()))
            if converged or optimizer.nsteps >= neb.max_steps:
                outcome[b] = (converged, int(optimizer.nsteps))
                continue
            optimizer.step()
            optimizer.nsteps += 1
        running = [b for b in range(len(bands)) if b not in outcome]
        if not running:
            return [outcome[b] for b in range(len(bands))]
        _attach([image for b in running for image in bands[b][1:-1]], evaluator)


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
    barriers = [[max(e) - e[0]] for e in energies]
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
            barriers[p].append(max(energies[p]) - energies[p][0])
            if abs(barriers[p][-1] - barriers[p][-2]) < convergence.tolerance_eV:
                images_converged[p] = True
        active = [p for p in active if not images_converged[p]]
    return [
        NebOutcome(
            images=bands[p],
            energies_eV=energies[p],
            barrier_forward_eV=max(energies[p]) - energies[p][0],
            barrier_reverse_eV=max(energies[p]) - energies[p][-1],
            converged=status[p][0],
            steps=status[p][1],
            images_tried=tried[p],
            barriers_by_images_eV=[float(b) for b in barriers[p]],
            images_converged=images_converged[p],
        )
        for p in range(len(pairs))
    ]
