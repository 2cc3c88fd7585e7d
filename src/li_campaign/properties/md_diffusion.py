"""Surface self-diffusion of Li adatoms from Langevin MD: 2D mean-square displacement, D(T), Arrhenius fit.

Method (:func:`adatom_diffusion_md`, one facet, one temperature, one adatom count):

1. The symmetric slab of the facet at the model's lattice constant is repeated in-plane to
   ``min_lateral_A``; atoms within ``fixed_bottom_A`` of the bottom are fixed (``FixAtoms``).
   ``n_adatoms`` Li atoms are placed at seeded random in-plane positions at least
   ``MIN_ADATOM_SEPARATION_A`` apart, each one bulk nearest-neighbour distance above its
   nearest slab atom.
2. NVT MD with ASE's :class:`~ase.md.langevin.Langevin` (friction ``friction_per_fs``, weak so
   that the thermostat barely slows the diffusion), ``equilibration_steps`` discarded, then
   ``production_steps`` with the adatom positions sampled every ``sample_every`` steps.
   :class:`~li_campaign.properties.md_guard.MdGuard` checks the run every
   ``guard.check_every`` steps; a run that becomes unstable stops with
   :class:`~li_campaign.properties.md_guard.MdInstabilityError` (reason, last good frame),
   which the Maker stores as a flagged result, never as a D.
3. In-plane adatom trajectories are unwrapped (minimum-image steps between samples) and taken
   relative to the in-plane centre-of-mass drift of the slab atoms.
4. The analysed samples are cut into ``n_segments`` consecutive segments. In each, the 2D
   MSD is averaged over adatoms and all time origins and D = slope / 4 of a straight-line fit
   (with intercept, which absorbs the vibrational plateau) of MSD(t) over the lag window
   ``fit_window`` (fractions of the segment length). D is the mean of the segment values and
   its error their standard error (block averaging). A single fit over the whole run would
   use longer, noisier lags whose error the segments underestimate (checked on Gaussian
   random walks: the segment mean scatters as its standard error says, the whole-run fit
   about twice as much).

The MSD and fit are written here: pymatgen-analysis-diffusion's ``DiffusionAnalyzer``
assumes three-dimensional diffusion (D = MSD / 6t) of a species within a multi-species host,
while an adatom diffuses in two dimensions (D = MSD / 4t) and is the same species as its
host, so it cannot be told apart by species. Units: 1 Å²/fs = 0.1 cm²/s.

Adatom events: an adatom whose height above the slab's original top layer falls below
``SINK_FRACTION`` of its starting height has sunk into the surface (e.g. by an exchange, after
which the tagged atom is no longer the adatom); one more than ``DESORPTION_HEIGHT_A`` above
its starting height has desorbed. The analysis then stops at the sample before the first
event, the event is listed and the result is not ``valid``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
from ase import Atom
from ase.constraints import FixAtoms
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import thermalize_momenta
from ase.units import fs, kB
from scipy.stats import linregress

from li_campaign.core.errors import InputError
from li_campaign.properties.adsorption import fixed_bottom_indices
from li_campaign.properties.md_guard import MdGuard
from li_campaign.properties.relax import structure_to_atoms
from li_campaign.structures.slabs import (
    LAYER_TOL_A,
    adatom_start_position,
    inplane_minimum_image,
    lateral_repeats,
    make_symmetric_slab,
    nearest_neighbour_distance,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ase.calculators.calculator import Calculator

    from li_campaign.schemas.spec import MdDiffusionSpec

A2_PER_FS_IN_CM2_PER_S = 0.1
"""1 Å²/fs = 1e-16 cm² / 1e-15 s = 0.1 cm²/s."""
MIN_ADATOM_SEPARATION_A = 5.0
"""Adatoms start at least this far apart in-plane (Å)."""
SINK_FRACTION = 0.4
"""An adatom lower than this fraction of its starting height above the top layer has sunk."""
DESORPTION_HEIGHT_A = 3.0
"""An adatom higher than its starting height plus this (Å) has desorbed."""
PLACEMENT_TRIES = 2000


def unwrap_inplane(xy: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Unwrap in-plane positions by summing minimum-image steps between consecutive samples.

    Parameters
    ----------
    xy
        Positions, shape (n_samples, n_atoms, 2) (Å); a step must be shorter than half the cell.
    cell
        Lattice matrix with a, b in the xy plane.

    Returns
    -------
    numpy.ndarray
        Continuous positions of the same shape, equal to ``xy`` at the first sample.
    """
    xy = np.asarray(xy, dtype=float)
    steps = np.diff(xy, axis=0).reshape(-1, 2)
    steps = inplane_minimum_image(cell, steps).reshape(len(xy) - 1, xy.shape[1], 2)
    return np.concatenate([xy[:1], xy[:1] + np.cumsum(steps, axis=0)], axis=0)


