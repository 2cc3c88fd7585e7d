"""A committee of ASE calculators: every member evaluates a frame, σ is their force disagreement.

σ (``max_force_std``) is the model deviation of DP-GEN (Zhang et al., Comput. Phys. Commun.
253, 107206 (2020)): for each atom i the standard deviation of the members' force vectors,
sqrt(<|F_i − <F_i>|²>), and its maximum over atoms. Written here because ASE has no
committee calculator. Members are evaluated one after the other on the CPU; a batched
evaluator (torch-sim, one batch per member over many frames) can replace
:meth:`CommitteeEvaluator.forces` without changing the selection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from li_campaign.mlip.calculator import load_calculator

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ase import Atoms

    from li_campaign.schemas.active import CommitteeMember


def max_force_std(forces: np.ndarray) -> float:
    """Return σ, the largest per-atom standard deviation of the members' forces.

    Parameters
    ----------
    forces
        Forces of every member, shape (n_members, n_atoms, 3) (eV/Å).

    Returns
    -------
    float
        max_i sqrt(mean_m |F_mi − mean_m F_mi|²) (eV/Å); population standard deviation.
    """
    forces = np.asarray(forces, dtype=float)
    if forces.ndim != 3 or forces.shape[2] != 3 or forces.shape[0] < 2:
        raise ValueError(f"forces of shape {forces.shape}: expected (n_members >= 2, n_atoms, 3)")
    deviation = forces - forces.mean(axis=0)
    per_atom = np.sqrt(np.mean(np.sum(deviation**2, axis=2), axis=0))
    return float(per_atom.max())


class CommitteeEvaluator:
    """Evaluate frames with every member of a committee (ASE calculators, one by one).

    Parameters
    ----------
    calculators
        The members; the first one drives exploration.

    Examples
    --------
    >>> from ase.build import bulk
    >>> from ase.calculators.morse import MorsePotential
    >>> committee = CommitteeEvaluator([MorsePotential(r0=3.0), MorsePotential(r0=3.1)])
    >>> atoms = bulk("Li", "bcc", a=3.44, cubic=True)
    >>> atoms.rattle(0.05, seed=1)
    >>> committee.max_force_std(atoms) > 0
    True
    """

    def __init__(self, calculators: Sequence[Calculator]):
        if len(calculators) < 2:
            raise ValueError(f"a committee needs at least 2 members, got {len(calculators)}")
        self.calculators = list(calculators)

    @property
    def driver(self) -> Calculator:
        """The member that drives MD and relaxations."""
        return self.calculators[0]

    def forces(self, atoms: Atoms) -> np.ndarray:
        """Return every member's forces on ``atoms``, shape (n_members, n_atoms, 3) (eV/Å)."""
        out = []
        for calc in self.calculators:
            frame = atoms.copy()
            frame.calc = calc
            out.append(frame.get_forces())
        return np.array(out)

    def predict(self, atoms: Atoms) -> tuple[np.ndarray, np.ndarray]:
        """Return every member's energy (n_members,) (eV) and forces (n_members, n_atoms, 3) (eV/Å)."""
        energies, forces = [], []
        for calc in self.calculators:
            frame = atoms.copy()
            frame.calc = calc
            energies.append(frame.get_potential_energy())
            forces.append(frame.get_forces())
        return np.array(energies), np.array(forces)

    def max_force_std(self, atoms: Atoms) -> float:
        """Return σ of ``atoms`` (:func:`max_force_std`)."""
        return max_force_std(self.forces(atoms))


class CommitteeMeanCalculator(Calculator):
    """ASE calculator of the committee mean: energy, forces and stress averaged over the members.

    Lets code written for one calculator (e.g. :func:`~li_campaign.mlip.evaluate.evaluate_holdout`)
    measure the committee as a whole.
    """

    implemented_properties = ("energy", "forces", "stress")

    def __init__(self, committee: CommitteeEvaluator, **kwargs):
        super().__init__(**kwargs)
        self.committee = committee

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        """Average every member's energy, forces and (Voigt) stress."""
        super().calculate(atoms, properties, system_changes)
        energies, forces, stresses = [], [], []
        for calc in self.committee.calculators:
            frame = self.atoms.copy()
            frame.calc = calc
            energies.append(frame.get_potential_energy())
            forces.append(frame.get_forces())
            stresses.append(frame.get_stress(voigt=True))
        self.results = {
            "energy": float(np.mean(energies)),
            "forces": np.mean(forces, axis=0),
            "stress": np.mean(stresses, axis=0),
        }


def load_committee(members: Sequence[CommitteeMember]) -> CommitteeEvaluator:
    """Load every member of a registered committee (:attr:`CommitteeDoc.members`), each verified by sha256."""

    return CommitteeEvaluator(
        [load_calculator(m.deployed_path, m.sha256, m.deploy_mode, m.compile_device) for m in members]
    )
