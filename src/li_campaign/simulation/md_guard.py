"""Stop an ASE molecular-dynamics run that becomes unphysical, and keep its last good frame.

A machine-learned potential evaluated outside its training data can let atoms fall onto
each other, heat the system without bound or return huge forces; the run then produces
numbers that look like results. :class:`MdGuard` checks the atoms during the run and raises
:class:`MdInstabilityError` at the first check that fails, carrying the reason and a copy of
the atoms at the last check that passed. Checks, in order:

``non_finite``
    A position, the energy or a force is NaN or infinite.
``min_distance``
    Two atoms are closer than ``min_distance_A`` (periodic images included; ASE's
    :func:`~ase.neighborlist.neighbor_list` with that cutoff, so the check costs little
    while no pair is that close). Callers usually pass a fraction of the bulk nearest-
    neighbour distance, e.g. ``0.5 * sqrt(3) / 2 * a`` for bcc.
``max_force``
    The force on one atom (vector norm) exceeds ``max_force_eV_A``: a configuration the
    model extrapolates to (a cheap proxy; the model gives no uncertainty of its own).
``temperature``
    The instantaneous kinetic temperature (ASE's ``Atoms.get_temperature``, 3N degrees of
    freedom) exceeds ``max_temperature_K``.
``energy_drift``
    The total energy per atom, E_pot + E_kin, moved further than
    ``max_energy_drift_eV_atom`` from its value at the first check. In NVE this is the
    energy-conservation check. Under a thermostat E_tot is not conserved, so it is a proxy
    that bounds the energy the system can take from or give to the bath: a thermostatted
    solid that starts at the target temperature on its lattice shifts by about 1.5 k_B T per
    atom and fluctuates by about k_B T √(3/N), so limits of a few tenths of an eV per atom
    only catch runaways.

Each limit is off when it is ``None``. The checks are written here (ASE has no such
observer); the geometry comes from ASE.

In a Maker, build the guard from the spec's :class:`~li_campaign.schemas.spec.MdGuardSpec`
(:meth:`MdGuard.from_spec`), attach it, catch :class:`MdInstabilityError` and return
``FlaggedResultDoc.from_instability(doc_type, error, provenance, **context)``
(:mod:`li_campaign.schemas.flags`) instead of the result; in the builder of that result type
call :func:`li_campaign.builders.flagged.report_flagged` so a build says how many it left out.

Examples
--------
>>> from ase.build import bulk
>>> from ase.calculators.emt import EMT
>>> from ase.md.verlet import VelocityVerlet
>>> from ase.units import fs
>>> atoms = bulk("Cu", cubic=True).repeat(2)
>>> atoms.calc = EMT()
>>> dyn = VelocityVerlet(atoms, 2 * fs)
>>> guard = MdGuard(atoms, min_distance_A=1.2, max_temperature_K=3000.0, max_energy_drift_eV_atom=0.05)
>>> dyn.attach(guard, interval=5)
>>> dyn.run(20)
True
>>> guard.n_checks
5
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from ase.neighborlist import neighbor_list

from li_campaign.core.errors import MdInstabilityError

if TYPE_CHECKING:
    from ase import Atoms

    from li_campaign.schemas.spec import MdGuardSpec

#: The kinds of instability :class:`MdGuard` detects (``MdInstabilityError.kind``).
KINDS = ("non_finite", "min_distance", "max_force", "temperature", "energy_drift")


@dataclass
class MdGuard:
    """Observer that stops an MD run at the first sign of instability (see the module docstring).

    Use it as an ASE observer, ``dyn.attach(guard, interval=n)``, or call
    ``guard.check(atoms, step)`` from your own loop.

    Parameters
    ----------
    atoms
        The atoms the dynamics moves (what ``guard()`` checks).
    min_distance_A
        Smallest allowed interatomic distance (Å).
    max_temperature_K
        Largest allowed instantaneous kinetic temperature (K).
    max_energy_drift_eV_atom
        Largest allowed change of (E_pot + E_kin)/N from the first check (eV/atom).
    max_force_eV_A
        Largest allowed force on one atom (eV/Å).

    Attributes
    ----------
    n_checks
        Checks that passed.
    last_good, last_good_step
        Copy of the atoms at the last passed check, and its step.
    """

    atoms: Atoms
    min_distance_A: float | None = None
    max_temperature_K: float | None = None
    max_energy_drift_eV_atom: float | None = None
    max_force_eV_A: float | None = None
    n_checks: int = field(default=0, init=False)
    last_good: Atoms | None = field(default=None, init=False, repr=False)
    last_good_step: int | None = field(default=None, init=False)
    _reference_eV_atom: float | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_spec(cls, atoms: Atoms, spec: MdGuardSpec, nearest_neighbour_A: float, temperature_K: float) -> MdGuard:
        """Return the guard of a :class:`~li_campaign.schemas.spec.MdGuardSpec` for one run.

        Parameters
        ----------
        atoms
            The atoms of the run.
        spec
            Limits as fractions and factors.
        nearest_neighbour_A
            Bulk nearest-neighbour distance (Å); bcc: √3/2 · a.
        temperature_K
            Target temperature of the thermostat (K).
        """
        return cls(
            atoms,
            min_distance_A=spec.min_distance_fraction * nearest_neighbour_A,
            max_temperature_K=spec.max_temperature_factor * temperature_K,
            max_energy_drift_eV_atom=spec.max_energy_drift_eV_atom,
            max_force_eV_A=spec.max_force_eV_A,
        )

    def __call__(self) -> None:
        """Check :attr:`atoms` (the ASE observer interface); the step is the check count."""
        self.check()

    def check(self, atoms: Atoms | None = None, step: int | None = None) -> None:
        """Check ``atoms`` (default :attr:`atoms`) at ``step``.

        Raises
        ------
        MdInstabilityError
            At the first failed check, with :attr:`last_good` as its last good frame.
        """
        atoms = self.atoms if atoms is None else atoms
        step = self.n_checks if step is None else step
        problem = self._problem(atoms)
        if problem is not None:
            kind, reason = problem
            raise MdInstabilityError(kind, reason, step, self.last_good, self.last_good_step)
        self.n_checks += 1
        self.last_good = atoms.copy()
        self.last_good.calc = None
        self.last_good_step = step

    def _problem(self, atoms: Atoms) -> tuple[str, str] | None:
        """Return ``(kind, reason)`` of the first failed check, or None."""
        positions = atoms.get_positions()
        energy = atoms.get_potential_energy() + atoms.get_kinetic_energy()
        forces = atoms.get_forces()
        if not (np.isfinite(positions).all() and np.isfinite(energy) and np.isfinite(forces).all()):
            return "non_finite", "a position, the energy or a force is not finite"
        if self.min_distance_A is not None and len(atoms) > 1:
            distances = neighbor_list("d", atoms, self.min_distance_A)
            if len(distances):
                return "min_distance", (
                    f"two atoms are {distances.min():.3f} Å apart (limit {self.min_distance_A:.3f} Å)"
                )
        if self.max_force_eV_A is not None:
            largest = float(np.linalg.norm(forces, axis=1).max())
            if largest > self.max_force_eV_A:
                return "max_force", f"a force of {largest:.2f} eV/Å (limit {self.max_force_eV_A:g} eV/Å): extrapolating"
        if self.max_temperature_K is not None:
            temperature = float(atoms.get_temperature())
            if temperature > self.max_temperature_K:
                return "temperature", f"kinetic temperature {temperature:.0f} K (limit {self.max_temperature_K:.0f} K)"
        if self.max_energy_drift_eV_atom is not None:
            per_atom = float(energy) / len(atoms)
            if self._reference_eV_atom is None:
                self._reference_eV_atom = per_atom
            drift = per_atom - self._reference_eV_atom
            if abs(drift) > self.max_energy_drift_eV_atom:
                return "energy_drift", (
                    f"total energy moved {drift:+.3f} eV/atom since the first check "
                    f"(limit {self.max_energy_drift_eV_atom:g} eV/atom)"
                )
        return None
