"""Surface self-diffusion of Li adatoms from Langevin MD: run length, site-to-site hops, 2D MSD, D(T), Arrhenius fit.

Method (:func:`adatom_diffusion_md`, one facet, one temperature, one adatom count):

1. The symmetric slab of the facet at the model's lattice constant is repeated in-plane to
   ``min_lateral_A``; atoms within ``fixed_bottom_A`` of the bottom are fixed (``FixAtoms``).
   ``n_adatoms`` Li atoms are placed at seeded random in-plane positions at least
   ``MIN_ADATOM_SEPARATION_A`` apart, each one bulk nearest-neighbour distance above its
   nearest slab atom.
2. Run length (:func:`planned_production_steps`). With the facet's effective NEB barrier E_b
   (the fan-out passes its :class:`~li_campaign.schemas.kinetics.DiffusionDoc`), the hop rate
   of one adatom is estimated by harmonic transition-state theory as Γ = z ν0 exp(−E_b / k_B T):
   ν0 = ``attempt_frequency_THz`` (default 2 THz: below the Debye frequency of bulk Li,
   k_B θ_D / h = 7.2 THz at θ_D = 344 K, because the in-plane vibration of an adatom in a
   shallow site is softer; a low ν0 errs towards a longer run), z = ``hop_coordination`` or the
   number of nearest neighbours of the facet's in-plane surface lattice (the lattice every
   family of equivalent sites forms: 4 on (100) and (110), 6 on (111)). The production is
   the longest of ``production_steps``, the steps for ``min_hops`` expected hops of all
   adatoms together, N = min_hops / (n_adatoms Γ dt), and the steps for which the expected
   MSD of one adatom at the end of the fit window is ``MSD_PLAN_MARGIN`` × the validity
   threshold, N = MSD_PLAN_MARGIN · msd_hop_factor · n_segments / (fit_window[1] · Γ dt)
   (a 2D lattice walk of hop length ℓ has MSD = n ℓ² after n hops), capped at
   ``max_production_steps`` and rounded up to whole sampling intervals. Without a barrier the
   production is ``production_steps``. The document records the planned and the run steps,
   the expected hops and why.
3. NVT MD with ASE's :class:`~ase.md.langevin.Langevin` with a per-atom friction array (ASE
   documents "one quantity per atom could be specified by giving an array"): the mobile slab
   atoms have ``friction_per_fs``, the adatoms 0, for which the Langevin step is exactly the
   velocity-Verlet step (all noise terms scale with the friction). The slab is the heat bath;
   a thermostat acting on the adatom itself would damp its recrossings and long jumps. The
   mean kinetic temperature of the thermostatted (mobile slab) atoms over the production
   samples is recorded and must lie within ``temperature_tolerance`` of the target.
   :class:`~li_campaign.simulation.md_guard.MdGuard` checks the run every
   ``guard.check_every`` steps; a run that becomes unstable stops with
   :class:`~li_campaign.simulation.md_guard.MdInstabilityError` (reason, last good frame),
   which the Maker stores as a flagged result, never as a D.
4. In-plane adatom trajectories are unwrapped (minimum-image steps between samples) and taken
   relative to the in-plane centre-of-mass drift of the slab atoms.
5. Hops (:func:`count_site_hops`): the stable sites are where the adatoms reside
   (:func:`residence_sites`: maxima of the adatoms' in-plane density folded into the
   primitive surface cell); each sample is assigned to its nearest stable site, and a hop is
   counted only when the adatom comes within ``capture_fraction`` × the site spacing of a
   site other than its current one (hysteresis: vibration inside a site and failed attempts
   that turn back at the saddle are no hops). ``hop_length_A`` is the median hop length.
6. The analysed samples are cut into ``n_segments`` consecutive segments. In each, the 2D
   MSD is averaged over adatoms and all time origins and D = slope / 4 of a straight-line fit
   (with intercept, which absorbs the vibrational plateau) of MSD(t) over the lag window
   ``fit_window`` (fractions of the segment length). D is the mean of the segment values and
   its error their standard error (block averaging). A single fit over the whole run would
   use longer, noisier lags whose error the segments underestimate (checked on Gaussian
   random walks: the segment mean scatters as its standard error says, the whole-run fit
   about twice as much).
7. Validity (:func:`validity_reasons`): a run is valid only without adatom events, with at
   least ``min_hops_valid`` hops, an MSD at the end of the fit window above
   ``msd_hop_factor`` × hop length² (else the slope measures vibration inside a site) and the
   slab temperature within tolerance; each failed condition is listed in ``invalid_reasons``.

The MSD and fit are written here: pymatgen-analysis-diffusion's ``DiffusionAnalyzer``
assumes three-dimensional diffusion (D = MSD / 6t) of a species within a multi-species host,
while an adatom diffuses in two dimensions (D = MSD / 4t) and is the same species as its
host, so it cannot be told apart by species. Units: 1 Å²/fs = 0.1 cm²/s.

Adatom events (:func:`adatom_events`): an adatom below the top atomic plane of the slab (the
median height of the atoms of the original top plane, less ``SINK_TOLERANCE_A``) has sunk
into the surface (e.g. by an exchange, after which the tagged atom is no longer the adatom);
one more than ``DESORPTION_HEIGHT_A`` above its starting height has desorbed. Judged by layer,
not by a fraction of the starting height: an adatom in the (111) deep hollow rests 0.99 Å
above the top plane and has not sunk. On open facets whose stable trough sites
lie below the topmost plane this rule flags them; the adatom MD runs (100), (110) and (111)
by default. The analysis stops at the sample before the first event, the event is listed
and the result is not ``valid``.
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
from scipy.ndimage import gaussian_filter, maximum_filter
from scipy.stats import linregress

from li_campaign.core.errors import InputError
from li_campaign.geometry.slabs import (
    LAYER_TOL_A,
    adatom_start_position,
    inplane_minimum_image,
    lateral_repeats,
    make_symmetric_slab,
    nearest_neighbour_distance,
)
from li_campaign.simulation.md_guard import MdGuard
from li_campaign.simulation.relax import structure_to_atoms
from li_campaign.surfaces.adsorption import fixed_bottom_indices

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ase import Atoms

    from ase.calculators.calculator import Calculator

    from li_campaign.schemas.spec import MdDiffusionSpec

A2_PER_FS_IN_CM2_PER_S = 0.1
"""1 Å²/fs = 1e-16 cm² / 1e-15 s = 0.1 cm²/s."""
MIN_ADATOM_SEPARATION_A = 5.0
"""Adatoms start at least this far apart in-plane (Å)."""
SINK_TOLERANCE_A = LAYER_TOL_A
"""An adatom more than this (Å) below the top atomic plane of the slab has sunk into the surface."""
DESORPTION_HEIGHT_A = 3.0
"""An adatom higher than its starting height plus this (Å) has desorbed."""
MSD_PLAN_MARGIN = 2.0
"""The run length is planned for this many times the MSD the validity check asks for (hop counts scatter)."""
RESIDENCE_BIN_A = 0.1
"""Bin width of the in-plane residence histogram of :func:`residence_sites` (Å)."""
RESIDENCE_SMOOTHING_A = 0.15
"""Gaussian smoothing of that histogram (Å)."""
SITE_SEPARATION_A = 0.6
"""Residence maxima closer than this (Å) are one site."""
SITE_MIN_DENSITY = 0.1
"""A residence maximum below this fraction of the highest is a transit region, not a site."""
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


def surface_coordination(lattice_xy: np.ndarray, rel_tol: float = 0.01) -> int:
    """Nearest neighbours of a 2D Bravais lattice: the lattice vectors as short as the shortest, within ``rel_tol``.

    Every family of equivalent adsorption sites of a facet forms the facet's in-plane lattice,
    so this is the z of the hop-rate estimate (square 4, centred rectangular (110) 4, hexagonal 6,
    rectangular 2).

    Examples
    --------
    >>> surface_coordination(np.eye(2)), surface_coordination(np.array([[1.0, 0.0], [0.5, 3**0.5 / 2]]))
    (4, 6)
    """
    plane = np.asarray(lattice_xy, dtype=float)[:2, :2]
    shifts = np.array([[i, j] for i in range(-3, 4) for j in range(-3, 4) if (i, j) != (0, 0)], dtype=float)
    lengths = np.linalg.norm(shifts @ plane, axis=1)
    return int(np.count_nonzero(lengths < lengths.min() * (1.0 + rel_tol)))


def hop_rate_per_fs(barrier_eV: float, temperature_K: float, attempt_frequency_THz: float, coordination: int) -> float:
    """Hop rate of one adatom, Γ = z ν0 exp(−E_b / k_B T), in hops per fs (1 THz = 10⁻³ fs⁻¹)."""
    return coordination * attempt_frequency_THz * 1e-3 * float(np.exp(-max(barrier_eV, 0.0) / (kB * temperature_K)))


def planned_production_steps(
    barrier_eV: float | None, temperature_K: float, n_adatoms: int, spec: MdDiffusionSpec, coordination: int
) -> dict:
    """Production length for enough hops (module docstring, step 2).

    Parameters
    ----------
    barrier_eV
        The facet's effective hop barrier (eV); None: no estimate, ``spec.production_steps``.
    temperature_K, n_adatoms
        The run.
    spec
        ``production_steps``, ``max_production_steps``, ``min_hops``, ``msd_hop_factor``,
        ``fit_window``, ``n_segments``, ``timestep_fs``, ``attempt_frequency_THz``, ``sample_every``.
    coordination
        z of the rate estimate.

    Returns
    -------
    dict
        ``planned_production_steps`` (the estimate, before the floor and cap), ``production_steps``
        (what runs: floored at ``production_steps``, capped at ``max_production_steps``, rounded up
        to whole ``sample_every``), ``expected_hops`` (all adatoms, over the run), ``hop_rate_per_fs``
        (one adatom), ``hop_coordination`` and ``run_length_reason``.
    """
    out: dict = {"barrier_eV": barrier_eV, "hop_coordination": int(coordination)}
    if barrier_eV is None:
        steps = spec.production_steps
        out |= {"planned_production_steps": None, "hop_rate_per_fs": None, "expected_hops": None}
        out["run_length_reason"] = "no facet barrier given: production_steps of the spec"
    else:
        rate = hop_rate_per_fs(barrier_eV, temperature_K, spec.attempt_frequency_THz, coordination)
        per_step = rate * spec.timestep_fs
        for_hops = spec.min_hops / (n_adatoms * per_step)
        for_msd = MSD_PLAN_MARGIN * spec.msd_hop_factor * spec.n_segments / (spec.fit_window[1] * per_step)
        planned = int(np.ceil(max(for_hops, for_msd)))
        steps = min(max(planned, spec.production_steps), spec.max_production_steps)
        why = (
            f"E_b = {barrier_eV:.3f} eV, Γ = {coordination} × {spec.attempt_frequency_THz:g} THz × "
            f"exp(−E_b / k_B T) = {rate * 1e3:.3g} THz per adatom: {int(np.ceil(for_hops))} steps for "
            f"{spec.min_hops} hops, {int(np.ceil(for_msd))} for an MSD of {MSD_PLAN_MARGIN:g} × "
            f"{spec.msd_hop_factor:g} hop lengths² at the end of the fit window"
        )
        if planned > spec.max_production_steps:
            why += f"; capped at max_production_steps {spec.max_production_steps}"
        elif planned < spec.production_steps:
            why += f"; raised to production_steps {spec.production_steps}"
        out |= {"planned_production_steps": planned, "hop_rate_per_fs": rate, "run_length_reason": why}
    steps = int(np.ceil(steps / spec.sample_every)) * spec.sample_every
    out["production_steps"] = steps
    if out["hop_rate_per_fs"] is not None:
        out["expected_hops"] = out["hop_rate_per_fs"] * n_adatoms * steps * spec.timestep_fs
    return out


def adatom_friction(n_atoms: int, adatoms: Sequence[int], friction: float) -> np.ndarray:
    """Per-atom Langevin friction, shape (n_atoms, 1) as ASE's ``Langevin`` broadcasts it: ``friction``, adatoms 0."""
    out = np.full((n_atoms, 1), float(friction))
    out[np.asarray(adatoms, dtype=int)] = 0.0
    return out


