"""Climbing-image NEB with a converged number of images (ASE NEB, refined by midpoints), and its validity.

ASE runs each band (:class:`~ase.mep.NEB`, improved tangent, FIRE) in two phases
(:func:`band_phases`): a plain NEB (``climb=False``) first, to the looser
``NebSpec.preconverge_fmax_eV_A``, so that the band has found the path before any image climbs,
then the climbing image (``climb=True``) to ``NebSpec.fmax_eV_A``. Climbing from a straight
interpolation can push the highest image up a wall of the true path or, on a nearly flat path,
climb a spurious bump; after the pre-convergence the highest image sits near the saddle.

Written here: the two phases, the image-count convergence loop, the validity of a band
(:func:`band_invalid_reason`), and :func:`relax_bands`, which steps many bands in lockstep
(ASE's ``Optimizer.irun`` sequence per band) so that one evaluator call per round computes the
intermediate images of every band still running (a batched model; results attached as
:class:`~ase.calculators.singlepoint.SinglePointCalculator`\\ s).

A band with n intermediate images is refined to 2n + 1 by keeping its relaxed images and
inserting the midpoint (minimum image) of each pair of neighbours, so the finer band starts
from the coarse path instead of a fresh interpolation and needs few optimiser steps. The loop stops when the forward barrier of two successive counts
differs by less than the tolerance (``images_converged``) or when the next count would exceed
``max_images`` (not converged). The endpoints are fixed, so the reverse barrier changes by the
same amount.

Barriers are measured from the highest *interior* image: forward = max(E_1..E_n) − E_0,
reverse = max(E_1..E_n) − E_{n+1}. A band whose highest energy is an endpoint has no saddle
between its endpoints (the "barrier" would be a silent 0 eV), so it is invalid, as is a band
whose highest interior image is less than ``NebSpec.min_barrier_eV`` above the higher endpoint
and a band whose optimiser did not reach ``fmax_eV_A``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator
from ase.geometry import find_mic
from ase.mep import NEB
from ase.optimize import FIRE

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ase import Atoms
    from ase.calculators.calculator import Calculator

    from li_campaign.schemas.spec import NebConvergenceSpec, NebSpec

    Evaluator = Callable[[list[Atoms]], tuple[list[float], list[np.ndarray]]]


@dataclass(frozen=True)
class NebOutcome:
    """The finest band run, the barriers of every image count tried, and why the band is invalid (None: valid)."""

    images: list[Atoms]
    energies_eV: list[float]
    barrier_forward_eV: float
    barrier_reverse_eV: float
    converged: bool
    steps: int
    images_tried: list[int]
    barriers_by_images_eV: list[float]
    images_converged: bool | None
    invalid_reason: str | None = None

    @property
    def n_images(self) -> int:
        """Intermediate images of the finest band."""
        return self.images_tried[-1]

    @property
    def valid(self) -> bool:
        """Converged, with its highest energy at an interior image (see :func:`band_invalid_reason`)."""
        return self.invalid_reason is None


def band_phases(neb: NebSpec) -> list[tuple[bool, float]]:
    """The ``(climb, fmax)`` phases a band is optimised in, in order.

    With ``neb.climb``: a plain NEB to ``max(preconverge_fmax_eV_A, fmax_eV_A)``, then the
    climbing image to ``fmax_eV_A``. Without: one plain NEB to ``fmax_eV_A``. The phases share
    ``neb.max_steps`` (the climbing phase gets the steps the first one left).
    """
    if not neb.climb:
        return [(False, neb.fmax_eV_A)]
    return [(False, max(neb.preconverge_fmax_eV_A, neb.fmax_eV_A)), (True, neb.fmax_eV_A)]


def make_band(images: list[Atoms], neb: NebSpec, climb: bool, shared_calculator: bool = False) -> NEB:
    """The ASE NEB of ``images`` for one phase (improved tangent, ``neb.spring_constant``)."""
    return NEB(
        images,
        k=neb.spring_constant,
        climb=climb,
        method="improvedtangent",
        allow_shared_calculator=shared_calculator,
    )


def relax_band(images: list[Atoms], calc: Calculator, neb: NebSpec) -> tuple[bool, int]:
    """Optimise a band in place with ASE NEB (improved tangent) and FIRE: plain NEB, then climbing image.

    Every image gets ``calc`` (shared). The phases are those of :func:`band_phases`, each with
    a fresh FIRE, all together at most ``neb.max_steps`` steps. Returns whether the last phase
    reached ``neb.fmax_eV_A`` and the number of optimiser steps of all phases. A batched
    calculator (one with ``evaluate_many``, in a batched pack) gets all intermediate images of
    each step in one request (:func:`relax_bands`: the same ASE NEB and FIRE steps).
    """
    evaluate_many = getattr(calc, "evaluate_many", None)
    if evaluate_many is not None:
        return relax_bands([images], evaluate_many, neb)[0]
    for image in images:
        image.calc = calc
    steps, converged = 0, False
    for climb, fmax in band_phases(neb):
        optimizer = FIRE(make_band(images, neb, climb, shared_calculator=True), logfile=None, trajectory=None)
        converged = bool(optimizer.run(fmax=fmax, steps=neb.max_steps - steps))
        steps += int(optimizer.nsteps)
    return converged, steps


def _attach(images: list[Atoms], evaluator: Evaluator) -> None:
    energies, forces = evaluator(images)
    for image, energy, force in zip(images, energies, forces):
        image.calc = SinglePointCalculator(image, energy=energy, forces=force)


def relax_bands(bands: list[list[Atoms]], evaluator: Evaluator, neb: NebSpec) -> list[tuple[bool, int]]:
    """Optimise every band in place (ASE NEB + FIRE, plain then climbing), all images evaluated in one call per step.

    Each band runs the phases of :func:`band_phases` (plain NEB to
    the pre-convergence fmax, then climbing image to ``neb.fmax_eV_A``), each with a fresh
    FIRE, at most ``neb.max_steps`` steps in all, exactly as
    :func:`relax_band`; bands in different phases step together.

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


