"""Bulk monovacancy of bcc Li: formation energy vs supercell size, and its ⟨111⟩ migration barrier (ASE CI-NEB)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from ase.mep import NEB
from ase.optimize import FIRE

from li_campaign.core.lithium import bcc_li_conventional
from li_campaign.simulation.relax import atoms_to_structure, relax_atoms, structure_to_atoms

if TYPE_CHECKING:
    from ase import Atoms
    from ase.calculators.calculator import Calculator

    from li_campaign.schemas.spec import VacancySpec

VACANCY_INDEX = 0
"""The atom removed from the perfect supercell: the cube-corner atom at the origin."""


def perfect_supercell(a0: float, n: int) -> Atoms:
    """Return the n×n×n repeat of the 2-atom bcc cube (2n³ atoms); atom 0 sits at the origin."""
    return structure_to_atoms(bcc_li_conventional(a0)) * (n, n, n)


def _hopping_atom(perfect: Atoms, a0: float) -> int:
    """Index of the nearest neighbour of atom 0 at +a0/2 [111] (minimum image): the atom that hops."""
    vectors = perfect.get_distances(VACANCY_INDEX, range(len(perfect)), mic=True, vector=True)
    return int(np.argmin(np.linalg.norm(vectors - 0.5 * a0 * np.ones(3), axis=1)))


def vacancy_formation_energies(calc: Calculator, a0: float, spec: VacancySpec) -> dict:
    """Vacancy formation energy in each n×n×n supercell of ``spec.supercell_sizes``.

    E_f(n) = E(N−1, relaxed) − (N−1)/N · E(N), N = 2n³, with the atomic positions of the
    vacancy cell relaxed at the fixed cell of the perfect crystal at ``a0``
    (:func:`~li_campaign.simulation.relax.relax_atoms`, ``spec.relax``). The fixed cell
    makes this the constant-volume formation energy, which approaches the constant-pressure
    one as 1/N. The value is converged when the two largest supercells differ by less than
    ``spec.tolerance_eV``.

    Parameters
    ----------
    calc
        ASE calculator.
    a0
        Lattice constant of the perfect crystal (Å), normally the calculator's own.
    spec
        Supercell sizes, tolerance and relaxation settings.

    Returns
    -------
    dict
        ``sizes`` (one dict per size: ``n``, ``n_atoms`` (N of the perfect cell),
        ``perfect_energy_eV``, ``vacancy_energy_eV``, ``formation_energy_eV``,
        ``relax_converged``, ``relax_steps``), ``formation_energy_eV`` (of the largest
        supercell), ``convergence_eV`` (|ΔE_f| of the two largest) and ``converged``.
    """
    sizes = []
    for n in spec.supercell_sizes:
        perfect = perfect_supercell(a0, n)
        perfect.calc = calc
        e_perfect = float(perfect.get_potential_energy())
        vacancy = perfect.copy()
        del vacancy[VACANCY_INDEX]
        _, e_vacancy, converged, steps = relax_atoms(vacancy, calc, spec.relax)
        n_atoms = len(perfect)
        sizes.append(
            {
                "n": n,
                "n_atoms": n_atoms,
                "perfect_energy_eV": e_perfect,
                "vacancy_energy_eV": e_vacancy,
                "formation_energy_eV": e_vacancy - (n_atoms - 1) / n_atoms * e_perfect,
                "relax_converged": converged,
                "relax_steps": steps,
            }
        )
    change = abs(sizes[-1]["formation_energy_eV"] - sizes[-2]["formation_energy_eV"])
    return {
        "sizes": sizes,
        "formation_energy_eV": sizes[-1]["formation_energy_eV"],
        "convergence_eV": change,
        "converged": change < spec.tolerance_eV,
    }


def vacancy_migration(calc: Calculator, a0: float, n: int, spec: VacancySpec) -> dict:
    """CI-NEB barrier of a nearest-neighbour vacancy hop along ⟨111⟩ in the n×n×n supercell.

    The vacancy is at the origin; its neighbour at +a0/2 [111] hops into it. Both
    endpoints are relaxed at fixed cell (``spec.relax``); ``spec.neb.n_images`` images are
    interpolated linearly (minimum image) and optimised with ASE
    ``NEB(method="improvedtangent", climb=spec.neb.climb, k=spec.neb.spring_constant)`` and
    FIRE to ``spec.neb.fmax_eV_A``. The two endpoints are the same defect, related by the
    inversion through the hop's midpoint, so the path must be symmetric: forward and
    reverse barrier equal and E(image i) = E(image n+1−i). The larger of the two
    mismatches is returned as ``asymmetry_eV`` and judged against
    ``spec.symmetry_tolerance_eV``.

    Parameters
    ----------
    calc
        ASE calculator (shared by all images).
    a0
        Lattice constant (Å).
    n
        Supercell size (2n³ − 1 atoms in the NEB).
    spec
        Relaxation, NEB and symmetry-tolerance settings.

    Returns
    -------
    dict
        ``supercell``, ``hop_distance_A``, ``barrier_eV`` (forward), ``barrier_reverse_eV``,
        ``image_energies_eV`` (relative to the initial state, endpoints included),
        ``asymmetry_eV``, ``symmetric``, ``converged``, ``steps`` and ``images``
        (Structure dicts, endpoints included).
    """
    perfect = perfect_supercell(a0, n)
    hopper = _hopping_atom(perfect, a0)
    initial = perfect.copy()
    final = perfect.copy()
    final.positions[hopper] = perfect.positions[VACANCY_INDEX]
    del initial[VACANCY_INDEX]
    del final[VACANCY_INDEX]
    initial, _, _, _ = relax_atoms(initial, calc, spec.relax)
    final, _, _, _ = relax_atoms(final, calc, spec.relax)
    images = [initial] + [initial.copy() for _ in range(spec.neb.n_images)] + [final]
    for image in images[1:-1]:
        image.calc = calc
    band = NEB(
        images, k=spec.neb.spring_constant, climb=spec.neb.climb, method="improvedtangent", allow_shared_calculator=True
    )
    band.interpolate(mic=True)
    optimizer = FIRE(band, logfile=None, trajectory=None)
    converged = bool(optimizer.run(fmax=spec.neb.fmax_eV_A, steps=spec.neb.max_steps))
    energies = np.array([float(image.get_potential_energy()) for image in images])
    top = float(energies.max())
    forward, reverse = top - energies[0], top - energies[-1]
    asymmetry = float(max(abs(forward - reverse), np.abs(energies - energies[::-1]).max()))
    return {
        "supercell": n,
        "hop_distance_A": float(np.sqrt(3.0) * a0 / 2.0),
        "barrier_eV": float(forward),
        "barrier_reverse_eV": float(reverse),
        "image_energies_eV": (energies - energies[0]).tolist(),
        "asymmetry_eV": asymmetry,
        "symmetric": asymmetry < spec.symmetry_tolerance_eV,
        "converged": converged,
        "steps": int(optimizer.nsteps),
        "images": [atoms_to_structure(image).as_dict() for image in images],
    }
