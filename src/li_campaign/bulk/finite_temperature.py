"""Bulk bcc Li at finite temperature from Langevin MD: a(T), isothermal Cij(T) and C_V.

Method, for one temperature T (:func:`finite_temperature_properties`):

1. **NPT** (run ``npt``): ASE's :class:`~ase.md.langevinbaoab.LangevinBAOAB`, BAOAB Langevin
   dynamics of the atoms with an isotropic Langevin–Hoover piston on the cell (Quigley &
   Probert, J. Chem. Phys. 120, 11432 (2004)), from the perfect n×n×n supercell at the model's
   static lattice constant. The production average of a(t) = V(t)^{1/3}/n is a(T).
2. **NVT** at the mean NPT cell (cubic, lattice constant a(T)), each run starting from the last
   NPT snapshot scaled affinely to its cell: the unstrained run ``nvt`` (heat capacity, residual
   pressure) and, for each of the first ``strain_axes`` cubic axes k, the runs ``nvt_k+`` and
   ``nvt_k-`` under the symmetric deformation F = 1 + e with e_kk = ±δ and e_ij = e_ji = ±δ/2
   (i, j the two other axes), i.e. normal strain ±δ and **engineering** shear strain γ_ij = ±δ.

Elastic constants. ASE's stress is (1/V) ∂E/∂ε, positive in tension, so C = +Δσ/Δε; the
kinetic (ideal-gas) term is included (``include_ideal_gas=True``). With cubic symmetry a normal
and a shear strain do not couple at linear order, so one deformation per axis gives all three
constants, and second-order cross terms cancel in the central difference (Voigt notation)::

    C11 = [σ_kk(+) − σ_kk(−)] / 2δ,   C12 = [σ_ii(+) − σ_ii(−)] / 2δ  (and jj),
    C44 = [σ_ij(+) − σ_ij(−)] / 2δ.

Values from the strained axes are averaged (cubic averaging). The two runs of an axis start from
the same snapshot with the same Langevin noise (common random numbers), so most thermal noise
cancels in their difference; the errors are block errors of the per-step difference series,
which accounts for that correlation. The constants are isothermal (ultrasound measures adiabatic
ones; C44 is the same in both).

Heat capacity. C_V = Var(E_pot + E_kin) / (N k_B T²) of the unstrained canonical run. The
Langevin thermostat also thermalises the centre of mass, which has no restoring force, so the
classical harmonic value is (3N − 3/2) k_B, i.e. 3 − 3/(2N) k_B per atom.

Errors are standard errors from block averaging (:func:`block_average`, written here: none of
ASE, numpy or scipy provides it). Convergence checks, per observable: the drift between the
first and second half of the production and the block error with half as many (twice as long)
blocks.

Stability. Every ``spec.guard.check_every`` steps each run is checked by
:class:`~li_campaign.simulation.md_guard.MdGuard` (closest pair against a fraction of the
bcc nearest-neighbour distance √3/2·a at the static lattice constant, kinetic temperature,
energy drift, largest force); a run that crosses a limit raises
:class:`~li_campaign.simulation.md_guard.MdInstabilityError` with the run's name, and the
Maker stores a flagged document instead of a result.

Restart. Each run writes ``<workdir>/ft_<T>K_<run>.npz`` every ``checkpoint_every`` steps
(positions, momenta, cell, piston momentum and force, the Langevin generator's state, the step
and the recorded series), written atomically. Called again in the same directory, a run continues from
its checkpoint and gives the same trajectory as an uninterrupted run, bit for bit with a
deterministic calculator; a finished run's checkpoint is its result and is not rerun. A checkpoint
of another calculation (other temperature, lattice constant or MD settings) is refused with a
``ValueError`` naming the file.

Unusable checkpoints are set aside, not trusted and not fatal. A checkpoint that cannot be read back
(truncated, overwritten, arrays missing or of the wrong shape, non-finite coordinates) is renamed to
``<name>.npz.damaged`` (``.damaged-2``, ... if that exists), never deleted, and its run starts again
from step 0 with a logged warning. This is sound because a run from scratch is fully determined by
the spec (the same start, the same Langevin seeds): the result is that of an uninterrupted run, only
the MD time is spent again. An NVT checkpoint whose cell is not the cell that run would start from
now (its NPT run was rerun, with a calculator that is not bit-for-bit deterministic, or the NPT
checkpoint was removed) is set aside the same way as ``<name>.npz.stale``, so the NVT runs always
belong to the NPT run whose a(T) is reported. Each such run is named in the document's ``restarts``.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from ase.md.langevinbaoab import LangevinBAOAB
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.units import GPa, fs, kB

from li_campaign.core.lithium import bcc_li_conventional
from li_campaign.simulation.md_guard import MdGuard, MdInstabilityError
from li_campaign.simulation.relax import structure_to_atoms

if TYPE_CHECKING:
    from ase import Atoms
    from ase.calculators.calculator import Calculator

    from li_campaign.schemas.spec import FiniteTemperatureSpec

AXES = "xyz"
_NPZ_MAGIC = b"PK\x03\x04"  # an .npz checkpoint is a zip archive

logger = logging.getLogger(__name__)


class UnusableCheckpointError(Exception):
    """A checkpoint that cannot be resumed from; ``suffix`` is the one it is set aside with."""

    def __init__(self, reason: str, suffix: str = ".damaged"):
        super().__init__(reason)
        self.suffix = suffix


def block_average(series: np.ndarray, n_blocks: int) -> tuple[float, float]:
    """Mean of a time series and its standard error from ``n_blocks`` equal blocks.

    The series is cut into ``n_blocks`` consecutive blocks of equal length (the first
    ``len(series) % n_blocks`` samples, nearest the equilibration, are dropped); the error is
    the standard deviation of the block means over √n_blocks. It is trustworthy when a block
    is much longer than the correlation time of the series.

    Parameters
    ----------
    series
        Samples in time order, shape (n,) or (n, m) (then per column).
    n_blocks
        Number of blocks, at least 2 and at most ``len(series)``.

    Returns
    -------
    tuple
        (mean, standard error), floats or arrays of shape (m,).
    """
    series = np.asarray(series, dtype=float)
    if not 2 <= n_blocks <= len(series):
        raise ValueError(f"block_average: n_blocks = {n_blocks} must lie in [2, {len(series)}] (series length)")
    length = len(series) // n_blocks
    means = series[len(series) - n_blocks * length :].reshape(n_blocks, length, *series.shape[1:]).mean(axis=1)
    return means.mean(axis=0), means.std(axis=0, ddof=1) / np.sqrt(n_blocks)


def observable_statistics(series: np.ndarray, n_blocks: int) -> dict[str, float]:
    """Block statistics and convergence checks of one observable.

    Returns
    -------
    dict
        The fields of :class:`~li_campaign.schemas.bulk.ObservableConvergence`: value and
        error (``n_blocks`` blocks), relative error, the error with ``n_blocks // 2`` blocks,
        the averages of the two halves and their difference in combined block errors.
    """
    value, error = block_average(series, n_blocks)
    half = len(series) // 2
    half_blocks = max(n_blocks // 2, 2)
    first, first_err = block_average(series[:half], half_blocks)
    second, second_err = block_average(series[half:], half_blocks)
    combined = float(np.hypot(first_err, second_err))
    gap = abs(first - second)
    return {
        "value": float(value),
        "error": float(error),
        "relative_error": float(error / abs(value)) if value != 0 else float("inf"),
        "error_long_blocks": float(block_average(series, half_blocks)[1]),
        "first_half": float(first),
        "second_half": float(second),
        "drift_sigma": float(gap / combined) if combined > 0 else (0.0 if gap == 0 else float("inf")),
    }


def strain_deformation(axis: int, delta: float) -> np.ndarray:
    """Deformation gradient F = 1 + e with e_kk = δ and e_ij = e_ji = δ/2 (engineering shear γ_ij = δ).

    ``k = axis``; ``i, j`` are the two other cubic axes. For an ASE cell (lattice vectors as
    rows) the deformed cell is ``cell @ F`` (F is symmetric).
    """
    i, j = (a for a in range(3) if a != axis)
    e = np.zeros((3, 3))
    e[axis, axis] = delta
    e[i, j] = e[j, i] = delta / 2.0
    return np.eye(3) + e


@dataclass
class _Run:
    """State and recorded series of one MD run (production series, trajectory frames)."""

    atoms: Atoms
    step: int = 0
    done: bool = False
    p_eps: float = 0.0
    force_eps: float = 0.0
    rng_state: dict | None = None
    series: dict[str, list] = field(default_factory=lambda: {"epot": [], "ekin": [], "volume": [], "stress": []})
    frames: dict[str, list] = field(
        default_factory=lambda: {"step": [], "cell": [], "positions": [], "epot": [], "stress": []}
    )
    resumed_at: int | None = None
    steps_run: int = 0
    set_aside: str | None = None  # why and where an unusable checkpoint was moved

    def array(self, key: str) -> np.ndarray:
        return np.asarray(self.series[key], dtype=float)


def _save(path: Path, run: _Run, fingerprint: dict) -> None:
    meta = {
        "fingerprint": fingerprint,
        "step": run.step,
        "done": run.done,
        "p_eps": run.p_eps,
        "force_eps": run.force_eps,
        "rng": run.rng_state,
    }
    tmp = path.with_name(path.name + ".tmp")
    natoms = len(run.atoms)
    with open(tmp, "wb") as handle:
        np.savez(
            handle,
            meta=np.array(json.dumps(meta)),
            positions=run.atoms.get_positions(),
            momenta=run.atoms.get_momenta(),
            cell=run.atoms.cell.array,
            **{
                f"series_{k}": np.asarray(v, dtype=float).reshape(len(v), 6 if k == "stress" else 1)
                for k, v in run.series.items()
            },
            frames_step=np.asarray(run.frames["step"], dtype=int),
            frames_cell=np.asarray(run.frames["cell"], dtype=float).reshape(-1, 3, 3),
            frames_positions=np.asarray(run.frames["positions"], dtype=float).reshape(-1, natoms, 3),
            frames_epot=np.asarray(run.frames["epot"], dtype=float),
            frames_stress=np.asarray(run.frames["stress"], dtype=float).reshape(-1, 6),
        )
    os.replace(tmp, path)


def _load(
    path: Path, run: _Run, fingerprint: dict, equilibration: int, total: int, start_cell: np.ndarray | None
) -> None:
    """Restore ``run`` from its checkpoint; ``run`` is left as it was if anything is wrong.

    Parameters
    ----------
    path, run, fingerprint
        The checkpoint, the run to restore, and the calculation the checkpoint must belong to.
    equilibration, total
        The run's equilibration and total steps (the recorded series start after equilibration).
    start_cell
        For an NVT run, the cell it starts from (and keeps); ``None`` for NPT.

    Raises
    ------
    ValueError
        If the checkpoint belongs to another calculation (kept: it is not this run's to set aside).
    UnusableCheckpointError
        If the checkpoint cannot be read back, or (an NVT run) started from another cell.
    """
    try:
        with open(path, "rb") as handle:
            if handle.read(len(_NPZ_MAGIC)) != _NPZ_MAGIC:
                raise UnusableCheckpointError("unreadable: not an .npz archive (no zip header)")
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {key: np.asarray(data[key]) for key in data.files if key != "meta"}
        other = meta["fingerprint"]
        step, done, rng_state = int(meta["step"]), bool(meta["done"]), meta["rng"]
        p_eps, force_eps = float(meta["p_eps"]), float(meta["force_eps"])
    except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise UnusableCheckpointError(f"unreadable: {type(exc).__name__}: {exc}") from None
    if other != fingerprint:
        raise ValueError(
            f"checkpoint {path} belongs to another calculation ({other}, not {fingerprint}): "
            "delete it or run in another directory"
        )
    natoms, n_series = len(run.atoms), max(0, step - equilibration)
    n_frames = len(arrays.get("frames_step", ()))
    shapes = {
        "positions": (natoms, 3),
        "momenta": (natoms, 3),
        "cell": (3, 3),
        **{f"series_{key}": (n_series, 6 if key == "stress" else 1) for key in run.series},
        "frames_step": (n_frames,),
        "frames_cell": (n_frames, 3, 3),
        "frames_positions": (n_frames, natoms, 3),
        "frames_epot": (n_frames,),
        "frames_stress": (n_frames, 6),
    }
    wrong = [
        f"{key} {arrays[key].shape if key in arrays else 'missing'}, not {shape}"
        for key, shape in shapes.items()
        if key not in arrays or arrays[key].shape != shape
    ]
    if not 0 <= step <= total or done != (step == total):
        wrong.append(f"step {step} (done={done}) of {total}")
    if not wrong and not all(np.isfinite(arrays[key]).all() for key in ("positions", "momenta", "cell")):
        wrong.append("non-finite positions, momenta or cell")
    try:
        np.random.default_rng().bit_generator.state = rng_state
    except (TypeError, ValueError, KeyError) as exc:
        wrong.append(f"random generator state: {exc}")
    if wrong:
        raise UnusableCheckpointError(f"inconsistent: {'; '.join(wrong)}")
    if start_cell is not None and not np.array_equal(arrays["cell"], start_cell):
        raise UnusableCheckpointError("started from another cell (its NPT run was run again since)", suffix=".stale")
    run.atoms.set_cell(arrays["cell"], scale_atoms=False)
    run.atoms.set_positions(arrays["positions"])
    run.atoms.set_momenta(arrays["momenta"])
    for key in run.series:
        column = arrays[f"series_{key}"]
        run.series[key] = list(column[:, 0] if key != "stress" else column)
    for key in run.frames:
        run.frames[key] = list(arrays[f"frames_{key}"])
    run.step, run.done, run.rng_state = step, done, rng_state
    run.p_eps, run.force_eps = p_eps, force_eps


def _set_aside(path: Path, error: UnusableCheckpointError) -> str:
    """Rename an unusable checkpoint (never overwriting an earlier one); return what was done."""
    target = path.with_name(path.name + error.suffix)
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}{error.suffix}-{n}")
    os.replace(path, target)
    logger.warning("checkpoint %s: %s; set aside as %s, the run starts again from step 0", path, error, target.name)
    return f"checkpoint {error}; set aside as {target.name}, run from step 0"


def _dynamics(atoms: Atoms, temperature_K: float, spec: FiniteTemperatureSpec, npt: bool, rng: np.random.Generator):
    kwargs = {"temperature_K": temperature_K, "T_tau": spec.thermostat_tau_fs * fs, "rng": rng}
    if npt:
        # LangevinBAOAB's external stress is minus the pressure
        kwargs |= {"externalstress": -spec.pressure_GPa * GPa, "hydrostatic": True, "P_tau": spec.barostat_tau_fs * fs}
    with warnings.catch_warnings():  # ASE warns that it picks the piston mass by its own heuristic
        warnings.filterwarnings("ignore", message="Using heuristic P_mass")
        return LangevinBAOAB(atoms, spec.timestep_fs * fs, **kwargs)


def _run_md(
    name: str,
    atoms: Atoms,
    temperature_K: float,
    spec: FiniteTemperatureSpec,
    npt: bool,
    workdir: Path,
    fingerprint: dict,
) -> _Run:
    """Run (or resume, or read back) one MD run with checkpoints; ``atoms`` is its start."""
    equilibration = spec.npt_equilibration_steps if npt else spec.nvt_equilibration_steps
    total = equilibration + (spec.npt_production_steps if npt else spec.nvt_production_steps)
    path = workdir / f"ft_{temperature_K:g}K_{name}.npz"
    fingerprint = {**fingerprint, "run": name}
    run = _Run(atoms=atoms)
    rng = np.random.default_rng([spec.seed, 1 if npt else 2])  # the same noise in every NVT run
    if path.exists():
        try:
            _load(path, run, fingerprint, equilibration, total, None if npt else atoms.cell.array.copy())
        except UnusableCheckpointError as exc:
            run.set_aside = _set_aside(path, exc)
        else:
            if run.done:
                return run
            rng.bit_generator.state = run.rng_state
            run.resumed_at = run.step
    dyn = _dynamics(atoms, temperature_K, spec, npt, rng)
    nearest_neighbour = np.sqrt(3.0) / 2.0 * fingerprint["lattice_constant_0K_A"]
    guard = MdGuard.from_spec(atoms, spec.guard, nearest_neighbour, temperature_K)
    if npt and run.resumed_at is not None:
        # the piston force of the last step used the velocities before its final half kick,
        # so it cannot be recomputed from the saved momenta
        dyn.p_eps, dyn.force_eps = run.p_eps, run.force_eps
    while run.step < total:
        dyn.step()
        run.step += 1
        run.steps_run += 1
        epot = atoms.get_potential_energy()
        stress = atoms.get_stress(include_ideal_gas=True)
        if run.step % spec.guard.check_every == 0:
            try:
                guard.check(atoms, run.step)
            except MdInstabilityError as exc:
                exc.reason = f"{name} run at {temperature_K:g} K: {exc.reason}"
                raise
        if run.step > equilibration:
            run.series["epot"].append(epot)
            run.series["ekin"].append(atoms.get_kinetic_energy())
            run.series["volume"].append(atoms.get_volume())
            run.series["stress"].append(stress)
        if run.step % spec.trajectory_every == 0:
            run.frames["step"].append(run.step)
            run.frames["cell"].append(atoms.cell.array.copy())
            run.frames["positions"].append(atoms.get_positions())
            run.frames["epot"].append(epot)
            run.frames["stress"].append(stress)
        if run.step % spec.checkpoint_every == 0 or run.step == total:
            run.done = run.step == total
            if npt:
                run.p_eps, run.force_eps = float(dyn.p_eps), float(dyn.force_eps)
            run.rng_state = rng.bit_generator.state
            _save(path, run, fingerprint)
    return run


def _trajectory(runs: dict[str, _Run], spec: FiniteTemperatureSpec) -> dict:
    out = {"timestep_fs": spec.timestep_fs, "runs": {}}
    for name, run in runs.items():
        frames = run.frames
        out["runs"][name] = {
            "equilibration_steps": spec.npt_equilibration_steps if name == "npt" else spec.nvt_equilibration_steps,
            "step": np.asarray(frames["step"], dtype=int).tolist(),
            "cell_A": np.asarray(frames["cell"]).tolist(),
            "positions_A": np.asarray(frames["positions"]).tolist(),
            "potential_energy_eV": np.asarray(frames["epot"]).tolist(),
            "stress_GPa": (np.asarray(frames["stress"]) / GPa).tolist(),
        }
    return out


def _elastic_series(runs: dict[str, _Run], spec: FiniteTemperatureSpec) -> dict[str, np.ndarray]:
    """Per-step C11, C12, C44 and B (GPa) from the ± runs, averaged over the strained axes."""
    c11, c12, c44 = [], [], []
    for k in range(spec.strain_axes):
        i, j = (a for a in range(3) if a != k)
        plus = runs[f"nvt_{AXES[k]}+"].array("stress")
        minus = runs[f"nvt_{AXES[k]}-"].array("stress")
        slope = (plus - minus) / (2.0 * spec.strain) / GPa
        c11.append(slope[:, k])
        c12.append(0.5 * (slope[:, i] + slope[:, j]))
        c44.append(slope[:, 3 + k])  # Voigt order xx yy zz yz xz xy: shear of axis k is 3 + k
    series = {"C11_GPa": np.mean(c11, axis=0), "C12_GPa": np.mean(c12, axis=0), "C44_GPa": np.mean(c44, axis=0)}
    series["bulk_modulus_GPa"] = (series["C11_GPa"] + 2.0 * series["C12_GPa"]) / 3.0
    return series


def finite_temperature_properties(
    calc: Calculator,
    lattice_constant_A: float,
    temperature_K: float,
    spec: FiniteTemperatureSpec,
    workdir: str | Path = ".",
) -> dict:
    """Lattice constant, elastic constants and heat capacity of bcc Li at one temperature.

    Parameters
    ----------
    calc
        ASE calculator giving energy, forces and stress.
    lattice_constant_A
        Static (0 K) lattice constant of the calculator's bcc Li (Å), the start of the NPT run.
    temperature_K
        Temperature (K).
    spec
        Supercell, MD lengths, strain, errors, checkpoints (see the module docstring).
    workdir
        Directory of the checkpoints; calling again in the same directory resumes.

    Returns
    -------
    dict
        The fields of :class:`~li_campaign.schemas.bulk.FiniteTemperatureDoc` except
        ``provenance``; ``trajectory`` holds the frames of every run.

    Examples
    --------
    >>> from ase.calculators.morse import MorsePotential
    >>> from li_campaign.schemas.spec import FiniteTemperatureSpec
    >>> calc = MorsePotential(epsilon=0.2, r0=3.0, rho0=3.5, rcut1=1.2, rcut2=1.5)
    >>> spec = FiniteTemperatureSpec(supercell=2, strain_axes=1, npt_equilibration_steps=100,
    ...     npt_production_steps=100, nvt_equilibration_steps=20, nvt_production_steps=100)
    >>> out = finite_temperature_properties(calc, 3.32, 50.0, spec, workdir=tmp_path)  # doctest: +SKIP
    """
    start = time.perf_counter()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    n = spec.supercell
    fingerprint = {
        "temperature_K": temperature_K,
        "lattice_constant_0K_A": lattice_constant_A,
        "spec": spec.model_dump(mode="json", exclude={"temperatures_K", "checkpoint_every", "trajectory_every", "guard"}),
    }

    atoms = structure_to_atoms(bcc_li_conventional(lattice_constant_A)).repeat((n, n, n))
    natoms = len(atoms)
    atoms.calc = calc
    thermalize_momenta(atoms, temperature_K, rng=np.random.default_rng([spec.seed, 0]))
    Stationary(atoms)
    runs = {"npt": _run_md("npt", atoms, temperature_K, spec, True, workdir, fingerprint)}
    lattice = runs["npt"].array("volume") ** (1.0 / 3.0) / n
    a_mean = float(np.mean(block_average(lattice, spec.n_blocks)[0]))

    reference = np.eye(3) * a_mean * n
    cells = {"nvt": reference}
    for k in range(spec.strain_axes):
        for sign, label in ((1.0, "+"), (-1.0, "-")):
            cells[f"nvt_{AXES[k]}{label}"] = reference @ strain_deformation(k, sign * spec.strain)
    for name, cell in cells.items():
        start_atoms = runs["npt"].atoms.copy()
        start_atoms.set_cell(cell, scale_atoms=True)
        start_atoms.calc = calc
        runs[name] = _run_md(name, start_atoms, temperature_K, spec, False, workdir, fingerprint)

    nb = spec.n_blocks
    stats = {"lattice_constant_A": observable_statistics(lattice, nb)}
    elastic = _elastic_series(runs, spec)
    stats |= {key: observable_statistics(elastic[key], nb) for key in ("C11_GPa", "C12_GPa", "C44_GPa")}
    bulk_modulus, bulk_modulus_err = block_average(elastic["bulk_modulus_GPa"], nb)
    unstrained = runs["nvt"]
    energy = unstrained.array("epot") + unstrained.array("ekin")
    fluctuation = (energy - energy.mean()) ** 2 / (natoms * (kB * temperature_K) ** 2)
    stats["heat_capacity_kB_per_atom"] = observable_statistics(fluctuation, nb)
    pressure = -unstrained.array("stress")[:, :3].mean(axis=1) / GPa
    p_mean, p_err = block_average(pressure, nb)
    volume, volume_err = block_average(runs["npt"].array("volume") / natoms, nb)

    reasons = [
        f"{key}: halves differ by {s['drift_sigma']:.1f} σ > {spec.max_drift_sigma}"
        for key, s in stats.items()
        if s["drift_sigma"] > spec.max_drift_sigma
    ] + [
        f"{key}: relative error {s['relative_error']:.3f} > {spec.max_relative_error}"
        for key, s in stats.items()
        if key != "lattice_constant_A" and s["relative_error"] > spec.max_relative_error
    ]
    c11, c12, c44 = (stats[k]["value"] for k in ("C11_GPa", "C12_GPa", "C44_GPa"))
    restarts = [
        f"{name}: resumed at step {run.resumed_at}" if run.resumed_at is not None else f"{name}: read back finished"
        for name, run in runs.items()
        if run.resumed_at is not None or run.steps_run == 0
    ] + [f"{name}: {run.set_aside}" for name, run in runs.items() if run.set_aside]
    return {
        "temperature_K": float(temperature_K),
        "n_atoms": natoms,
        "supercell": n,
        "pressure_target_GPa": spec.pressure_GPa,
        "lattice_constant_0K_A": float(lattice_constant_A),
        "lattice_constant_A": stats["lattice_constant_A"]["value"],
        "lattice_constant_err_A": stats["lattice_constant_A"]["error"],
        "volume_per_atom_A3": float(volume),
        "volume_per_atom_err_A3": float(volume_err),
        "strain": spec.strain,
        "strain_axes": spec.strain_axes,
        "C11_GPa": c11,
        "C11_err_GPa": stats["C11_GPa"]["error"],
        "C12_GPa": c12,
        "C12_err_GPa": stats["C12_GPa"]["error"],
        "C44_GPa": c44,
        "C44_err_GPa": stats["C44_GPa"]["error"],
        "bulk_modulus_GPa": float(bulk_modulus),
        "bulk_modulus_err_GPa": float(bulk_modulus_err),
        "born_stable": bool(c11 - c12 > 0 and c11 + 2 * c12 > 0 and c44 > 0),
        "heat_capacity_kB_per_atom": stats["heat_capacity_kB_per_atom"]["value"],
        "heat_capacity_err_kB_per_atom": stats["heat_capacity_kB_per_atom"]["error"],
        "heat_capacity_harmonic_kB_per_atom": 3.0 - 1.5 / natoms,
        "kinetic_temperature_K": float(unstrained.array("ekin").mean() / (1.5 * natoms * kB)),
        "residual_pressure_GPa": float(p_mean),
        "residual_pressure_err_GPa": float(p_err),
        "convergence": {
            "n_blocks": nb,
            "npt_production_fs": spec.npt_production_steps * spec.timestep_fs,
            "nvt_production_fs": spec.nvt_production_steps * spec.timestep_fs,
            "block_length_fs": spec.nvt_production_steps // nb * spec.timestep_fs,
            "observables": stats,
            "converged": not reasons,
            "reasons": reasons,
        },
        "restarts": restarts,
        "md_steps": sum(run.steps_run for run in runs.values()),
        "wall_time_s": time.perf_counter() - start,
        "trajectory": _trajectory(runs, spec),
    }
