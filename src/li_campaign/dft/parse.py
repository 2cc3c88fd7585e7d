"""Ionic steps of VASP outputs (vasprun.xml or OUTCAR) as labelled frames.

``vasprun.xml`` is read with pymatgen's :class:`~pymatgen.io.vasp.outputs.Vasprun`, the
parser under atomate2's / emmet's ``TaskDoc`` (each ionic step has the fields of emmet's
``IonicStep``: ``e_fr_energy``, ``forces``, ``stress``, ``structure``, ``electronic_steps``).
``OUTCAR`` is read with ASE's ``vasp-out`` reader. Written here: the choice of energy
(the force-consistent free energy, as for the GPAW labels), the conversion of VASP's
stress (kBar, positive under compression) to ASE's convention (eV/Å^3), the per-step SCF
convergence check (the SCF steps of an ionic step against NELM; from the OUTCAR the
``Iteration N(M)`` lines are counted) and the selection of every ``stride``-th step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase.io import read
from ase.units import GPa
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from li_campaign.dft.engines import LabelError

_ITERATION = re.compile(r"-+ Iteration\s+(\d+)\(\s*(\d+)\)\s+-+")
_NELM = re.compile(r"NELM\s*=\s*(\d+)")
_OUTCAR_END = "General timing and accounting"  # VASP's last section, written when the run ends


@dataclass(frozen=True)
class IonicFrame:
    """One ionic step: structure, free energy (eV), forces (eV/Å), ASE Voigt stress (eV/Å^3) or None."""

    step: int
    structure: Structure
    energy_eV: float
    forces: np.ndarray
    stress: np.ndarray | None
    scf_steps: int


@dataclass(frozen=True)
class VaspRun:
    """The ionic steps of one VASP output file and the settings it reports."""

    source: str
    frames: list[IonicFrame]
    nelm: int
    incar: dict

    @property
    def n_steps(self) -> int:
        """Number of ionic steps."""
        return len(self.frames)

    @property
    def unconverged_steps(self) -> list[int]:
        """Ionic steps whose SCF stopped at NELM without converging."""
        return [f.step for f in self.frames if f.scf_steps >= self.nelm]

    @property
    def converged_electronic(self) -> bool:
        """True if every ionic step's SCF converged."""
        return not self.unconverged_steps


def vasp_stress_to_ase(stress_kbar: np.ndarray) -> np.ndarray:
    """Return ASE's Voigt stress (eV/Å^3; xx yy zz yz xz xy) from VASP's 3x3 stress (kBar, compression positive)."""
    s = -0.1 * GPa * np.asarray(stress_kbar, dtype=float)
    return np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])


def read_vasprun(path: str | Path) -> VaspRun:
    """Read every ionic step of a ``vasprun.xml`` (plain or compressed).

    Raises
    ------
    LabelError
        If the file is missing, cannot be parsed (e.g. truncated by a killed run) or has
        ionic steps without forces (no ``<varray name="forces">``).
    """
    # deferred: pymatgen.io.vasp takes ~0.5 s to import; the ASE-trajectory labels (no VASP) import this module
    from pymatgen.io.vasp import Vasprun

    path = Path(path)
    if not path.is_file():
        raise LabelError(f"{path}: no vasprun.xml (VASP did not run or wrote nothing)")
    try:
        run = Vasprun(path, parse_dos=False, parse_eigen=False, parse_projected_eigen=False, parse_potcar_file=False)
    except Exception as exc:  # pymatgen raises ParseError, ValueError, ET.ParseError, ...
        raise LabelError(f"{path}: unreadable vasprun.xml: {type(exc).__name__}: {exc}") from exc
    no_forces = [i for i, step in enumerate(run.ionic_steps) if step.get("forces") is None]
    if no_forces:
        raise LabelError(
            f'{path}: no forces (<varray name="forces">) in ionic step(s) {no_forces[:10]}'
            f"{' …' if len(no_forces) > 10 else ''} of {len(run.ionic_steps)}; a frame needs energy and forces, "
            "no frames stored"
        )
    frames = [
        IonicFrame(
            step=i,
            structure=step["structure"],
            energy_eV=float(step["e_fr_energy"]),
            forces=np.asarray(step["forces"], dtype=float),
            stress=vasp_stress_to_ase(step["stress"]) if step.get("stress") is not None else None,
            scf_steps=len(step["electronic_steps"]),
        )
        for i, step in enumerate(run.ionic_steps)
    ]
    return VaspRun(str(path), frames, int(run.parameters["NELM"]), dict(run.incar))


