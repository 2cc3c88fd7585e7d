"""Relaxations and MD run by an ASE-calculator engine (GPAW, Morse), every ``stride``-th step a frame.

The counterpart of :class:`~li_campaign.dft.vasp.VaspRelaxLabelMaker` and
:class:`~li_campaign.dft.vasp.VaspMdLabelMaker` for the engines of
:func:`li_campaign.dft.engines.make_calculator`: ASE's BFGS (fixed cell) and Langevin
integrators with the engine as calculator. With GPAW each step is one SCF, so this is
expensive; the cheap route to MD snapshots is ``training_set.aimd.driver: morse``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from ase import units
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from ase.optimize import BFGS
from jobflow import Maker, job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from li_campaign.dft.engines import LabelError, make_calculator
from li_campaign.dft.frames import batch_doc, frame_key
from li_campaign.dft.parse import IonicFrame, select_steps
from li_campaign.schemas.frames import TrainingFrameBatchDoc
from li_campaign.schemas.spec import DftSpec
from li_campaign.simulation.relax import structure_to_atoms


@dataclass
class AseTrajectoryLabelMaker(Maker):
    """Relax (BFGS) or run Langevin MD with the engine of ``dft``; kept steps become frames.

    Parameters
    ----------
    mode
        ``relax``: BFGS to ``fmax_eV_A`` or ``n_steps``; frames every ``stride`` steps and
        the last. ``md``: ``n_steps`` Langevin steps at ``temperature_K``; frames every
        ``stride`` steps after ``skip``.
    settings
        Engine settings recorded on the frames (the engine's own are added).
    """

    name: str = "ase trajectory label"
    dft: DftSpec = field(default_factory=DftSpec)
    mode: Literal["relax", "md"] = "relax"
    n_steps: int = 40
    stride: int = 5
    skip: int = 0
    fmax_eV_A: float = 0.02
    temperature_K: float = 300.0
    time_step_fs: float = 1.0
    friction_per_fs: float = 0.01
    seed: int = 0
    slab: bool = False
    kpts: list[int] | None = None
    settings: dict = field(default_factory=dict)
    campaign: str = ""
    spec_hash: str = ""

    @job
    def make(self, structure: Structure, frame_id: str, origin: str, label: str) -> TrainingFrameBatchDoc:
        """Run the trajectory of ``structure`` and return its kept frames."""
        atoms = structure_to_atoms(structure)
        calc, engine_settings = make_calculator(atoms, self.dft, self.slab, kpts=self.kpts, trajectory=True)
        atoms.calc = calc
        recorded: list[IonicFrame] = []

        def record() -> None:
            try:
                energy = float(atoms.get_potential_energy(force_consistent=True))
                # labels are the raw forces; the optimiser and MD still see FixAtoms through get_forces()
                forces, stress = atoms.get_forces(apply_constraint=False), atoms.get_stress(voigt=True)
            except Exception as exc:  # GPAW raises KohnShamConvergenceError, among others
                raise LabelError(f"{self.dft.engine} failed on {label} at step {len(recorded)}: {exc}") from exc
            recorded.append(
                IonicFrame(len(recorded), AseAtomsAdaptor.get_structure(atoms), energy, np.array(forces), np.array(stress), 0)
            )

        start = time.perf_counter()
        if self.mode == "relax":
            optimizer = BFGS(atoms, logfile=None)
            optimizer.attach(record, interval=1)
            optimizer.run(fmax=self.fmax_eV_A, steps=self.n_steps)
            steps = select_steps(len(recorded), self.stride, include_last=True)
        else:
            MaxwellBoltzmannDistribution(atoms, temperature_K=self.temperature_K, rng=np.random.default_rng(self.seed))
            dynamics = Langevin(
                atoms,
                self.time_step_fs * units.fs,
                temperature_K=self.temperature_K,
                friction=self.friction_per_fs / units.fs,
                rng=np.random.default_rng(self.seed + 1),
                fixcm=False,
            )
            dynamics.attach(record, interval=1)
            dynamics.run(self.n_steps - 1)  # ASE records the start too: n_steps frames in all
            steps = select_steps(len(recorded), self.stride, skip=self.skip)
        return batch_doc(
            [recorded[i] for i in steps], len(recorded),
            frame_id=frame_id, origin=origin, label=label, engine=self.dft.engine,
            settings={**self.settings, **engine_settings}, wall_time_s=time.perf_counter() - start,
            campaign=self.campaign, spec_hash=self.spec_hash, input_structure=structure,
            calc_key=frame_key(self.mode, structure, self.settings),
        )  # fmt: skip
