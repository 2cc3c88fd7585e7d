"""Adatom diffusion in a large cell: many adatoms far apart on a wide slab, D(T) from all their 2D MSDs.

The small-cell MD (:mod:`li_campaign.kinetics.md_diffusion`) follows one or three adatoms, so a
D needs long runs and its error is that of few walkers. Here one wide slab carries many adatoms
at low coverage, each further from the others than the model's receptive field, so that, while
they stay apart, no adatom's energy depends on another's position and the 2D MSD averages over all
of them. (The force on an adatom depends on atoms up to twice the receptive field away, through the
slab atoms between them; ``spacing_margin_A`` widens the gap where that matters.)

Method (:func:`large_cell_diffusion_md`, one facet, one temperature):

1. Cell (:func:`wide_slab`): the symmetric slab of the facet at the model's lattice constant
   (:func:`~li_campaign.geometry.slabs.make_symmetric_slab`) repeated in-plane to a square-ish
   cell of at least ``min_atoms`` slab atoms and ``min_lateral_A`` width; atoms within
   ``fixed_bottom_A`` of the bottom are fixed.
2. Adatoms (:func:`adatom_sites`): a grid of n_a × n_b points of the supercell, each moved to
   the nearest copy of the facet's deepest top-surface site (the one whose start height is
   lowest), so every adatom starts at an equivalent site; the grid is the one with the most
   points whose moved points are all at least the spacing rule, :func:`receptive_field_A` +
   ``spacing_margin_A``, apart (periodic images included). Start heights as in the small-cell MD
   (:func:`~li_campaign.geometry.slabs.adatom_start_position`, one bulk nearest-neighbour
   distance from the nearest slab atom).
3. NVT MD with the slab as the heat bath (friction on the mobile slab atoms, none on the
   adatoms), on one of two engines: ``torch_sim`` (:func:`li_campaign.batched.langevin.langevin_frames`,
   the model's torch-sim form on the worker's GPU) or ``ase`` (ASE's ``Langevin`` with a
   per-atom friction and ``FixAtoms``, as the small-cell MD). Every ``sample_every`` steps the
   run is checked (non-finite positions, a force above ``max_force_eV_A``, the kinetic
   temperature above ``max_temperature_factor`` × the target: the run stops with
   :class:`~li_campaign.core.errors.MdInstabilityError`), and in the production the adatoms'
   in-plane positions (relative to the in-plane drift of the mobile slab atoms), their heights
   above the top atomic plane and the slab's kinetic temperature are recorded.
4. Classification (:func:`classify_adatoms`): an adatom is left out if at any production sample
   it has sunk below the top plane or desorbed (:func:`~li_campaign.kinetics.md_diffusion.adatom_events`,
   the small-cell rule) or is closer in-plane than ``cluster_fraction`` × the bulk
   nearest-neighbour distance to another adatom (clustered: both are left out, and from then
   on they no longer walk alone). Each left-out adatom is counted once, under its first event
   (sunk before desorbed before clustered at the same sample).
5. D (:func:`analyse_adatoms`): the valid adatoms' in-plane paths are unwrapped
   (:func:`~li_campaign.kinetics.md_diffusion.unwrap_inplane`) and D ± its error is the
   block-segment fit of their 2D MSD (:func:`~li_campaign.kinetics.md_diffusion.diffusion_coefficient_2d`);
   hops are counted site to site (:func:`~li_campaign.kinetics.md_diffusion.count_site_hops`
   on the sites of :func:`~li_campaign.kinetics.md_diffusion.residence_sites`).

The speed of the run is recorded: atom-steps per second of the MD loop (model calls and
integration; the sampling and classification excluded) and the wall time per simulated
nanosecond.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import thermalize_momenta
from ase.units import fs, kB
from vesin import NeighborList

from li_campaign.core.errors import InputError, MdInstabilityError
from li_campaign.geometry.slabs import (
    adatom_start_position,
    inplane_minimum_image,
    lateral_repeats,
    make_symmetric_slab,
    nearest_neighbour_distance,
    top_surface_sites,
)
from li_campaign.kinetics.md_diffusion import (
    held_bottom_and_top_layer,
    adatom_events,
    analysable,
    count_site_hops,
    diffusion_coefficient_2d,
    residence_sites,
    site_spacing,
    unwrap_inplane,
)
from li_campaign.simulation.relax import structure_to_atoms

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from ase.calculators.calculator import Calculator
    from pymatgen.core.surface import Slab

    from li_campaign.schemas.spec import LargeCellDiffusionSpec

EXCLUSION_REASONS = ("sunk", "desorbed", "clustered")
"""Why an adatom is left out of D, in the order that decides between events at the same sample."""
CAPTURE_FRACTION = 0.3
"""A hop counts when the adatom comes within this × the site spacing of a new site (md_diffusion's default)."""


def receptive_field_A(architecture: str, r_max_A: float, num_layers: int) -> float:
    """How far an atom's energy depends on other atoms (Å): NequIP num_layers × r_max, Allegro r_max.

    Each NequIP message-passing layer reaches one cutoff further; Allegro's layers act on the
    edges of one atom's neighbourhood and do not widen it.

    Examples
    --------
    >>> receptive_field_A("nequip", 6.0, 3), receptive_field_A("allegro", 6.0, 3)
    (18.0, 6.0)
    """
    if architecture == "allegro":
        return float(r_max_A)
    if architecture == "nequip":
        return float(num_layers) * float(r_max_A)
    raise ValueError(f"architecture {architecture!r}: expected 'nequip' or 'allegro'")


def wide_slab(
    lattice_constant_A: float, miller: tuple[int, int, int], spec: LargeCellDiffusionSpec
) -> tuple[Slab, tuple[int, int]]:
    """The facet's symmetric slab (primitive surface cell) and the in-plane repeats of the large cell.

    The repeats are :func:`~li_campaign.geometry.slabs.lateral_repeats` of a width L, the larger
    of ``spec.min_lateral_A`` and the side of a square holding ``spec.min_atoms`` slab atoms,
    sqrt(min_atoms × area / atoms per cell); both widths of the cell reach L, so it holds at
    least ``min_atoms`` slab atoms.
    """
    slab = make_symmetric_slab(lattice_constant_A, tuple(miller), spec.min_slab_size_A, spec.min_vacuum_A)
    width = spec.min_lateral_A
    if spec.min_atoms is not None:
        matrix = slab.lattice.matrix
        area = abs(float(np.linalg.det(matrix[:2, :2])))
        width = max(width, float(np.sqrt(spec.min_atoms * area / len(slab))))
    return slab, lateral_repeats(slab, width)


def _min_separation(cell: np.ndarray, xy: np.ndarray) -> float:
    """Shortest in-plane minimum-image distance between two of the points ``xy`` (Å); inf for one point."""
    n = len(xy)
    if n < 2:
        return float("inf")
    i, j = np.triu_indices(n, 1)
    return float(np.min(np.linalg.norm(inplane_minimum_image(cell, xy[j] - xy[i]), axis=1)))


def adatom_sites(slab: Slab, repeats: tuple[int, int], spacing_A: float) -> np.ndarray:
    """Start positions of the adatoms on the repeated slab: a grid of equivalent deep sites ``spacing_A`` apart.

    Parameters
    ----------
    slab
        The facet's slab in its primitive surface cell.
    repeats
        In-plane repeats of the large cell.
    spacing_A
        Smallest in-plane distance between two adatoms, periodic images included (Å).

    Returns
    -------
    numpy.ndarray
        Cartesian positions (Å), shape (n_adatoms, 3), in the frame of the repeated slab.

    Raises
    ------
    InputError
        If the cell has no room for two adatoms that far apart.
    """
    prim = slab.lattice.matrix[:2, :2]
    bond = nearest_neighbour_distance(slab)
    patch = slab.copy()  # a few cells, for the triangulation of the site finder
    patch.make_supercell([*lateral_repeats(slab, 3.0 * bond), 1])
    candidates = [p for positions in top_surface_sites(patch).values() for p in positions]
    starts = [adatom_start_position(slab, np.asarray(p, dtype=float), bond) for p in candidates]
    deepest = min(starts, key=lambda position: position[2])
    big = prim * np.array(repeats, dtype=float)[:, None]
    area = abs(float(np.linalg.det(big)))
    widths = np.array([area / np.linalg.norm(big[1]), area / np.linalg.norm(big[0])])
    most = np.floor(widths / spacing_A + 1e-9).astype(int)
    grids = sorted(
        ((n_a, n_b) for n_a in range(1, most[0] + 1) for n_b in range(1, most[1] + 1) if n_a * n_b >= 2),
        key=lambda counts: (-counts[0] * counts[1], abs(counts[0] - counts[1])),
    )
    for n_a, n_b in grids:  # the most adatoms whose snapped grid keeps them spacing_A apart
        grid = np.array([[i / n_a, j / n_b] for i in range(n_a) for j in range(n_b)]) @ big
        steps = np.rint(np.linalg.solve(prim.T, (grid - deepest[:2]).T).T)  # the nearest copy of the deep site
        xy = deepest[:2] + steps @ prim
        if _min_separation(big, xy) >= spacing_A - 1e-9:
            break
    else:
        raise InputError(
            f"a {widths[0]:.1f} x {widths[1]:.1f} Å cell has no room for two adatoms {spacing_A:.1f} Å apart "
            "(receptive field + spacing_margin_A); raise large_cell_diffusion.min_atoms or min_lateral_A"
        )
    return np.column_stack([xy, np.full(len(xy), deepest[2])])


def classify_adatoms(
    xy: np.ndarray, heights_A: np.ndarray, start_heights_A: np.ndarray, cell: np.ndarray, cluster_distance_A: float
) -> dict:
    """Which adatoms stay valid over a run, and why the others are left out (module docstring, step 4).

    Parameters
    ----------
    xy
        In-plane positions, shape (n_samples, n_adatoms, 2) (Å), wrapped or not.
    heights_A
        Heights above the top atomic plane, shape (n_samples, n_adatoms) (Å).
    start_heights_A
        Starting heights, shape (n_adatoms,) (Å).
    cell
        Lattice matrix with a, b in the xy plane.
    cluster_distance_A
        Two adatoms closer in-plane than this (Å) at a sample have clustered.

    Returns
    -------
    dict
        ``valid`` (boolean mask, shape (n_adatoms,)), ``reason`` (per adatom: None or one of
        :data:`EXCLUSION_REASONS`), ``first_sample`` (per adatom: the sample of its first event,
        or None) and ``excluded`` (reason -> count, every reason present).
    """
    xy = np.asarray(xy, dtype=float)
    n_samples, n_adatoms = xy.shape[:2]
    sunk, desorbed = adatom_events(heights_A, start_heights_A)
    clustered = np.zeros((n_samples, n_adatoms), dtype=bool)
    box = np.zeros((3, 3))
    box[:2, :2] = np.asarray(cell, dtype=float)[:2, :2]
    box[2, 2] = 1.0  # the points lie in a plane; z is not periodic
    neighbours = NeighborList(cutoff=cluster_distance_A, full_list=False)
    for k in range(n_samples):
        points = np.column_stack([xy[k], np.zeros(n_adatoms)])
        i, j = neighbours.compute(points, box, periodic=[True, True, False], quantities="ij")
        clustered[k, i] = clustered[k, j] = True
    reason: list[str | None] = [None] * n_adatoms
    first: list[int | None] = [None] * n_adatoms
    for atom in range(n_adatoms):
        for name, mask in zip(EXCLUSION_REASONS, (sunk, desorbed, clustered)):
            hits = np.flatnonzero(mask[:, atom])
            if len(hits) and (first[atom] is None or hits[0] < first[atom]):
                reason[atom], first[atom] = name, int(hits[0])
    return {
        "valid": np.array([r is None for r in reason], dtype=bool),
        "reason": reason,
        "first_sample": first,
        "excluded": {name: reason.count(name) for name in EXCLUSION_REASONS},
    }


def analyse_adatoms(
    xy: np.ndarray,
    valid: np.ndarray,
    cell: np.ndarray,
    surface_cell: np.ndarray,
    dt_fs: float,
    fit_window: tuple[float, float],
    n_segments: int,
) -> dict:
    """D ± its error and the site-to-site hops of the valid adatoms (module docstring, step 5).

    Parameters
    ----------
    xy
        In-plane positions in the frame of the slab, shape (n_samples, n_adatoms, 2) (Å), wrapped or not.
    valid
        Boolean mask of the adatoms that enter, shape (n_adatoms,).
    cell
        Lattice matrix of the large cell (a, b in the xy plane): the unwrapping.
    surface_cell
        The facet's primitive in-plane cell (Å): the stable sites of the hop count.
    dt_fs
        Time between samples (fs).
    fit_window, n_segments
        As in :func:`~li_campaign.kinetics.md_diffusion.diffusion_coefficient_2d`.

    Returns
    -------
    dict
        The fields of :func:`~li_campaign.kinetics.md_diffusion.diffusion_coefficient_2d` (none when
        no adatom is valid or the run is too short to analyse), ``n_hops``, ``hop_length_A``,
        ``site_spacing_A`` and ``invalid_reasons`` (why there is no D; empty when there is one).
    """
    xy = np.asarray(xy, dtype=float)
    valid = np.asarray(valid, dtype=bool)
    if not valid.any():
        return {"n_hops": 0, "hop_length_A": None, "site_spacing_A": None, "invalid_reasons": ["no valid adatom"]}
    paths = unwrap_inplane(xy[:, valid], cell)
    sites = residence_sites(paths, surface_cell)
    spacing = site_spacing(sites, surface_cell)
    hops = count_site_hops(paths, sites, surface_cell, CAPTURE_FRACTION * spacing)
    out: dict = {"n_hops": hops["n_hops"], "hop_length_A": hops["hop_length_A"], "site_spacing_A": spacing}
    if not analysable(len(paths), fit_window, n_segments):
        return {**out, "invalid_reasons": [f"{len(paths)} samples: too short to analyse in {n_segments} segments"]}
    return {**out, **diffusion_coefficient_2d(paths, dt_fs, fit_window, n_segments), "invalid_reasons": []}


def build_cell(
    lattice_constant_A: float, miller: tuple[int, int, int], spacing_A: float, spec: LargeCellDiffusionSpec
) -> tuple[Atoms, dict]:
    """The large cell: the repeated slab with its adatoms appended last, bottom atoms fixed (``FixAtoms``).

    Returns
    -------
    tuple
        The atoms (no calculator) and a dict of ``n_slab_atoms``, ``supercell``, ``fixed``
        (indices), ``adatoms`` (indices), ``top_layer`` (indices of the slab's top atomic plane),
        ``surface_cell`` (the primitive in-plane cell, Å) and ``start_heights_A`` (above the top plane).

    Raises
    ------
    InputError
        If the cell has no room for two adatoms ``spacing_A`` apart, or every slab atom is fixed.
    """
    slab, repeats = wide_slab(lattice_constant_A, miller, spec)
    positions = adatom_sites(slab, repeats, spacing_A)
    atoms = structure_to_atoms(slab).repeat((repeats[0], repeats[1], 1))
    n_slab = len(atoms)
    fixed, top = held_bottom_and_top_layer(atoms, spec.fixed_bottom_A, "large_cell_diffusion", miller)
    z = atoms.positions[:, 2]
    atoms += Atoms("Li" * len(positions), positions=positions)
    atoms.set_constraint(FixAtoms(indices=fixed) if fixed else None)
    return atoms, {
        "n_slab_atoms": n_slab,
        "supercell": repeats,
        "fixed": np.asarray(fixed, dtype=int),
        "adatoms": np.arange(n_slab, len(atoms)),
        "top_layer": top,
        "surface_cell": slab.lattice.matrix[:2, :2].copy(),
        "start_heights_A": positions[:, 2] - float(np.median(z[top])),
    }


def ase_frames(
    atoms: Atoms, calc: Calculator, friction_per_fs: np.ndarray, temperature_K: float, timestep_fs: float,
    n_steps: int, every: int, seed: int,
) -> Iterator[tuple[int, np.ndarray, np.ndarray, float]]:
    """The ``ase`` engine: ASE Langevin with a per-atom friction (1/fs) and the atoms' constraints.

    Yields what :func:`li_campaign.batched.langevin.langevin_frames` yields: after every
    ``every`` steps the step, positions, velocities and the largest force (fixed atoms have none).
    """
    rng = np.random.default_rng(seed)
    atoms.calc = calc
    thermalize_momenta(atoms, temperature_K, rng=rng)
    dynamics = Langevin(
        atoms, timestep_fs * fs, temperature_K=temperature_K, friction=np.asarray(friction_per_fs)[:, None] / fs,
        fixcm=False, rng=rng,
    )
    for step in range(every, n_steps + 1, every):
        dynamics.run(every)
        yield step, atoms.get_positions(), atoms.get_velocities(), float(np.linalg.norm(atoms.get_forces(), axis=1).max())


def _temperature(velocities: np.ndarray, masses: np.ndarray) -> float:
    """Kinetic temperature (K) of atoms with these velocities (ASE units) and masses (amu), 3 degrees of freedom each."""
    return float(np.sum(masses[:, None] * velocities**2) / (3.0 * len(masses) * kB))


def large_cell_diffusion_md(
    frames: Callable[[Atoms, np.ndarray, np.ndarray], Iterator[tuple[int, np.ndarray, np.ndarray, float]]],
    lattice_constant_A: float,
    miller: tuple[int, int, int],
    temperature_K: float,
    spacing_A: float,
    spec: LargeCellDiffusionSpec,
) -> dict:
    """NVT MD of a wide slab with many adatoms at one temperature; D from the valid adatoms (module docstring).

    Parameters
    ----------
    frames
        The engine: ``frames(atoms, friction_per_fs, fixed)`` runs the MD of ``atoms`` (per-atom
        friction in 1/fs; ``fixed``, the boolean mask of the atoms their ``FixAtoms`` holds) for
        ``spec.equilibration_steps + spec.production_steps`` steps at ``temperature_K`` and yields
        every ``spec.sample_every`` steps (:func:`ase_frames`, :func:`li_campaign.batched.langevin.langevin_frames`).
    lattice_constant_A
        bcc lattice constant of the model (Å).
    miller
        Facet.
    temperature_K
        Thermostat temperature (K).
    spacing_A
        Smallest start distance between adatoms (Å): the receptive field plus the margin.
    spec
        Cell, MD and analysis settings.

    Returns
    -------
    dict
        The fields of :class:`~li_campaign.schemas.kinetics.LargeCellDiffusionDoc` except
        ``facet``, ``miller_index``, the engine fields and ``provenance``.

    Raises
    ------
    MdInstabilityError
        If positions become non-finite, a force exceeds ``spec.max_force_eV_A`` or the kinetic
        temperature exceeds ``spec.max_temperature_factor`` × ``temperature_K``.
    InputError
        If the cell has no room for two adatoms, or every slab atom is fixed.
    """
    start = time.perf_counter()
    atoms, layout = build_cell(lattice_constant_A, miller, spacing_A, spec)
    adatoms, top, fixed = layout["adatoms"], layout["top_layer"], layout["fixed"]
    cell = atoms.cell.array
    mobile = np.setdiff1d(np.arange(layout["n_slab_atoms"]), fixed)
    moving = np.setdiff1d(np.arange(len(atoms)), fixed)
    masses = atoms.get_masses()
    friction = np.zeros(len(atoms))
    friction[mobile] = spec.friction_per_fs
    reference = atoms.positions[mobile].copy()
    total = spec.equilibration_steps + spec.production_steps
    limit_K = spec.max_temperature_factor * temperature_K

    xy: list[np.ndarray] = []
    heights: list[np.ndarray] = []
    slab_temperatures: list[float] = []
    last_good: tuple[int, np.ndarray] | None = None
    bookkeeping = 0.0
    md_start = time.perf_counter()
    held = np.zeros(len(atoms), dtype=bool)
    held[fixed] = True
    for step, positions, velocities, max_force in frames(atoms, friction, held):
        tick = time.perf_counter()
        temperature = _temperature(velocities[moving], masses[moving])
        problem = None
        if not np.all(np.isfinite(positions)):
            problem = ("non_finite", "positions are not finite")
        elif max_force > spec.max_force_eV_A:
            problem = ("max_force", f"a force of {max_force:.3g} eV/Å (limit {spec.max_force_eV_A:g} eV/Å): extrapolating")
        elif temperature > limit_K:
            problem = ("temperature", f"kinetic temperature {temperature:.0f} K (limit {limit_K:.0f} K)")
        if problem is not None:
            good = None
            if last_good is not None:
                good = atoms.copy()
                good.set_constraint()
                good.positions = last_good[1]
            raise MdInstabilityError(*problem, step, good, None if last_good is None else last_good[0])
        last_good = (step, positions)
        if step > spec.equilibration_steps:
            drift = inplane_minimum_image(cell, positions[mobile] - reference).mean(axis=0)
            xy.append(positions[adatoms, :2] - drift)  # in the frame of the slab at the start
            heights.append(positions[adatoms, 2] - float(np.median(positions[top, 2])))
            slab_temperatures.append(_temperature(velocities[mobile], masses[mobile]))
        bookkeeping += time.perf_counter() - tick
    md_wall = time.perf_counter() - md_start - bookkeeping

    samples = np.array(xy)
    bulk_nn = np.sqrt(3.0) / 2.0 * lattice_constant_A
    classes = classify_adatoms(samples, np.array(heights), layout["start_heights_A"], cell, spec.cluster_fraction * bulk_nn)
    dt_fs = spec.sample_every * spec.timestep_fs
    analysis = analyse_adatoms(samples, classes["valid"], cell, layout["surface_cell"], dt_fs, spec.fit_window, spec.n_segments)
    excluded_adatoms = [
        f"adatom {int(adatoms[i])} {reason} at step {spec.equilibration_steps + (sample + 1) * spec.sample_every}"
        for i, (reason, sample) in enumerate(zip(classes["reason"], classes["first_sample"]))
        if reason is not None
    ]
    simulated_ns = total * spec.timestep_fs * 1e-6
    return {
        "temperature_K": float(temperature_K),
        "n_atoms": len(atoms),
        "n_slab_atoms": layout["n_slab_atoms"],
        "supercell": layout["supercell"],
        "n_fixed": len(fixed),
        "cell_A": cell.tolist(),
        "adatom_spacing_A": float(spacing_A),
        "n_adatoms": len(adatoms),
        "n_valid": int(classes["valid"].sum()),
        "excluded": classes["excluded"],
        "excluded_adatoms": excluded_adatoms,
        "timestep_fs": spec.timestep_fs,
        "friction_per_fs": spec.friction_per_fs,
        "equilibration_steps": spec.equilibration_steps,
        "production_steps": spec.production_steps,
        "sample_every": spec.sample_every,
        "thermostat_temperature_K": float(np.mean(slab_temperatures)),
        **analysis,
        "valid": not analysis["invalid_reasons"],
        "md_wall_time_s": md_wall,
        "atom_steps_per_s": len(atoms) * total / md_wall,
        "wall_time_per_ns_s": md_wall / simulated_ns,
        "wall_time_s": time.perf_counter() - start,
    }