def interpolated_band(
    start: Atoms, end: Atoms, n_images: int, method: Literal["linear", "idpp"] = "linear"
) -> list[Atoms]:
    """Return ``start``, ``n_images`` interpolated copies and ``end`` (minimum image, constraints of ``start``)."""
    images = [start.copy()] + [start.copy() for _ in range(n_images)] + [end.copy()]
    NEB(images, method="improvedtangent").interpolate(method=method, mic=True, apply_constraint=False)
    return images


def refined_band(images: list[Atoms]) -> list[Atoms]:
    """Return the band with the midpoint of each pair of neighbouring images inserted (n → 2n + 1).

    Midpoints use the minimum-image difference of the positions, so an image that crosses the
    cell boundary is handled.
    """
    out = [images[0].copy()]
    for left, right in zip(images[:-1], images[1:]):
        delta, _ = find_mic(right.positions - left.positions, left.cell, left.pbc)
        middle = left.copy()
        middle.positions = left.positions + 0.5 * delta
        out += [middle, right.copy()]
    return out


def _energies(images: list[Atoms]) -> list[float]:
    return [float(image.get_potential_energy()) for image in images]


def band_barriers(energies: Sequence[float]) -> tuple[float, float]:
    """Forward and reverse barrier from the highest interior image: max(E_1..E_n) − E_0, max(E_1..E_n) − E_{n+1}."""
    if len(energies) < 3:
        raise ValueError(f"a band of {len(energies)} energies has no interior image")
    top = max(energies[1:-1])
    return float(top - energies[0]), float(top - energies[-1])


