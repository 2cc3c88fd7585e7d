"""Equilibrium bcc lattice from a Birch–Murnaghan fit of E(V) (ase.eos)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
from ase.eos import EquationOfState
from ase.units import GPa

from li_campaign.core.errors import InputError
from li_campaign.core.lithium import bcc_li_conventional
from li_campaign.simulation.relax import structure_to_atoms

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator

    from li_campaign.schemas.spec import EosSpec


def _energy_per_atom(calc: Calculator, a: float) -> float:
    atoms = structure_to_atoms(bcc_li_conventional(a))
    atoms.calc = calc
    return float(atoms.get_potential_energy()) / len(atoms)


def _scan(calc: Calculator, a_centre: float, eos: EosSpec) -> tuple[np.ndarray, np.ndarray, float, float, float]:
    lattice = a_centre * (1.0 + np.linspace(-eos.max_strain, eos.max_strain, eos.n_points))
    volumes = lattice**3 / 2.0
    energies = np.array([_energy_per_atom(calc, a) for a in lattice])
    try:
        with warnings.catch_warnings():  # the fit is checked by the caller; far trial parameters warn
            warnings.simplefilter("ignore")
            fit = EquationOfState(volumes, energies, eos="birchmurnaghan")
            v0, _e0, bulk_modulus = fit.fit(warn=False)
    except RuntimeError:  # scipy curve_fit found no minimum: E(V) is monotonic over the scan
        return volumes, energies, float("nan"), float("nan"), float("nan")
    # eos_parameters = (E0, B0, B', V0): ASE fits B' but returns only V0, E0, B0
    return volumes, energies, float(v0), float(bulk_modulus), float(fit.eos_parameters[2])


def fit_bulk_eos(calc: Calculator, a_guess: float, eos: EosSpec) -> dict:
    """Fit the Birch–Murnaghan equation of state of bcc Li.

    The 2-atom conventional cell is scanned over ``eos.n_points`` linear strains in
    ``±eos.max_strain`` around ``a_guess``. If the fitted equilibrium volume lies outside
    the scan, the scan is re-centred once on the fitted lattice constant and refitted.
    A scan with no fittable minimum (monotonic E(V)) is an error.

    Parameters
    ----------
    calc
        ASE calculator.
    a_guess
        Centre of the first scan (Å).
    eos
        Strain range and number of points.

    Returns
    -------
    dict
        ``lattice_constant_A``, ``energy_per_atom_eV`` (the calculator evaluated at the
        fitted lattice constant), ``bulk_modulus_GPa``, ``bulk_modulus_derivative`` (B' =
        dB/dP at zero pressure, dimensionless, the fourth parameter of the same
        Birch–Murnaghan fit), and the scan actually fitted: ``volumes_A3_atom``,
        ``energies_eV_atom``.

    Raises
    ------
    InputError
        If ``a_guess`` is not positive.
    ValueError
        If the fit finds no minimum, or the fitted minimum is still outside the scanned
        volumes after re-centring.
    """
    if not a_guess > 0:
        raise InputError(f"a_guess = {a_guess} Å: the lattice constant must be positive")
    volumes, energies, v0, bulk_modulus, derivative = _scan(calc, a_guess, eos)
    recentred = not volumes[0] <= v0 <= volumes[-1] and np.isfinite(v0) and v0 > 0
    if recentred:
        volumes, energies, v0, bulk_modulus, derivative = _scan(calc, (2.0 * v0) ** (1.0 / 3.0), eos)
    if not volumes[0] <= v0 <= volumes[-1]:
        how = "after re-centring the scan once" if recentred else "and the fit gives no minimum to re-centre on"
        raise ValueError(
            f"equation-of-state fit: no energy minimum inside the scanned volumes {volumes[0]:.3f}–"
            f"{volumes[-1]:.3f} Å^3/atom (fitted V0 = {v0:.3f} Å^3/atom) {how}; "
            "widen eos.max_strain, improve a_guess or check the calculator"
        )
    lattice_constant = (2.0 * v0) ** (1.0 / 3.0)
    return {
        "lattice_constant_A": lattice_constant,
        "energy_per_atom_eV": _energy_per_atom(calc, lattice_constant),
        "bulk_modulus_GPa": bulk_modulus / GPa,
        "bulk_modulus_derivative": derivative,
        "volumes_A3_atom": volumes.tolist(),
        "energies_eV_atom": energies.tolist(),
    }