def kinetic_temperature(atoms, indices: Sequence[int]) -> float:
    """Kinetic temperature of the atoms ``indices`` (K), 3 degrees of freedom each."""
    indices = np.asarray(indices, dtype=int)
    velocities = atoms.get_velocities()[indices]
    kinetic = 0.5 * np.sum(atoms.get_masses()[indices, None] * velocities**2)
    return float(2.0 * kinetic / (3.0 * len(indices) * kB))


def adatom_events(heights_A: np.ndarray, start_heights_A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sunk and desorbed masks of adatom heights above the top atomic plane (module docstring).

    Parameters
    ----------
    heights_A
        Height of each adatom above the top plane of the slab, shape (n_samples, n_adatoms) (Å).
    start_heights_A
        Starting heights, shape (n_adatoms,) (Å).

    Returns
    -------
    tuple of numpy.ndarray
        ``sunk`` (below the top plane by more than ``SINK_TOLERANCE_A``) and ``desorbed``
        (more than ``DESORPTION_HEIGHT_A`` above the start), each of the shape of ``heights_A``.
    """
    heights = np.asarray(heights_A, dtype=float)
    return heights < -SINK_TOLERANCE_A, heights > np.asarray(start_heights_A, dtype=float) + DESORPTION_HEIGHT_A


def residence_sites(xy: np.ndarray, lattice_xy: np.ndarray) -> np.ndarray:
    """Stable adatom sites of one surface cell: maxima of the adatoms' in-plane residence density.

    The positions are folded into the cell ``lattice_xy`` (the primitive surface cell, whose
    translations map every site onto an equivalent one), histogrammed in bins of about
    ``RESIDENCE_BIN_A``, smoothed periodically by ``RESIDENCE_SMOOTHING_A``; the sites are the
    local maxima within ``SITE_SEPARATION_A`` holding at least ``SITE_MIN_DENSITY`` of the highest.
    An adatom spends its time vibrating in minima and crosses saddles quickly, so saddles are no sites.

    Parameters
    ----------
    xy
        In-plane positions in the frame of the slab, any shape (..., 2) (Å).
    lattice_xy
        Rows: the two in-plane lattice vectors of the cell (Å).

    Returns
    -------
    numpy.ndarray
        Site positions inside the cell, shape (n_sites, 2) (Å), densest first.
    """
    plane = np.asarray(lattice_xy, dtype=float)[:2, :2]
    frac = np.linalg.solve(plane.T, np.asarray(xy, dtype=float).reshape(-1, 2).T).T % 1.0
    lengths = np.linalg.norm(plane, axis=1)
    bins = np.maximum(np.ceil(lengths / RESIDENCE_BIN_A).astype(int), 8)
    density, _, _ = np.histogram2d(frac[:, 0], frac[:, 1], bins=bins, range=[[0.0, 1.0], [0.0, 1.0]])
    width = lengths / bins
    density = gaussian_filter(density, sigma=RESIDENCE_SMOOTHING_A / width, mode="wrap")
    size = 2 * np.ceil(SITE_SEPARATION_A / width).astype(int) + 1
    peaks = (density == maximum_filter(density, size=tuple(size), mode="wrap")) & (density >= SITE_MIN_DENSITY * density.max())
    i, j = np.nonzero(peaks)
    order = np.argsort(-density[i, j])
    sites: list[np.ndarray] = []
    for k in order:
        site = np.array([(i[k] + 0.5) / bins[0], (j[k] + 0.5) / bins[1]]) @ plane
        if not sites or np.min(np.linalg.norm(inplane_minimum_image(plane, np.array(sites) - site), axis=1)) >= SITE_SEPARATION_A:
            sites.append(site)
    return np.array(sites)


def site_spacing(sites_xy: np.ndarray, lattice_xy: np.ndarray) -> float:
    """Shortest distance between two sites of the periodic site lattice (basis ``sites_xy`` of the cell) (Å)."""
    plane = np.asarray(lattice_xy, dtype=float)[:2, :2]
    sites = np.atleast_2d(np.asarray(sites_xy, dtype=float))
    shortest = float(np.min(np.linalg.norm([i * plane[0] + j * plane[1] for i in (-2, -1, 0, 1, 2) for j in (-2, -1, 0, 1, 2) if (i, j) != (0, 0)], axis=1)))
    for a in range(len(sites)):
        for b in range(a + 1, len(sites)):
            shortest = min(shortest, float(np.linalg.norm(inplane_minimum_image(plane, sites[b] - sites[a]))))
    return shortest


def count_site_hops(xy: np.ndarray, sites_xy: np.ndarray, lattice_xy: np.ndarray, capture_radius_A: float) -> dict:
    """Site-to-site hops of adatoms on a periodic lattice of sites, with hysteresis.

    Each sample is assigned its nearest site (``sites_xy`` and their images under ``lattice_xy``).
    An adatom's current site changes, and a hop is counted, only when it comes within
    ``capture_radius_A`` of a site other than its current one; samples outside every capture
    circle (on the way, or at a saddle it turns back from) keep the current site. The first
    capture sets the starting site.

    Parameters
    ----------
    xy
        Unwrapped in-plane positions, shape (n_samples, n_atoms, 2) (Å), in the frame of the sites.
    sites_xy
        Sites of one cell, shape (n_sites, 2) (Å).
    lattice_xy
        Rows: the in-plane lattice vectors of the site lattice (Å).
    capture_radius_A
        Capture radius (Å); below half the site spacing.

    Returns
    -------
    dict
        ``n_hops`` (all atoms), ``hops_per_adatom``, ``hop_lengths_A`` (every hop, in order per
        atom), ``hop_length_A`` (their median; None without hops) and ``hop_samples`` (per atom,
        the sample index of each hop).
    """
    xy = np.asarray(xy, dtype=float)
    plane = np.asarray(lattice_xy, dtype=float)[:2, :2]
    sites = np.atleast_2d(np.asarray(sites_xy, dtype=float))
    same_site = 0.5 * site_spacing(sites, plane)
    if not 0 < capture_radius_A < same_site:
        raise ValueError(f"capture radius {capture_radius_A} Å: must lie in (0, {same_site:.3f}) Å, half the site spacing")
    n_samples, n_atoms = xy.shape[:2]
    lengths: list[float] = []
    per_atom: list[int] = []
    when: list[list[int]] = []
    for atom in range(n_atoms):
        path = xy[:, atom]
        offsets = np.stack(
            [inplane_minimum_image(plane, path - site) for site in sites], axis=1
        )  # (n_samples, n_sites, 2): from the nearest image of each basis site to the atom
        distances = np.linalg.norm(offsets, axis=2)
        best = np.argmin(distances, axis=1)
        nearest = path - offsets[np.arange(n_samples), best]
        captured = distances[np.arange(n_samples), best] < capture_radius_A
        current: np.ndarray | None = None
        hops: list[int] = []
        for k in np.flatnonzero(captured):
            if current is None:
                current = nearest[k]
            elif np.linalg.norm(nearest[k] - current) > same_site:
                lengths.append(float(np.linalg.norm(nearest[k] - current)))
                hops.append(int(k))
                current = nearest[k]
        per_atom.append(len(hops))
        when.append(hops)
    return {
        "n_hops": int(sum(per_atom)),
        "hops_per_adatom": per_atom,
        "hop_lengths_A": lengths,
        "hop_length_A": float(np.median(lengths)) if lengths else None,
        "hop_samples": when,
    }


def validity_reasons(
    n_hops: int,
    hop_length_A: float,
    msd_end_A2: float | None,
    thermostat_temperature_K: float,
    temperature_K: float,
    spec: MdDiffusionSpec,
) -> list[str]:
    """Why a run's D is not a diffusion coefficient; empty if it is (events are listed apart).

    Parameters
    ----------
    n_hops
        Site-to-site hops of all adatoms (:func:`count_site_hops`).
    hop_length_A
        Typical hop length (Å): the median hop, or the site spacing without hops.
    msd_end_A2
        Segment-mean MSD at the end of the fit window (Å²); None if the run was too short to analyse.
    thermostat_temperature_K, temperature_K
        Mean kinetic temperature of the thermostatted atoms over the production, and the target (K).
    spec
        ``min_hops_valid``, ``msd_hop_factor``, ``temperature_tolerance``.
    """
    reasons = []
    if n_hops < spec.min_hops_valid:
        reasons.append(f"{n_hops} site-to-site hops, fewer than min_hops_valid = {spec.min_hops_valid}")
    if msd_end_A2 is None:
        reasons.append("too short to analyse")
    elif msd_end_A2 < spec.msd_hop_factor * hop_length_A**2:
        reasons.append(
            f"MSD at the end of the fit window {msd_end_A2:.3g} Å² < {spec.msd_hop_factor:g} × hop length² "
            f"({hop_length_A:.2f} Å)² = {spec.msd_hop_factor * hop_length_A**2:.3g} Å²: vibration inside sites"
        )
    deviation = thermostat_temperature_K / temperature_K - 1.0
    if abs(deviation) > spec.temperature_tolerance:
        reasons.append(
            f"thermostatted slab at {thermostat_temperature_K:.0f} K, {deviation:+.0%} from {temperature_K:g} K "
            f"(tolerance {spec.temperature_tolerance:.0%})"
        )
    return reasons


def held_bottom_and_top_layer(
    slab: Atoms, fixed_bottom_A: float, section: str, miller: tuple[int, int, int]
) -> tuple[list[int], np.ndarray]:
    """The indices of a slab's fixed bottom atoms (within ``fixed_bottom_A`` of the lowest) and of its top plane.

    Raises
    ------
    InputError
        If every atom would be fixed; the message names ``<section>.fixed_bottom_A``.
    """
    fixed = fixed_bottom_indices(slab, fixed_bottom_A)
    if len(fixed) == len(slab):
        raise InputError(
            f"{section}.fixed_bottom_A = {fixed_bottom_A} Å fixes the whole {miller} slab; lower it or raise min_slab_size_A"
        )
    z = slab.positions[:, 2]
    return fixed, np.flatnonzero(z > z.max() - LAYER_TOL_A)


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
    barrier_eV: float | None = None,
) -> dict:
    """NVT MD of ``n_adatoms`` Li adatoms on one facet at one temperature; hops, D from the 2D MSD, validity.

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
        Slab, MD, run-length, analysis and guard settings (see the module docstring).
    barrier_eV
        The facet's effective hop barrier (eV) for the run length; None: ``spec.production_steps``.

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
    surface_cell = slab.lattice.matrix[:2, :2].copy()  # the primitive surface cell of the facet
    coordination = spec.hop_coordination or surface_coordination(surface_cell)
    plan = planned_production_steps(barrier_eV, temperature_K, n_adatoms, spec, coordination)
    production = plan["production_steps"]
    repeats = lateral_repeats(slab, spec.min_lateral_A)
    slab.make_supercell([repeats[0], repeats[1], 1])
    rng = np.random.default_rng([spec.seed, n_adatoms, int(round(temperature_K))])
    positions = _place_adatoms(slab, n_adatoms, rng)
    atoms = structure_to_atoms(slab)
    n_slab = len(atoms)
    fixed, top_layer = held_bottom_and_top_layer(atoms, spec.fixed_bottom_A, "md_diffusion", miller)
    for position in positions:
        atoms.append(Atom("Li", position))
    atoms.set_constraint(FixAtoms(indices=fixed) if fixed else None)
    atoms.calc = calc
    adatoms = np.arange(n_slab, len(atoms))
    mobile_slab = np.setdiff1d(np.arange(n_slab), fixed)
    masses = atoms.get_masses()[mobile_slab]
    com0 = np.average(atoms.positions[mobile_slab, :2], axis=0, weights=masses)
    thermalize_momenta(atoms, temperature_K, rng=rng)
    friction = adatom_friction(len(atoms), adatoms, spec.friction_per_fs / fs)
    dynamics = Langevin(
        atoms,
        spec.timestep_fs * fs,
        temperature_K=temperature_K,
        friction=friction,  # the slab is the heat bath; the adatoms move by velocity Verlet
        fixcm=False,  # the fixed bottom already pins the slab
        rng=rng,
    )
    guard = MdGuard.from_spec(atoms, spec.guard, np.sqrt(3.0) / 2.0 * lattice_constant_A, temperature_K)
    h0 = atoms.positions[adatoms, 2] - np.median(atoms.positions[top_layer, 2])

    total = spec.equilibration_steps + production
    samples: list[np.ndarray] = []
    heights: list[np.ndarray] = []
    temperatures: list[float] = []
    slab_temperatures: list[float] = []
    adatom_temperatures: list[float] = []
    frames: dict[str, list] = {"step": [], "positions_A": []}
    for step in range(1, total + 1):
        dynamics.run(1)
        if step % spec.guard.check_every == 0:
            guard.check(atoms, step)
        if step > spec.equilibration_steps and (step - spec.equilibration_steps) % spec.sample_every == 0:
            com = np.average(atoms.positions[mobile_slab, :2], axis=0, weights=masses)
            samples.append(atoms.positions[adatoms, :2] - com + com0)  # in the frame of the slab at the start
            heights.append(atoms.positions[adatoms, 2] - np.median(atoms.positions[top_layer, 2]))
            temperatures.append(float(atoms.get_temperature()))
            slab_temperatures.append(kinetic_temperature(atoms, mobile_slab))
            adatom_temperatures.append(kinetic_temperature(atoms, adatoms))
        if step % spec.trajectory_every == 0:
            frames["step"].append(step)
            frames["positions_A"].append(atoms.get_positions().tolist())

    thermostat_temperature = float(np.mean(slab_temperatures))
    result = {
        "temperature_K": float(temperature_K),
        "n_adatoms": int(n_adatoms),
        "n_atoms": len(atoms),
        "supercell": repeats,
        "n_fixed": len(fixed),
        "timestep_fs": spec.timestep_fs,
        "friction_per_fs": spec.friction_per_fs,
        "adatom_friction_per_fs": 0.0,
        "equilibration_steps": spec.equilibration_steps,
        **plan,
        "mean_temperature_K": float(np.mean(temperatures)),
        "thermostat_temperature_K": thermostat_temperature,
        "adatom_temperature_K": float(np.mean(adatom_temperatures)),
        "events": [],
        "trajectory": {
            "timestep_fs": spec.timestep_fs,
            "adatom_indices": adatoms.tolist(),
            "fixed_indices": list(fixed),
            "cell_A": atoms.cell.array.tolist(),
            **frames,
        },
    }
    sunk, desorbed = adatom_events(np.array(heights), h0)
    bad = np.flatnonzero((sunk | desorbed).any(axis=1))
    n_good = int(bad[0]) if len(bad) else len(samples)
    for i in adatoms - n_slab:
        for mask, what in ((sunk, "sank below the top atomic plane"), (desorbed, "desorbed")):
            hits = np.flatnonzero(mask[:, i])
            if len(hits):
                step = spec.equilibration_steps + (int(hits[0]) + 1) * spec.sample_every
                result["events"].append(f"adatom {int(adatoms[i])} {what} at step {step}")

    xy = unwrap_inplane(np.array(samples[:n_good]), atoms.cell.array) if n_good else np.zeros((0, n_adatoms, 2))
    if n_good:
        sites = residence_sites(xy, surface_cell)
        spacing = site_spacing(sites, surface_cell)
        hops = count_site_hops(xy, sites, surface_cell, spec.capture_fraction * spacing)
    else:
        sites, spacing = np.zeros((0, 2)), site_spacing(np.zeros((0, 2)), surface_cell)
        hops = {"n_hops": 0, "hops_per_adatom": [0] * n_adatoms, "hop_lengths_A": [], "hop_length_A": None}
    result |= {
        "sites_A": sites.tolist(),
        "surface_cell_A": surface_cell.tolist(),
        "site_spacing_A": spacing,
        "capture_radius_A": spec.capture_fraction * spacing,
        "n_hops": hops["n_hops"],
        "hops_per_adatom": hops["hops_per_adatom"],
        "hop_length_A": hops["hop_length_A"],
    }
    if analysable(n_good, spec.fit_window, spec.n_segments):  # else too short before the first event: no D
        result |= diffusion_coefficient_2d(xy, spec.sample_every * spec.timestep_fs, spec.fit_window, spec.n_segments)
    reasons = validity_reasons(
        hops["n_hops"],
        hops["hop_length_A"] or spacing,
        result["msd_A2"][-1] if "msd_A2" in result else None,
        thermostat_temperature,
        temperature_K,
        spec,
    )
    result["invalid_reasons"] = [*result["events"], *reasons]
    result["valid"] = not result["invalid_reasons"]
    result["wall_time_s"] = time.perf_counter() - start
    return result
