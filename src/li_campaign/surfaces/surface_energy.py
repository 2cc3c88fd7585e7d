"""Bulk-referenced surface energy of a relaxed symmetric slab."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from ase.units import _e

from li_campaign.geometry.slabs import count_layers
from li_campaign.simulation.relax import atoms_to_structure, relax_atoms, structure_to_atoms

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator
    from pymatgen.core import Structure

    from li_campaign.schemas.spec import RelaxSpec

EV_PER_A2_TO_J_PER_M2 = _e * 1e20
"""1 eV/Å² in J/m²."""


def surface_energy(calc: Calculator, slab: Structure, bulk_energy_per_atom_eV: float, relax: RelaxSpec) -> dict:
    """Relax every atom of a symmetric slab at fixed cell and return γ = (E_slab − N ε_bulk) / 2A.

    Parameters
    ----------
    calc
        ASE calculator.
    slab
        Symmetric slab with a, b in the xy plane and vacuum along z
        (:func:`li_campaign.geometry.slabs.make_symmetric_slab`).
    bulk_energy_per_atom_eV
        ε_bulk from the same calculator (eV/atom).
    relax
        Optimizer settings.

    Returns
    -------
    dict
        ``surface_energy_J_m2``, ``surface_energy_eV_A2``, ``area_A2``, ``n_atoms``,
        ``n_layers`` (atomic planes of the unrelaxed slab), ``slab_thickness_A`` and
        ``vacuum_A`` (relaxed: max z − min z, and c − thickness), ``slab_energy_eV``,
        ``relaxed_structure`` (Structure dict), ``relax_converged`` and ``relax_steps``.
    """
    relaxed, energy, converged, steps = relax_atoms(structure_to_atoms(slab), calc, relax)
    cell = relaxed.cell.array
    area = float(np.linalg.norm(np.cross(cell[0], cell[1])))
    z = relaxed.positions[:, 2]
    thickness = float(z.max() - z.min())
    gamma = (energy - len(relaxed) * bulk_energy_per_atom_eV) / (2.0 * area)
    return {
        "surface_energy_J_m2": gamma * EV_PER_A2_TO_J_PER_M2,
        "surface_energy_eV_A2": gamma,
        "area_A2": area,
        "n_atoms": len(relaxed),
        "n_layers": count_layers(slab),
        "slab_thickness_A": thickness,
        "vacuum_A": float(cell[2, 2]) - thickness,
        "slab_energy_eV": energy,
        "relaxed_structure": atoms_to_structure(relaxed).as_dict(),
        "relax_converged": converged,
        "relax_steps": steps,
    }
