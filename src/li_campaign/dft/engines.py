"""Labelling engines behind one function: :func:`label_atoms`.

``gpaw``
    Plane-wave PBE with GPAW (the open engine used locally and in CI). Every setting comes
    from :class:`~li_campaign.schemas.spec.GpawSpec` and is returned for the document.
``morse``
    ASE's analytic Morse potential, selected in the spec for fast pipeline tests. Its
    labels are not physics.

A label is only returned when it is complete: non-finite energies, forces or stresses, and
GPAW SCF runs that did not converge, raise :class:`LabelError` so the job fails with the
reason instead of storing a broken frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from ase.calculators.morse import MorsePotential

from li_campaign.core.errors import InputError
from li_campaign.dft.kpoints import kmesh_from_spacing

if TYPE_CHECKING:
    from ase import Atoms

    from li_campaign.schemas.spec import DftSpec


class LabelError(RuntimeError):
    """The engine did not produce a usable label."""


@dataclass(frozen=True)
class Label:
    """Energy (eV), forces (eV/Å), Voigt stress (eV/Å^3; None when not computed) and the settings that made them."""

    energy: float
    forces: np.ndarray
    stress: np.ndarray | None
    settings: dict
    wall_time_s: float


def _gpaw_calculator(atoms: Atoms, dft: DftSpec, slab: bool, txt: str | Path, kpts=None, trajectory: bool = False):
    # deferred: gpaw (~0.8 s: its C extension and MPI) serves only the gpaw engine; morse and vasp labels run without it
    from gpaw import GPAW, PW, FermiDirac, MethfesselPaxton

    g = dft.gpaw
    if kpts is None:
        kpts = kmesh_from_spacing(atoms.cell.array, g.kspacing_inv_A, (True, True, not slab))
    kpts = [int(k) for k in kpts]
    if g.smearing == "fermi-dirac":
        occupations = FermiDirac(g.smearing_width_eV)
    else:
        occupations = MethfesselPaxton(g.smearing_width_eV, order=g.mp_order)
    settings = {
        "engine": "gpaw",
        "mode": "pw",
        "xc": g.xc,
        "ecut_eV": g.ecut_eV,
        "kspacing_inv_A": g.kspacing_inv_A,
        "kpts": kpts,
        "gamma_centered": True,
        "smearing": g.smearing,
        "smearing_width_eV": g.smearing_width_eV,
        "mp_order": g.mp_order if g.smearing == "methfessel-paxton" else None,
        "energy_convergence_eV": g.energy_convergence_eV,
        "max_scf_iterations": g.max_scf_iterations,
        "spin_polarized": False,
        "energy": "free energy (force-consistent, smearing included)",
        "setups": "Li.PBE (gpaw-data, 1 valence electron)",
    }
    extra = {}
    if trajectory:  # GPAW stops with SymmetryBrokenError once atoms leave the start's symmetric positions
        extra["symmetry"] = "off"
        settings["symmetry"] = "off"
    calc = GPAW(
        mode=PW(g.ecut_eV),
        xc=g.xc,
        kpts={"size": kpts, "gamma": True},
        occupations=occupations,
        convergence={"energy": g.energy_convergence_eV},
        maxiter=g.max_scf_iterations,
        txt=str(txt),
        **extra,
    )
    return calc, settings


def _morse_calculator(dft: DftSpec):
    m = dft.morse
    # ASE takes the smooth cutoff window in units of r0
    calc = MorsePotential(
        epsilon=m.epsilon_eV, r0=m.r0_A, rho0=m.rho0, rcut1=0.8 * m.cutoff_A / m.r0_A, rcut2=m.cutoff_A / m.r0_A
    )
    settings = {"engine": "morse", **m.model_dump()}
    return calc, settings


def make_calculator(
    atoms: Atoms, dft: DftSpec, slab: bool = False, workdir: str | Path = ".", kpts=None, trajectory: bool = False
):
    """Return ``(calculator, settings)`` of the engine in ``dft``, with the k-mesh of ``atoms``.

    ``kpts``: an explicit Γ-centred mesh in place of the k-spacing rule (the commensurate
    meshes of :func:`li_campaign.dft.kpoints.commensurate_kmesh`); engines without k-points ignore it.
    ``trajectory``: the atoms will move (relaxation, MD): GPAW runs without symmetry.
    """
    if dft.engine == "gpaw":
        return _gpaw_calculator(atoms, dft, slab, Path(workdir) / "gpaw.txt", kpts, trajectory)
    if dft.engine == "morse":
        return _morse_calculator(dft)
    raise InputError(
        f"dft.engine = {dft.engine!r} has no ASE calculator: VASP runs as atomate2 jobs (li_campaign.dft.vasp); "
        "this calculation needs dft.engine gpaw or morse"
    )


def label_atoms(
    atoms: Atoms, dft: DftSpec, slab: bool = False, workdir: str | Path = ".", kpts=None, stress: bool = True
) -> Label:
    """Compute energy, forces and (optionally) stress of ``atoms`` with the engine chosen in ``dft``.

    Parameters
    ----------
    atoms
        Periodic Li structure (not modified). Its constraints do not touch the labels: the
        forces of atoms held by ``FixAtoms`` are the engine's, not zero.
    dft
        Engine and settings.
    slab
        True for slabs (vacuum along z): one k-point along z.
    workdir
        Where the engine writes its text output.
    kpts
        Explicit k-mesh (None: the k-spacing rule); see :func:`make_calculator`.
    stress
        Compute the stress. A cell with vacuum needs none: its stress is not a bulk stress and
        is never trained on, and GPAW's plane-wave stress costs about 14 % of a 41-atom slab's
        single point (17 of 127 s, demo settings).

    Raises
    ------
    LabelError
        If the SCF did not converge or a result is not finite.
    """
    atoms = atoms.copy()
    calc, settings = make_calculator(atoms, dft, slab, workdir, kpts)
    atoms.calc = calc
    start = time.perf_counter()
    try:
        # the smearing free energy is the energy whose derivatives are the forces and stress;
        # the zero-width extrapolation is not, and mixing the two makes labels inconsistent
        energy = float(atoms.get_potential_energy(force_consistent=True))
        # the teacher's raw forces: FixAtoms (a slab's fixed bottom) would zero those of the fixed atoms
        forces = np.array(atoms.get_forces(apply_constraint=False), dtype=float)
        voigt = np.array(atoms.get_stress(voigt=True), dtype=float) if stress else None
    except Exception as exc:  # GPAW raises KohnShamConvergenceError, among others
        raise LabelError(f"{settings['engine']} failed on {atoms.get_chemical_formula()}: {type(exc).__name__}: {exc}") from exc
    wall = time.perf_counter() - start
    if not (np.isfinite(energy) and np.isfinite(forces).all() and (voigt is None or np.isfinite(voigt).all())):
        raise LabelError(f"{settings['engine']} returned non-finite energy/forces/stress for {atoms.get_chemical_formula()}")
    if forces.shape != (len(atoms), 3):
        raise LabelError(f"{settings['engine']} returned forces of shape {forces.shape} for {len(atoms)} atoms")
    return Label(energy, forces, voigt, settings, wall)