def band_invalid_reason(energies: Sequence[float], converged: bool, neb: NebSpec) -> str | None:
    """Why a relaxed band gives no barrier; None if it does.

    In order: the optimiser did not reach ``neb.fmax_eV_A`` (``unconverged``); the highest
    energy of the band is an endpoint (``no interior maximum``: the path only climbs or only
    descends, so the endpoint pair is not minimum–saddle–minimum); or the highest interior
    image is less than ``neb.min_barrier_eV`` above the higher endpoint (``no interior
    maximum``: flat, a barrier that cannot be told from zero at this force tolerance).
    """
    energies = np.asarray(energies, dtype=float)
    if not converged:
        return (
            f"unconverged: FIRE did not reach fmax {neb.fmax_eV_A:g} eV/Å in {neb.max_steps} steps "
            "(the band is not a minimum-energy path)"
        )
    top = int(np.argmax(energies))
    if top in (0, len(energies) - 1):
        which = "start" if top == 0 else "end"
        return (
            f"no interior maximum: the highest energy of the band is its {which} endpoint "
            f"({energies[top] - energies[1:-1].max():.4f} eV above the highest interior image), so there is "
            "no saddle between the endpoints"
        )
    height = float(energies[1:-1].max() - max(energies[0], energies[-1]))
    if height < neb.min_barrier_eV:
        return (
            f"no interior maximum: the highest interior image is only {1000 * height:.2f} meV above the higher "
            f"endpoint (below min_barrier_eV {1000 * neb.min_barrier_eV:g} meV)"
        )
    return None


def converged_neb(
    start: Atoms,
    end: Atoms,
    calc: Calculator,
    neb: NebSpec,
    convergence: NebConvergenceSpec | None = None,
    method: Literal["linear", "idpp"] = "linear",
) -> NebOutcome:
    """Run a CI-NEB between two relaxed endpoints, refining the band until the barrier converges.

    Parameters
    ----------
    start, end
        Relaxed endpoints with the same atom ordering (constraints are taken from ``start``).
    calc
        ASE calculator, shared by all images.
    neb
        Band settings; ``neb.n_images`` is the first count; each band runs the phases of
        :func:`band_phases` (plain NEB, then climbing image).
    convergence
        Tolerance and largest count; None or ``enabled=False`` runs one band and leaves
        ``images_converged`` None.
    method
        First interpolation: ``linear``, or ``idpp`` (ASE's image-dependent pair potential; it
        keeps two atoms that move past each other, as in an exchange, apart).

    Returns
    -------
    NebOutcome
        The finest band; barriers from the highest interior image (:func:`band_barriers`), and
        ``invalid_reason`` from :func:`band_invalid_reason` (None for a valid band).

    Examples
    --------
    >>> outcome = converged_neb(start, end, calc, NebSpec(n_images=3), NebConvergenceSpec())  # doctest: +SKIP
    >>> outcome.images_tried, outcome.images_converged, outcome.valid  # doctest: +SKIP
    ([3, 7], True, True)
    """
    images = interpolated_band(start, end, neb.n_images, method)
    converged, steps = relax_band(images, calc, neb)
    energies = _energies(images)
    tried, barriers = [neb.n_images], [band_barriers(energies)[0]]
    images_converged = None
    if convergence is not None and convergence.enabled:
        images_converged = False
        while 2 * tried[-1] + 1 <= convergence.max_images:
            finer = refined_band(images)
            fine_converged, fine_steps = relax_band(finer, calc, neb)
            images, converged, steps = finer, fine_converged, fine_steps
            energies = _energies(images)
            tried.append(len(images) - 2)
            barriers.append(band_barriers(energies)[0])
            if abs(barriers[-1] - barriers[-2]) < convergence.tolerance_eV:
                images_converged = True
                break
    forward, reverse = band_barriers(energies)
    return NebOutcome(
        images=images,
        energies_eV=energies,
        barrier_forward_eV=forward,
        barrier_reverse_eV=reverse,
        converged=converged,
        steps=steps,
        images_tried=tried,
        barriers_by_images_eV=[float(b) for b in barriers],
        images_converged=images_converged,
        invalid_reason=band_invalid_reason(energies, converged, neb),
    )