def read_outcar(path: str | Path) -> VaspRun:
    """Read every ionic step of an ``OUTCAR`` (e.g. a molecular-dynamics run).

    Stresses are present only if VASP computed them (ISIF ≥ 1). VASP writes its timing
    summary (``General timing and accounting``) when the run ends; an OUTCAR without it was
    cut off (a killed run, a partial copy), and ASE would silently return its complete steps
    only, so it is refused.

    Raises
    ------
    LabelError
        If the file is missing, truncated (no closing timing summary) or holds no complete
        ionic step.
    """
    path = Path(path)
    if not path.is_file():
        raise LabelError(f"{path}: no OUTCAR")
    text = path.read_text(errors="replace")
    if _OUTCAR_END not in text:
        started = max((int(ionic) for ionic, _ in _ITERATION.findall(text)), default=0)
        raise LabelError(
            f"{path}: truncated OUTCAR: VASP's closing '{_OUTCAR_END}' summary is missing (the run was cut off "
            f"or the file partly copied; last ionic step begun: {started}); no frames stored"
        )
    try:
        images = read(path, index=":", format="vasp-out")
    except Exception as exc:  # ASE raises on truncated files
        raise LabelError(f"{path}: unreadable OUTCAR: {type(exc).__name__}: {exc}") from exc
    if not images:
        raise LabelError(f"{path}: no complete ionic step")
    nelm_match = _NELM.search(text)
    if nelm_match is None:
        raise LabelError(f"{path}: NELM not found; not a VASP OUTCAR?")
    scf: dict[int, int] = {}
    for ionic, electronic in _ITERATION.findall(text):
        scf[int(ionic)] = max(scf.get(int(ionic), 0), int(electronic))
    frames = []
    for i, atoms in enumerate(images):
        results = atoms.calc.results
        frames.append(
            IonicFrame(
                step=i,
                structure=AseAtomsAdaptor.get_structure(atoms),
                energy_eV=float(results["free_energy"]),
                forces=np.asarray(results["forces"], dtype=float),
                stress=np.asarray(results["stress"], dtype=float) if "stress" in results else None,
                scf_steps=scf.get(i + 1, 0),
            )
        )
    return VaspRun(str(path), frames, int(nelm_match.group(1)), {})


def read_vasp_output(path: str | Path) -> VaspRun:
    """Read ``path``: a vasprun.xml (any name containing ``vasprun``) or an OUTCAR."""
    return read_vasprun(path) if "vasprun" in Path(path).name else read_outcar(path)


def select_steps(n_steps: int, stride: int, skip: int = 0, include_last: bool = False) -> list[int]:
    """Return the ionic steps kept as frames: ``skip, skip + stride, …`` (and the last one if asked).

    Raises
    ------
    ValueError
        If ``stride`` < 1 or ``skip`` < 0.
    """
    if stride < 1 or skip < 0:
        raise ValueError(f"stride = {stride}, skip = {skip}: need stride >= 1 and skip >= 0")
    steps = list(range(skip, n_steps, stride))
    if include_last and n_steps > 0 and (not steps or steps[-1] != n_steps - 1):
        steps.append(n_steps - 1)
    return steps


def check_converged(run: VaspRun, steps: list[int]) -> None:
    """Raise :class:`LabelError` if the SCF of a kept ionic step did not converge.

    A step whose SCF ran NELM iterations is taken as unconverged (VASP stops there and
    moves on); its energy and forces are not a label.
    """
    bad = sorted(set(steps) & set(run.unconverged_steps))
    if bad:
        raise LabelError(
            f"{run.source}: electronic SCF did not converge (NELM = {run.nelm} reached) at ionic step(s) "
            f"{bad[:10]}{' …' if len(bad) > 10 else ''} of {run.n_steps}; no frames stored"
        )
