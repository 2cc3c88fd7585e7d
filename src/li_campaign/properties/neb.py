"""Climbing-image NEB with a converged number of images (ASE NEB, refined by midpoints).

ASE runs each band (:class:`~ase.mep.NEB`, improved tangent, FIRE). Written here: the
image-count convergence loop. A band with n intermediate images is refined to 2n + 1 by
keeping its relaxed images and inserting the midpoint (minimum image) of each pair of
neighbours, so the finer band starts from the coarse path instead of a fresh interpolation
and needs few optimiser steps. The loop stops when the forward barrier of two successive
counts differs by less than the tolerance (``images_converged``) or when the next count would
exceed ``max_images`` (not converged). The endpoints are fixed, so the reverse barrier
changes by the same amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ase.geometry import find_mic
from ase.mep import NEB
from ase.optimize import FIRE

if TYPE_CHECKING:
    from ase import Atoms
    from ase.calculators.calculator import Calculator

    from li_campaign.schemas.spec import NebConvergenceSpec, NebSpec


@dataclass(frozen=True)
class NebOutcome:
    """The finest band run, and the barriers of every image count tried."""

    images: list[Atoms]
    energies_eV: list[float]
    barrier_forward_eV: float
    barrier_reverse_eV: float
    converged: bool
    steps: int
    images_tried: list[int]
    barriers_by_images_eV: list[float]
    images_converged: bool | None

    @property
    def n_images(self) -> int:
        """Intermediate images of the finest band."""
        return self.images_tried[-1]


def relax_band(images: list[Atoms], calc: Calculator, neb: NebSpec) -> tuple[bool, int]:
    """Optimise a band in place with ASE CI-NEB (improved tangent) and FIRE.

    Every image gets ``calc`` (shared). Returns whether ``neb.fmax_eV_A`` was reached and the
    number of optimiser steps. A batched calculator (one with ``evaluate_many``, in a batched
    pack) gets all intermediate images of each step in one request
    (:func:`li_campaign.batched.neb.relax_bands`: the same ASE NEB and FIRE steps).
    """
    evaluate_many = getattr(calc, "evaluate_many", None)
    if evaluate_many is not None:
        from li_campaign.batched.neb import relax_bands

        return relax_bands([images], evaluate_many, neb)[0]
    for image in images:
        image.calc = calc
    band = NEB(images, k=neb.spring_constant, climb=neb.climb, method="improvedtangent", allow_shared_calculator=True)
    optimizer = FIRE(band, logfile=None, trajectory=None)
    converged = bool(optimizer.run(fmax=neb.fmax_eV_A, steps=neb.max_steps))
    return converged, int(optimizer.nsteps)


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
        Band settings; ``neb.n_images`` is the first count.
    convergence
        Tolerance and largest count; None or ``enabled=False`` runs one band and leaves
        ``images_converged`` None.
    method
        First interpolation: ``linear``, or ``idpp`` (ASE's image-dependent pair potential; it
        keeps two atoms that move past each other, as in an exchange, apart).

    Returns
    -------
    NebOutcome
        The finest band; barriers are max(E) − E(start) and max(E) − E(end), endpoints included.

    Examples
    --------
    >>> outcome = converged_neb(start, end, calc, NebSpec(n_images=3), NebConvergenceSpec())  # doctest: +SKIP
    >>> outcome.images_tried, outcome.images_converged  # doctest: +SKIP
    ([3, 7], True)
    """
    images = interpolated_band(start, end, neb.n_images, method)
    converged, steps = relax_band(images, calc, neb)
    energies = _energies(images)
    tried, barriers = [neb.n_images], [max(energies) - energies[0]]
    images_converged = None
    if convergence is not None and convergence.enabled:
        images_converged = False
        while 2 * tried[-1] + 1 <= convergence.max_images:
            finer = refined_band(images)
            fine_converged, fine_steps = relax_band(finer, calc, neb)
            images, converged, steps = finer, fine_converged, fine_steps
            energies = _energies(images)
            tried.append(len(images) - 2)
            barriers.append(max(energies) - energies[0])
            if abs(barriers[-1] - barriers[-2]) < convergence.tolerance_eV:
                images_converged = True
                break
    top = max(energies)
    return NebOutcome(
        images=images,
        energies_eV=energies,
        barrier_forward_eV=top - energies[0],
        barrier_reverse_eV=top - energies[-1],
        converged=converged,
        steps=steps,
        images_tried=tried,
        barriers_by_images_eV=[float(b) for b in barriers],
        images_converged=images_converged,
    )

