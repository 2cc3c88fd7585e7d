"""Which explored frames get DFT labels: trust levels, then a diverse subset within a budget.

Pure functions of arrays (σ per frame, descriptors, origins), deterministic for a seed.
Trust levels follow DP-GEN: σ < lower is *accurate*, lower ≤ σ < upper a *candidate*,
σ ≥ upper *failed* (the committee is too far off for the frame to be physical, e.g. an MD run
that has blown up; reported, never labelled). Farthest-point sampling is written here
(scikit-learn has none); it is the greedy max–min selection of Gonzalez (1985).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


ACCURATE, CANDIDATE, FAILED = "accurate", "candidate", "failed"


def classify(sigma: Sequence[float], lower: float, upper: float) -> np.ndarray:
    """Return ``"accurate"``, ``"candidate"`` or ``"failed"`` for every σ.

    A non-finite σ (a member returned NaN forces) is failed.
    """
    if not lower < upper:
        raise ValueError(f"trust levels lower = {lower}, upper = {upper}: lower must be below upper")
    sigma = np.asarray(sigma, dtype=float)
    out = np.full(sigma.shape, FAILED, dtype=object)
    finite = np.isfinite(sigma)
    out[finite & (sigma < lower)] = ACCURATE
    out[finite & (sigma >= lower) & (sigma < upper)] = CANDIDATE
    return out


def farthest_point_sampling(
    descriptors: np.ndarray,
    k: int,
    seed: int = 0,
    groups: Sequence[str] | None = None,
    quotas: Mapping[str, int] | None = None,
) -> list[int]:
    """Pick up to ``k`` rows of ``descriptors`` that are far apart (greedy max–min).

    The first pick is drawn with ``numpy.random.default_rng(seed)``; each next pick is the
    row farthest (Euclidean) from everything picked so far, ties going to the lowest index.
    Rows whose group has used up its quota are skipped.

    Parameters
    ----------
    descriptors
        Shape (n, d).
    k
        Most rows picked.
    seed
        Seed of the first pick.
    groups, quotas
        Group of each row and the most rows picked per group (groups missing from
        ``quotas`` are unlimited).

    Returns
    -------
    list of int
        Row indices in the order picked.
    """
    x = np.asarray(descriptors, dtype=float)
    n = len(x)
    if x.ndim != 2:
        raise ValueError(f"descriptors of shape {x.shape}: expected (n, d)")
    if groups is not None and len(groups) != n:
        raise ValueError(f"{len(groups)} groups for {n} descriptors")
    quotas = dict(quotas or {})
    used: Counter[str] = Counter()

    def allowed(i: int) -> bool:
        return groups is None or groups[i] not in quotas or used[groups[i]] < quotas[groups[i]]

    eligible = [i for i in range(n) if allowed(i)]
    if k <= 0 or not eligible:
        return []
    first = eligible[int(np.random.default_rng(seed).integers(len(eligible)))]
    picked = [first]
    if groups is not None:
        used[groups[first]] += 1
    distance = np.linalg.norm(x - x[first], axis=1)
    while len(picked) < k:
        open_rows = [i for i in range(n) if i not in picked and allowed(i)]
        if not open_rows:
            break
        nxt = max(open_rows, key=lambda i: (distance[i], -i))
        picked.append(nxt)
        if groups is not None:
            used[groups[nxt]] += 1
        distance = np.minimum(distance, np.linalg.norm(x - x[nxt], axis=1))
    return picked


@dataclass(frozen=True)
class Selection:
    """The verdict on one exploration: class of every frame and the frames picked for labels."""

    classes: np.ndarray
    selected: list[int]

    def indices(self, kind: str) -> list[int]:
        """Return the frames of one class (``"accurate"``, ``"candidate"`` or ``"failed"``)."""
        return [int(i) for i in np.flatnonzero(self.classes == kind)]

    def fraction(self, kind: str) -> float:
        """Return the fraction of frames of one class (0 with no frames)."""
        return len(self.indices(kind)) / len(self.classes) if len(self.classes) else 0.0


def select_frames(
    sigma: Sequence[float],
    descriptors: np.ndarray,
    origins: Sequence[str],
    lower: float,
    upper: float,
    budget: int,
    method: str = "farthest_point",
    quotas: Mapping[str, int] | None = None,
    seed: int = 0,
) -> Selection:
    """Classify the explored frames and pick up to ``budget`` candidates for labels.

    Parameters
    ----------
    sigma
        σ of every frame (eV/Å).
    descriptors
        Descriptor of every frame, shape (n, d).
    origins
        Exploration origin of every frame (for ``quotas``).
    lower, upper
        Trust levels (eV/Å).
    budget
        Most frames picked.
    method
        ``"farthest_point"``: :func:`farthest_point_sampling` over the candidates;
        ``"max_deviation"``: the largest σ first (ties to the lowest index).
    quotas
        Most frames picked per origin.
    seed
        Seed of the first farthest-point pick.

    Returns
    -------
    Selection
        Indices refer to the frames as given.
    """
    sigma = np.asarray(sigma, dtype=float)
    if not len(sigma) == len(descriptors) == len(origins):
        raise ValueError(f"{len(sigma)} σ, {len(descriptors)} descriptors and {len(origins)} origins: lengths differ")
    if budget < 0:
        raise ValueError(f"budget {budget}: must be >= 0")
    classes = classify(sigma, lower, upper)
    candidates = [int(i) for i in np.flatnonzero(classes == CANDIDATE)]
    groups = [origins[i] for i in candidates]
    if method == "farthest_point":
        local = farthest_point_sampling(np.asarray(descriptors)[candidates], budget, seed, groups, quotas)
    elif method == "max_deviation":
        order = sorted(range(len(candidates)), key=lambda j: (-sigma[candidates[j]], candidates[j]))
        used: Counter[str] = Counter()
        local = []
        for j in order:
            if len(local) == budget:
                break
            if quotas and groups[j] in quotas and used[groups[j]] >= quotas[groups[j]]:
                continue
            used[groups[j]] += 1
            local.append(j)
    else:
        raise ValueError(f"unknown selection method {method!r}: expected 'farthest_point' or 'max_deviation'")
    return Selection(classes=classes, selected=[candidates[j] for j in local])


def is_converged(candidate_fraction: float, threshold: float) -> bool:
    """Return True when the fraction of candidates is below the threshold (the committee agrees almost everywhere)."""
    return candidate_fraction < threshold


def stop_reason(
    candidate_fraction: float,
    threshold: float,
    iteration: int,
    max_iterations: int,
    n_selected: int,
    spot_checks_passed: bool | None = None,
) -> str | None:
    """Return why the loop stops after iteration ``iteration`` (from 0), or None to label and refit.

    ``"spot_checks_passed"`` (the committee passed every teacher spot check, when they are
    run) wins over everything. While spot checks are run and any fails, the loop goes on to
    ``"max_iterations"`` (``iteration + 1`` committees trained): a committee that agrees with
    itself (:func:`is_converged`) can still miss its teacher, the same way in every member.
    Without spot checks, ``"converged"`` wins over ``"max_iterations"``. Last,
    ``"no_candidates_selected"``: nothing to label (``n_selected`` counts every frame
    selected, the copies near failing checks too), so another committee would see the same data.
    """
    if spot_checks_passed:
        return "spot_checks_passed"
    if spot_checks_passed is None and is_converged(candidate_fraction, threshold):
        return "converged"
    if iteration + 1 >= max_iterations:
        return "max_iterations"
    if n_selected == 0:
        return "no_candidates_selected"
    return None