def msd_2d(xy: np.ndarray, max_lag: int) -> np.ndarray:
    """2D mean-square displacement for lags 0..max_lag, averaged over atoms and all time origins.

    Parameters
    ----------
    xy
        Unwrapped positions, shape (n_samples, n_atoms, 2) (Å).
    max_lag
        Largest lag in samples (< n_samples).

    Returns
    -------
    numpy.ndarray
        MSD (Å²), shape (max_lag + 1,).
    """
    xy = np.asarray(xy, dtype=float)
    if not 0 < max_lag < len(xy):
        raise ValueError(f"max_lag {max_lag}: must lie in [1, {len(xy) - 1}] (samples - 1)")
    out = np.zeros(max_lag + 1)
    for lag in range(1, max_lag + 1):
        out[lag] = np.mean(np.sum((xy[lag:] - xy[:-lag]) ** 2, axis=2))
    return out


def _lag_window(n_samples: int, window: tuple[float, float]) -> tuple[int, int]:
    """First and last lag (in sample intervals) of the fit window of a series of ``n_samples``."""
    n = n_samples - 1
    return max(int(np.floor(window[0] * n)), 1), int(np.ceil(window[1] * n))


def analysable(n_samples: int, window: tuple[float, float], n_segments: int) -> bool:
    """True if ``n_samples`` split into ``n_segments`` leave at least 3 lags in each segment's fit window."""
    first, last = _lag_window(n_samples // n_segments, window)
    return n_samples // n_segments >= 4 and last - first >= 2


def _fit(xy: np.ndarray, dt_fs: float, window: tuple[float, float]) -> tuple[float, int, int, np.ndarray]:
    """D (Å²/fs) from a straight-line fit of the MSD over the lag window (in samples), the window and the MSD."""
    n = len(xy) - 1
    first, last = _lag_window(len(xy), window)
    if last - first < 2:
        raise ValueError(f"fit window {window} of {n} sample intervals holds fewer than 3 lags")
    msd = msd_2d(xy, last)
    lags = np.arange(first, last + 1) * dt_fs
    slope = linregress(lags, msd[first : last + 1]).slope
    return float(slope) / 4.0, first, last, msd


def diffusion_coefficient_2d(
    xy: np.ndarray, dt_fs: float, window: tuple[float, float] = (0.1, 0.5), n_segments: int = 4
) -> dict:
    """Tracer diffusion coefficient of particles moving in a plane: D = slope(MSD) / 4, block-averaged.

    Parameters
    ----------
    xy
        Unwrapped in-plane positions, shape (n_samples, n_atoms, 2) (Å), equally spaced.
    dt_fs
        Time between samples (fs).
    window
        Lag window of the fit as fractions of the segment length.
    n_segments
        Consecutive segments, each fitted; D is their mean, the error their standard error.

    Returns
    -------
    dict
        ``diffusivity_cm2_s``, ``diffusivity_err_cm2_s``, ``segment_diffusivities_cm2_s``,
        ``fit_start_fs`` and ``fit_end_fs`` (lags of the fit), ``analysed_fs`` (whole run),
        ``msd_lag_fs`` and ``msd_A2`` (the segments' mean MSD up to the end of the window).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> walk = np.cumsum(rng.normal(0.0, np.sqrt(2 * 0.01 * 1.0), (4001, 50, 2)), axis=0)  # D = 0.01 Å²/fs
    >>> round(diffusion_coefficient_2d(walk, 1.0)["diffusivity_cm2_s"], 3)  # cm²/s
    0.001
    """
    xy = np.asarray(xy, dtype=float)
    if n_segments < 2:
        raise ValueError(f"n_segments {n_segments}: at least 2 are needed for an error")
    length = len(xy) // n_segments
    fits = [_fit(xy[k * length : (k + 1) * length], dt_fs, window) for k in range(n_segments)]
    segments = [fit[0] for fit in fits]
    _, first, last, _ = fits[0]
    msd = np.mean([fit[3] for fit in fits], axis=0)
    return {
        "diffusivity_cm2_s": float(np.mean(segments)) * A2_PER_FS_IN_CM2_PER_S,
        "diffusivity_err_cm2_s": float(np.std(segments, ddof=1) / np.sqrt(n_segments)) * A2_PER_FS_IN_CM2_PER_S,
        "segment_diffusivities_cm2_s": [s * A2_PER_FS_IN_CM2_PER_S for s in segments],
        "fit_start_fs": first * dt_fs,
        "fit_end_fs": last * dt_fs,
        "analysed_fs": (len(xy) - 1) * dt_fs,
        "msd_lag_fs": (np.arange(last + 1) * dt_fs).tolist(),
        "msd_A2": msd.tolist(),
    }


def arrhenius_fit(temperatures_K: Sequence[float], diffusivities_cm2_s: Sequence[float]) -> dict:
    """Fit ln D = ln D0 − Ea / (k_B T) by least squares (scipy ``linregress`` of ln D on 1/k_B T).

    Returns
    -------
    dict
        ``activation_energy_eV``, ``activation_energy_err_eV`` (standard error of the slope;
        0 with two points), ``prefactor_cm2_s`` (D0), ``r2`` and ``n``.

    Raises
    ------
    ValueError
        With fewer than two distinct temperatures or a D that is not positive.
    """
    t = np.asarray(temperatures_K, dtype=float)
    d = np.asarray(diffusivities_cm2_s, dtype=float)
    if len(t) != len(d):
        raise ValueError(f"{len(t)} temperatures but {len(d)} diffusivities")
    if len(set(t.tolist())) < 2:
        raise ValueError(f"Arrhenius fit needs at least two distinct temperatures, got {t.tolist()}")
    if not np.all(np.isfinite(d) & (d > 0)):
        raise ValueError(f"Arrhenius fit needs positive diffusivities, got {d.tolist()}")
    fit = linregress(1.0 / (kB * t), np.log(d))
    return {
        "activation_energy_eV": float(-fit.slope),
        "activation_energy_err_eV": float(fit.stderr) if len(t) > 2 else 0.0,
        "prefactor_cm2_s": float(np.exp(fit.intercept)),
        "r2": float(fit.rvalue**2),
        "n": int(len(t)),
    }


def _place_adatoms(slab, n_adatoms: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Seeded random adatom positions, at least MIN_ADATOM_SEPARATION_A apart in-plane (Å)."""
    cell = slab.lattice.matrix
    bond = nearest_neighbour_distance(slab)
    placed: list[np.ndarray] = []
    for _ in range(PLACEMENT_TRIES):
        if len(placed) == n_adatoms:
            break
        frac = rng.uniform(0.0, 1.0, 2)
        xy = frac @ cell[:2, :2]
        if placed and np.min(
            np.linalg.norm(inplane_minimum_image(cell, np.array(placed)[:, :2] - xy), axis=1)
        ) < MIN_ADATOM_SEPARATION_A:
            continue
        placed.append(adatom_start_position(slab, np.array([xy[0], xy[1], 0.0]), bond))
    if len(placed) < n_adatoms:
        size = " x ".join(f"{np.linalg.norm(v):.1f}" for v in cell[:2])
        raise InputError(
            f"n_adatoms {n_adatoms}: the {size} Å cell has no room for them {MIN_ADATOM_SEPARATION_A} Å apart; "
            "raise md_diffusion.min_lateral_A"
        )
    return placed


def adatom_diffusion_md(
    calc: Calculator,
    lattice_constant_A: float,
    miller: tuple[int, int, int],
    temperature_K: float,
    n_adatoms: int,
    spec: MdDiffusionSpec,
) -> dict:
    """NVT MD of ``n_adatoms`` Li adatoms on one facet at one temperature; D from the 2D MSD.

    Parameters
    ----------
    calc
        ASE calculator.
    lattice_constant_A
        bcc lattice constant of the calculator (Å).
    miller
        Facet.
    temperature_K
        Thermostat temperature (K).
    n_adatoms
        Adatoms on the slab.
    spec
        Slab, MD, analysis and guard settings (see the module docstring).

    Returns
    -------
    dict
        The fields of :class:`~li_campaign.schemas.kinetics.AdatomDiffusionDoc` except
        ``facet``, ``miller_index`` and ``provenance``; ``trajectory`` holds every
        ``trajectory_every``-th frame.

    Raises
    ------
    MdInstabilityError
        If the run crossed a limit of ``spec.guard``; it carries the reason and the last good frame.
    InputError
        If the cell has no room for ``n_adatoms`` adatoms, or every slab atom is fixed.
    """
    start = time.perf_counter()
    slab = make_symmetric_slab(lattice_constant_A, tuple(miller), spec.min_slab_size_A, spec.min_vacuum_A)
    repeats = lateral_repeats(slab, spec.min_lateral_A)
    slab.make_supercell([repeats[0], repeats[1], 1])
    rng = np.random.default_rng([spec.seed, n_adatoms, int(round(temperature_K))])
    positions = _place_adatoms(slab, n_adatoms, rng)
    atoms = structure_to_atoms(slab)
    n_slab = len(atoms)
    fixed = fixed_bottom_indices(atoms, spec.fixed_bottom_A)
    if len(fixed) == n_slab:
        raise InputError(
            f"md_diffusion.fixed_bottom_A = {spec.fixed_bottom_A} Å fixes the whole {miller} slab; lower it or "
            "raise min_slab_size_A"
        )
    z = atoms.positions[:, 2]
    top_layer = np.flatnonzero(z > z.max() - LAYER_TOL_A)
    for position in positions:
        atoms.append(Atom("Li", position))
    atoms.set_constraint(FixAtoms(indices=fixed) if fixed else None)
    atoms.calc = calc
    adatoms = np.arange(n_slab, len(atoms))
    mobile_slab = np.setdiff1d(np.arange(n_slab), fixed)
    masses = atoms.get_masses()[mobile_slab]
    thermalize_momenta(atoms, temperature_K, rng=rng)
    dynamics = Langevin(
        atoms,
        spec.timestep_fs * fs,
        temperature_K=temperature_K,
        friction=spec.friction_per_fs / fs,
        fixcm=False,  # the fixed bottom already pins the slab
        rng=rng,
    )
    guard = MdGuard.from_spec(atoms, spec.guard, np.sqrt(3.0) / 2.0 * lattice_constant_A, temperature_K)
    h0 = atoms.positions[adatoms, 2] - atoms.positions[top_layer, 2].mean()

    total = spec.equilibration_steps + spec.production_steps
    samples: list[np.ndarray] = []
    heights: list[np.ndarray] = []
    temperatures: list[float] = []
    frames: dict[str, list] = {"step": [], "positions_A": []}
    for step in range(1, total + 1):
        dynamics.run(1)
        if step % spec.guard.check_every == 0:
            guard.check(atoms, step)
        if step > spec.equilibration_steps and (step - spec.equilibration_steps) % spec.sample_every == 0:
            com = np.average(atoms.positions[mobile_slab, :2], axis=0, weights=masses)
            samples.append(atoms.positions[adatoms, :2] - com)
            heights.append(atoms.positions[adatoms, 2] - atoms.positions[top_layer, 2].mean())
            temperatures.append(float(atoms.get_temperature()))
        if step % spec.trajectory_every == 0:
            frames["step"].append(step)
            frames["positions_A"].append(atoms.get_positions().tolist())

    result = {
        "temperature_K": float(temperature_K),
        "n_adatoms": int(n_adatoms),
        "n_atoms": len(atoms),
        "supercell": repeats,
        "n_fixed": len(fixed),
        "timestep_fs": spec.timestep_fs,
        "friction_per_fs": spec.friction_per_fs,
        "equilibration_steps": spec.equilibration_steps,
        "production_steps": spec.production_steps,
        "mean_temperature_K": float(np.mean(temperatures)),
        "events": [],
        "trajectory": {
            "timestep_fs": spec.timestep_fs,
            "adatom_indices": adatoms.tolist(),
            "fixed_indices": list(fixed),
            "cell_A": atoms.cell.array.tolist(),
            **frames,
        },
    }
    heights_array = np.array(heights)
    sunk = heights_array < SINK_FRACTION * h0
    desorbed = heights_array > h0 + DESORPTION_HEIGHT_A
    bad = np.flatnonzero((sunk | desorbed).any(axis=1))
    n_good = int(bad[0]) if len(bad) else len(samples)
    for i in adatoms - n_slab:
        for mask, what in ((sunk, "sank into the surface"), (desorbed, "desorbed")):
            hits = np.flatnonzero(mask[:, i])
            if len(hits):
                step = spec.equilibration_steps + (int(hits[0]) + 1) * spec.sample_every
                result["events"].append(f"adatom {int(adatoms[i])} {what} at step {step}")
    if analysable(n_good, spec.fit_window, spec.n_segments):  # else too short before the first event: no D
        xy = unwrap_inplane(np.array(samples[:n_good]), atoms.cell.array)
        result |= diffusion_coefficient_2d(xy, spec.sample_every * spec.timestep_fs, spec.fit_window, spec.n_segments)
    result["valid"] = not result["events"] and "diffusivity_cm2_s" in result
    result["wall_time_s"] = time.perf_counter() - start
    return result
