"""Harmonic phonons and thermodynamics of bcc Li (phonopy finite displacements, ASE forces).

Everything phonon-specific is phonopy's: displacements, force constants (with translational
symmetrisation), band structure, total DOS, and harmonic thermal properties. This module only
wires an ASE calculator to phonopy and turns phonopy's arrays into plain lists.

q-points are written in the conventional cubic reciprocal basis (units of 2π/a), where the
bcc special points are the textbook ones, and converted to the primitive reciprocal basis
phonopy works in (``q_prim = P^T q_conv`` for the primitive matrix ``P``). The band path
is built by phonopy's ``get_band_qpoints_and_path_connections`` from these end points, with
``band_points_per_segment`` q-points (end points included) on every segment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from ase import Atoms
from phonopy import Phonopy
from phonopy.phonon.band_structure import get_band_qpoints_and_path_connections
from phonopy.structure.atoms import PhonopyAtoms

from li_campaign.core.errors import InputError
from li_campaign.core.lithium import bcc_li_conventional

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator

    from li_campaign.schemas.spec import PhononSpec

#: phonopy's primitive matrix "I": its columns are the bcc primitive vectors in conventional fractional coordinates.
BCC_PRIMITIVE_MATRIX = np.array([[-0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.5, 0.5, -0.5]])

#: bcc special points in the conventional cubic reciprocal basis (units of 2π/a).
BCC_SPECIAL_POINTS_CONV = {
    "Γ": (0.0, 0.0, 0.0),
    "H": (0.0, 1.0, 0.0),
    "P": (0.5, 0.5, 0.5),
    "N": (0.5, 0.5, 0.0),
}

#: The band path: one connected segment list.
BAND_PATH = ("Γ", "H", "P", "Γ", "N")


def special_point_primitive(label: str) -> np.ndarray:
    """Return a bcc special point in the primitive reciprocal basis of :data:`BCC_PRIMITIVE_MATRIX`.

    Examples
    --------
    >>> special_point_primitive("H").tolist()
    [0.5, -0.5, 0.5]
    """
    return BCC_PRIMITIVE_MATRIX.T @ np.array(BCC_SPECIAL_POINTS_CONV[label])


def bcc_phonopy(calc: Calculator, lattice_constant_A: float, spec: PhononSpec) -> Phonopy:
    """Build phonopy for bcc Li and compute its force constants with ``calc``.

    The unit cell is the 2-atom conventional cube at ``lattice_constant_A``; the supercell is
    ``diag(spec.supercell)`` of it and the primitive cell the 1-atom bcc cell. Forces of each
    displaced supercell (phonopy's symmetry-reduced set, ``spec.displacement_A``) come from
    ``calc``; the force constants are symmetrised (translational invariance) by phonopy.

    Parameters
    ----------
    calc
        ASE calculator (forces in eV/Å).
    lattice_constant_A
        Cubic lattice constant (Å).
    spec
        Supercell, displacement amplitude.

    Returns
    -------
    Phonopy
        With force constants produced, ready for band, mesh and thermal runs.

    Raises
    ------
    InputError
        If the lattice constant is not positive.
    """
    if not lattice_constant_A > 0:
        raise InputError(f"lattice_constant_A = {lattice_constant_A}: the lattice constant must be positive")
    cell = bcc_li_conventional(lattice_constant_A)
    unitcell = PhonopyAtoms(symbols=["Li"] * len(cell), cell=cell.lattice.matrix, scaled_positions=cell.frac_coords)
    phonon = Phonopy(unitcell, supercell_matrix=np.diag(spec.supercell), primitive_matrix=BCC_PRIMITIVE_MATRIX)
    phonon.generate_displacements(distance=spec.displacement_A)
    forces = []
    for scell in phonon.supercells_with_displacements:
        atoms = Atoms(scell.symbols, cell=scell.cell, scaled_positions=scell.scaled_positions, pbc=True)
        atoms.calc = calc
        forces.append(np.array(atoms.get_forces()))
    phonon.forces = np.array(forces)
    phonon.produce_force_constants()
    phonon.symmetrize_force_constants()
    return phonon


def harmonic_phonons(calc: Calculator, lattice_constant_A: float, spec: PhononSpec) -> dict:
    """Phonon band structure, DOS, special-point frequencies and thermodynamics of bcc Li.

    Imaginary modes (a dynamically unstable model) are recorded, not raised: phonopy reports
    them as negative frequencies, and its thermal properties leave them out.

    Parameters
    ----------
    calc
        ASE calculator (forces in eV/Å).
    lattice_constant_A
        Cubic lattice constant (Å), usually the model's EOS value.
    spec
        Supercell, displacement, mesh, band sampling and temperatures.

    Returns
    -------
    dict
        Fields of :class:`~li_campaign.schemas.bulk.PhononDoc` except ``provenance``:
        ``lattice_constant_A``, ``supercell``, ``n_supercell_atoms``, ``displacement_A``,
        ``n_displacements``, ``mesh``, ``frequencies_THz`` ({"H", "N", "P"}: all branches),
        ``min_frequency_THz`` (band path and mesh), ``imaginary_modes``, ``band``, ``dos``,
        ``thermal`` (per mole of atoms).

    Examples
    --------
    >>> from ase.calculators.morse import MorsePotential
    >>> from li_campaign.schemas.spec import PhononSpec
    >>> calc = MorsePotential(epsilon=0.2, r0=3.0, rho0=3.5, rcut1=4.8, rcut2=6.0)
    >>> doc = harmonic_phonons(calc, 3.3, PhononSpec(supercell=(2, 2, 2), mesh=(8, 8, 8)))
    >>> len(doc["frequencies_THz"]["H"])
    3
    """
    phonon = bcc_phonopy(calc, lattice_constant_A, spec)
    n_prim = len(phonon.primitive)

    special = {label: special_point_primitive(label) for label in ("H", "N", "P")}
    phonon.run_qpoints(np.array(list(special.values())))
    at_points = {label: sorted(f.tolist()) for label, f in zip(special, phonon.qpoints.frequencies, strict=True)}

    path = [[special_point_primitive(label).tolist() for label in BAND_PATH]]
    qpoints, connections = get_band_qpoints_and_path_connections(path, npoints=spec.band_points_per_segment)
    phonon.run_band_structure(qpoints, path_connections=connections, labels=list(BAND_PATH))
    band = phonon.band_structure
    distances = np.concatenate(band.distances)
    band_freqs = np.concatenate(band.frequencies)
    label_positions = [float(band.distances[0][0])] + [float(d[-1]) for d in band.distances]

    phonon.run_mesh(spec.mesh)
    mesh_freqs = phonon.mesh.frequencies
    phonon.run_total_dos()
    dos = phonon.total_dos

    phonon.run_thermal_properties(temperatures=spec.temperatures_K)
    thermal = phonon.thermal_properties

    min_freq = float(min(band_freqs.min(), mesh_freqs.min()))
    return {
        "lattice_constant_A": float(lattice_constant_A),
        "supercell": tuple(spec.supercell),
        "n_supercell_atoms": len(phonon.supercell),
        "displacement_A": spec.displacement_A,
        "n_displacements": len(phonon.supercells_with_displacements),
        "mesh": tuple(spec.mesh),
        "frequencies_THz": at_points,
        "min_frequency_THz": min_freq,
        "imaginary_modes": min_freq < -spec.imaginary_tolerance_THz,
        "band": {
            "distances_inv_A": distances.tolist(),
            "frequencies_THz": band_freqs.tolist(),
            "qpoints_primitive": np.concatenate(band.qpoints).tolist(),
            "labels": list(BAND_PATH),
            "label_distances_inv_A": label_positions,
        },
        "dos": {
            "frequencies_THz": dos.frequency_points.tolist(),
            "dos_states_THz": (dos.dos / n_prim).tolist(),
        },
        "thermal": {
            "temperatures_K": thermal.temperatures.tolist(),
            "heat_capacity_J_K_mol": (thermal.heat_capacity / n_prim).tolist(),
            "free_energy_kJ_mol": (thermal.free_energy / n_prim).tolist(),
            "entropy_J_K_mol": (thermal.entropy / n_prim).tolist(),
        },
    }
