"""Many climbing-image NEBs at once: ASE drives each band, torch-sim evaluates all images together.

The images of many NEBs are independent structures at each force call. Each band keeps ASE's
own machinery (:class:`~ase.mep.NEB` with the improved tangent, :class:`~ase.optimize.FIRE`),
in the same phases (plain NEB, then climbing image) exactly as
:func:`li_campaign.properties.neb.relax_band` runs it. Written here: the driver. It
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
from ase.optimize import FIRE

from li_campaign.batched.batching import evaluate
from li_campaign.properties.neb import (
    NebOutcome,
    band_barriers,
    band_invalid_reason,
    band_phases,
    interpolated_band,
    make_band,
    refined_band,
)

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
    """Optimise every band in place (ASE NEB + FIRE, plain then climbing), all images evaluated in one call per step.

    Each band runs the phases of :func:`li_campaign.properties.neb.band_phases` (plain NEB to
    the pre-convergence fmax, then climbing image to ``neb.fmax_eV_A``), each with a fresh
    FIRE, at most ``neb.max_steps`` steps in all, exactly as
    :func:`li_campaign.properties.neb.relax_band`; bands in different phases step together.

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
        Per band, whether the last phase reached ``neb.fmax_eV_A`` and the optimizer steps of all phases.
    """
    _attach([image for band in bands for image in band], evaluator)  # endpoints once
    phases = band_phases(neb)
    phase = [0] * len(bands)  # index into phases of each band
    done_steps = [0] * len(bands)  # steps of the finished phases of each band

    def start_phase(b: int) -> FIRE:
        climb, fmax = phases[phase[b]]
        optimizer = FIRE(make_band(bands[b], neb, climb), logfile=None, trajectory=None)
        optimizer.fmax = fmax  # what Optimizer.irun(fmax=...) sets
        return optimizer

    optimizers = [start_phase(b) for b in range(len(bands))]
    outcome: dict[int, tuple[bool, int]] = {}
    while True:
        for b in range(len(bands)):
            while b not in outcome:  # a band whose phase ends this round checks its next phase at once
                optimizer = optimizers[b]
                converged = bool(optimizer.gradient_converged(optimizer.optimizable.get_gradient()))
                if not converged and done_steps[b] + optimizer.nsteps < neb.max_steps:
                    optimizer.step()
                    optimizer.nsteps += 1
                    break
                done_steps[b] += int(optimizer.nsteps)
                if phase[b] + 1 < len(phases):
                    phase[b] += 1
                    optimizers[b] = start_phase(b)
                else:
                    outcome[b] = (converged, done_steps[b])
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
