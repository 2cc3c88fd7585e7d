"""Fixed-cell geometry optimisation with an ASE optimizer, and Structure/Atoms conversion."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms
from ase.optimize import BFGS, FIRE, LBFGS
from pymatgen.io.ase import AseAtomsAdaptor

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator
    from pymatgen.core import Structure

    from li_campaign.schemas.spec import RelaxSpec

_OPTIMIZERS = {"BFGS": BFGS, "FIRE": FIRE, "LBFGS": LBFGS}


def relax_atoms(atoms: Atoms, calc: Calculator, relax: RelaxSpec) -> tuple[Atoms, float, bool, int]:
    """Relax atomic positions at fixed cell, honouring the constraints set on ``atoms``.

    Parameters
    ----------
    atoms
        Start geometry; it is copied (with its constraints), not modified.
    calc
        ASE calculator, attached to the returned copy.
    relax
        Optimizer name, force threshold and step limit. No log or trajectory is written.

    Returns
    -------
    tuple[Atoms, float, bool, int]
        Relaxed copy, its potential energy (eV), whether ``fmax`` was reached, and the
        number of optimizer steps taken.
    """
    work = atoms.copy()
    work.calc = calc
    optimizer = _OPTIMIZERS[relax.optimizer](work, logfile=None, trajectory=None)
    converged = bool(optimizer.run(fmax=relax.fmax_eV_A, steps=relax.max_steps))
    return work, float(work.get_potential_energy()), converged, int(optimizer.nsteps)


def fixed_indices(atoms: Atoms) -> list[int]:
    """Return the indices held by :class:`~ase.constraints.FixAtoms` constraints on ``atoms``."""
    indices: set[int] = set()
    for constraint in atoms.constraints:
        if isinstance(constraint, FixAtoms):
            indices.update(int(i) for i in constraint.get_indices())
    return sorted(indices)


def atoms_to_structure(atoms: Atoms) -> Structure:
    """Convert to a pymatgen Structure that keeps only the cell, positions and fixed atoms.

    Atoms held by ``FixAtoms`` get ``selective_dynamics = [False, False, False]``; other
    constraints (e.g. the ``FixedLine`` of a laterally pinned adatom) and calculator
    results are dropped, so the result serialises to a clean Structure dict.
    """
    clean = atoms.copy()
    fixed = fixed_indices(atoms)
    clean.set_constraint(FixAtoms(indices=fixed) if fixed else None)
    return AseAtomsAdaptor.get_structure(clean)


def structure_to_atoms(structure: Structure) -> Atoms:
    """Convert a Structure to periodic Atoms, with ``FixAtoms`` on sites whose ``selective_dynamics`` is all False.

    Written by hand instead of ``AseAtomsAdaptor.get_atoms`` because that copies every other
    site property (e.g. pymatgen's ``bulk_wyckoff`` labels) into Atoms arrays.
    """
    atoms = Atoms(
        symbols=[site.specie.symbol for site in structure],
        positions=structure.cart_coords,
        cell=structure.lattice.matrix,
        pbc=True,
    )
    flags = structure.site_properties.get("selective_dynamics")
    if flags is not None:
        fixed = [i for i, flag in enumerate(flags) if flag is not None and not np.any(flag)]
        if fixed:
            atoms.set_constraint(FixAtoms(indices=fixed))
    return atoms
