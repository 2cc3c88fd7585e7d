"""Li self-adsorption energies at every symmetry-distinct site of the top surface of a slab.

For each site found by pymatgen's ``AdsorbateSiteFinder`` the adatom is relaxed along the
surface normal only (ASE ``FixedLine``), which gives the site's *pinned* adsorption energy even
if the site is a saddle or maximum; a second, laterally free relaxation from a kicked start
gives the *free* adsorption energy and tells whether the site is a minimum. The facet minimum
is taken from the free energies of the stable sites, the same relaxed minima the NEBs start
from (:func:`facet_minimum`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from ase import Atom
from ase.constraints import FixAtoms, FixedLine
from pymatgen.core import Structure

from li_campaign.geometry.slabs import (
    adatom_start_position,
    inplane_minimum_image,
    lateral_repeats,
    nearest_neighbour_distance,
    symmetry_copies,
    top_surface_operations,
    top_surface_sites,
)
from li_campaign.schemas.surfaces import AdsorptionSite
from li_campaign.simulation.relax import atoms_to_structure, relax_atoms, structure_to_atoms

if TYPE_CHECKING:
    from ase import Atoms
    from ase.calculators.calculator import Calculator

    from li_campaign.schemas.spec import FanOutSpec

STABILITY_FMAX_FACTOR = 0.1
"""The free relaxation of the stability test uses this fraction of ``relax.fmax_eV_A``."""
SITE_TYPES = ("ontop", "bridge", "hollow")
CURVATURE_DELTA_A = 0.02
"""Lateral displacement (Å) of the central finite differences of :func:`lateral_curvature`."""
CURVATURE_TOL_EV_A2 = 0.005
"""A lateral curvature below minus this (eV/Å²) makes a site a saddle or maximum, not a minimum."""


def lateral_curvature(atoms: Atoms, calc: Calculator, index: int, delta: float = CURVATURE_DELTA_A):
    """Eigenvalues (ascending, eV/Å²) and eigenvectors (columns) of the in-plane Hessian of atom ``index``.

    Central finite differences of the atom's raw in-plane force (constraints not applied)
    with every other atom held where it is: H_ij = −(F_i(x + δ e_j) − F_i(x − δ e_j)) / 2δ,
    symmetrised. Written here (4 force calls; ASE's ``Vibrations`` would do all 3N
    directions). With the slab held, this curvature is an upper bound of that of the
    relaxed-slab energy surface (relaxing can only lower the energy away from the site), so a
    negative eigenvalue proves the site is a saddle or maximum.
    """
    hessian = np.zeros((2, 2))
    for j in range(2):
        forces = []
        for sign in (1.0, -1.0):
            probe = atoms.copy()
            probe.set_constraint()
            probe.positions[index, j] += sign * delta
            probe.calc = calc
            forces.append(probe.get_forces()[index, :2])
        hessian[:, j] = -(forces[0] - forces[1]) / (2.0 * delta)
    return np.linalg.eigh(0.5 * (hessian + hessian.T))
FREE_BASIS = "free_relaxed_stable_minimum"
"""``min_adsorption_basis``: the lowest free (laterally relaxed) energy over the stable sites."""
PINNED_BASIS = "pinned_all_sites"
"""``min_adsorption_basis`` when no site is stable: the lowest pinned energy over all sites."""


def fixed_bottom_indices(atoms: Atoms, fix_bottom_A: float) -> list[int]:
    """Return the indices of atoms less than ``fix_bottom_A`` above the lowest atom (0 fixes none)."""
    z = atoms.positions[:, 2]
    return np.flatnonzero(z - z.min() < fix_bottom_A).tolist()


def _nearest_site(cell: np.ndarray, site_copies: dict[str, list[np.ndarray]], xy: np.ndarray) -> str:
    labels = [label for label, copies in site_copies.items() for _ in copies]
    positions = np.array([p for copies in site_copies.values() for p in copies])
    distances = np.linalg.norm(inplane_minimum_image(cell, positions - np.append(xy, 0.0)), axis=1)
    return labels[int(np.argmin(distances))]


def adsorption_sites(
    calc: Calculator, slab: Structure, bulk_energy_per_atom_eV: float, spec: FanOutSpec, seed: int = 0
) -> dict:
    """Compute the Li self-adsorption energy at every symmetry-distinct top-surface site.

    Steps: repeat the slab in-plane (:func:`~li_campaign.geometry.slabs.lateral_repeats`
    with ``spec.slab.min_lateral_A``); fix atoms within ``spec.slab.fix_bottom_A`` of the
    bottom (``FixAtoms``) and relax the clean slab; find the distinct sites on its top
    surface (:func:`~li_campaign.geometry.slabs.top_surface_sites`), labelled
    ``<type>-<i>``; place a Li above each at one bulk nearest-neighbour distance from its
    nearest slab atom and relax it along z only (``FixedLine``): the pinned
    E_ads = E(slab+Li) − E(slab) − ε_bulk. Then relax the adatom freely from that geometry
    kicked by ``spec.site_perturbation_A`` in a random in-plane direction (seeded), which gives
    the free E_ads, and find the nearest site copy (in-plane, over all copies of all sites) of
    where it ends.

    A site is *stable* if the free relaxation ends in its in-plane Voronoi cell: nearer to a
    copy of the same site than to any copy of any other site. No fixed distance cut-off is
    used because on stepped facets (210), (211), (310), (321) the minima lie 0.3–0.6 Å away
    from the idealised AdsorbateSiteFinder positions. Li surfaces are so flat that the
    lateral force a small kick creates at a saddle is often below ``spec.relax.fmax_eV_A``,
    which would stop the optimizer at once and pass a saddle as stable; the free relaxation
    therefore uses ``STABILITY_FMAX_FACTOR`` (0.1) times that threshold. Before the kick, the
    adatom's in-plane curvature at the pinned geometry (:func:`lateral_curvature`) is computed:
    a negative eigenvalue marks the site as a saddle or maximum (not stable), and the kick then
    follows its eigenvector, so the free relaxation finds where the adatom goes (a random kick
    exactly along a saddle's stable direction would pass it as a minimum).

    Parameters
    ----------
    calc
        ASE calculator.
    slab
        Symmetric slab with its normal along z (``make_symmetric_slab``).
    bulk_energy_per_atom_eV
        ε_bulk from the same calculator (eV/atom).
    spec
        Fan-out settings: ``slab``, ``relax`` and ``site_perturbation_A`` are used.
    seed
        Seed of the kick directions.

    Returns
    -------
    dict
        ``supercell`` (nx, ny), ``n_slab_atoms``, ``slab_energy_eV``,
        ``bulk_energy_per_atom_eV``, ``sites`` (list of :class:`AdsorptionSite`), the
        fields of :func:`facet_minimum` (``min_adsorption_energy_eV``, ``min_site``,
        ``min_adsorption_basis``, ``min_pinned_adsorption_energy_eV``, ``min_pinned_site``),
        ``slab_structure`` (relaxed clean slab dict, fixed atoms flagged by
        ``selective_dynamics``), ``site_copies`` (label -> Cartesian positions of every
        symmetry-equivalent copy in the supercell at the relaxed adatom height, the
        representative first) and ``site_heights_A`` (label -> relaxed adatom z, Å).
    """
    repeats = lateral_repeats(slab, spec.slab.min_lateral_A)
    supercell = Structure(slab.lattice, slab.species, slab.frac_coords)
    supercell.make_supercell([repeats[0], repeats[1], 1])
    atoms = structure_to_atoms(supercell)
    fixed = fixed_bottom_indices(atoms, spec.slab.fix_bottom_A)
    bottom = [FixAtoms(indices=fixed)] if fixed else []
    atoms.set_constraint(bottom)
    clean, slab_energy, _, _ = relax_atoms(atoms, calc, spec.relax)
    clean_structure = atoms_to_structure(clean)
    cell = clean.cell.array
    bond = nearest_neighbour_distance(supercell)  # bulk-terminated: the bulk nearest-neighbour distance
    operations = top_surface_operations(clean_structure)
    rng = np.random.default_rng(seed)
    free_relax = spec.relax.model_copy(update={"fmax_eV_A": STABILITY_FMAX_FACTOR * spec.relax.fmax_eV_A})
    adatom = len(clean)

    found = top_surface_sites(clean_structure)
    site_copies: dict[str, list[np.ndarray]] = {}
    heights: dict[str, float] = {}
    results: list[dict] = []
    for site_type in SITE_TYPES:
        for i, site in enumerate(found[site_type]):
            label = f"{site_type}-{i}"
            start = clean.copy()
            start.append(Atom("Li", adatom_start_position(clean_structure, site, bond)))
            start.set_constraint([*bottom, FixedLine(adatom, [0.0, 0.0, 1.0])])
            pinned, pinned_energy, _, _ = relax_atoms(start, calc, spec.relax)
            position = pinned.positions[adatom].copy()
            site_copies[label] = symmetry_copies(clean_structure, position, operations)
            heights[label] = float(position[2])

            angle = rng.uniform(0.0, 2.0 * np.pi)  # drawn for every site: the seeded sequence stays the same
            curvatures, directions = lateral_curvature(pinned, calc, adatom)
            kick = np.array([np.cos(angle), np.sin(angle)])
            if curvatures[0] < -CURVATURE_TOL_EV_A2:  # a saddle or maximum: go down its steepest way out
                kick = directions[:, 0]
            kicked = pinned.copy()
            kicked.set_constraint(bottom)
            kicked.positions[adatom, :2] += spec.site_perturbation_A * kick
            free, free_energy, _, _ = relax_atoms(kicked, calc, free_relax)
            results.append(
                {
                    "label": label,
                    "site_type": site_type,
                    "position_A": position.tolist(),
                    "adsorption_energy_eV": pinned_energy - slab_energy - bulk_energy_per_atom_eV,
                    "free_adsorption_energy_eV": free_energy - slab_energy - bulk_energy_per_atom_eV,
                    "lateral_curvature_eV_A2": [float(c) for c in curvatures],
                    "final_xy": free.positions[adatom, :2].copy(),
                }
            )

    sites = []
    for result in results:
        relaxed_to = _nearest_site(cell, site_copies, result.pop("final_xy"))
        minimum = min(result["lateral_curvature_eV_A2"]) >= -CURVATURE_TOL_EV_A2
        sites.append(AdsorptionSite(**result, stable=minimum and relaxed_to == result["label"], relaxed_to=relaxed_to))
    return {
        "supercell": repeats,
        "n_slab_atoms": len(clean),
        "slab_energy_eV": slab_energy,
        "bulk_energy_per_atom_eV": bulk_energy_per_atom_eV,
        "sites": sites,
        **facet_minimum(sites),
        "slab_structure": clean_structure.as_dict(),
        "site_copies": {label: [p.tolist() for p in copies] for label, copies in site_copies.items()},
        "site_heights_A": heights,
    }


def facet_minimum(sites: list[AdsorptionSite]) -> dict:
    """The facet's minimum self-adsorption energy, and which reference it is.

    The minimum is the lowest *free* adsorption energy (laterally relaxed from a kicked start)
    over the *stable* sites: the relaxed minima that the NEBs start from, so adsorption
    energies and barriers share one reference (``min_adsorption_basis`` =
    :data:`FREE_BASIS`). On stepped facets a stable site's free minimum lies up to 0.6 Å
    from the ideal site and below its pinned energy. If no site is stable, no relaxed minimum
    is known and the lowest *pinned* energy over all sites is used (:data:`PINNED_BASIS`).
    The pinned minimum (over the stable sites, or all sites if none is stable: the facet
    minimum of documents stored before the free one was used) is kept beside it.

    Parameters
    ----------
    sites
        The facet's sites, with both energies and their stability.

    Returns
    -------
    dict
        ``min_adsorption_energy_eV``, ``min_site``, ``min_adsorption_basis``,
        ``min_pinned_adsorption_energy_eV`` and ``min_pinned_site``.

    Raises
    ------
    ValueError
        If ``sites`` is empty.
    """
    if not sites:
        raise ValueError("no adsorption sites: the facet minimum needs at least one site")
    stable = [s for s in sites if s.stable]
    if stable:
        best = min(stable, key=lambda s: s.free_adsorption_energy_eV)
        energy, basis = best.free_adsorption_energy_eV, FREE_BASIS
    else:
        best = min(sites, key=lambda s: s.adsorption_energy_eV)
        energy, basis = best.adsorption_energy_eV, PINNED_BASIS
    pinned = min(stable or sites, key=lambda s: s.adsorption_energy_eV)
    return {
        "min_adsorption_energy_eV": energy,
        "min_site": best.label,
        "min_adsorption_basis": basis,
        "min_pinned_adsorption_energy_eV": pinned.adsorption_energy_eV,
        "min_pinned_site": pinned.label,
    }
