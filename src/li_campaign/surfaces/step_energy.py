"""Step formation energy per unit length and Li self-adsorption at step, terrace and kink sites.

Protocol (written here; ASE relaxes): the stepped slab and its flat reference
(:func:`li_campaign.geometry.steps.stepped_slab`: same cell, same planes, the same bottom
planes fixed by ``selective_dynamics``) are relaxed at fixed cell with the same optimizer.
The fixed bottom surface is identical in both and cancels, so

    λ = [E(stepped) − E(flat) + n_removed ε_bulk] / (n_steps L)

with n_steps = 2 steps of length L per cell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from ase import Atom

from li_campaign.geometry.slabs import inplane_minimum_image
from li_campaign.simulation.relax import atoms_to_structure, relax_atoms, structure_to_atoms

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator

    from li_campaign.geometry.steps import SteppedSlab
    from li_campaign.schemas.spec import RelaxSpec


def step_formation_energy(calc: Calculator, slab: SteppedSlab, bulk_energy_per_atom_eV: float, relax: RelaxSpec) -> dict:
    """Relax the stepped slab and its flat reference; return λ (eV/Å) and the energies.

    Returns
    -------
    dict
        ``step_energy_eV_per_A``, ``stepped_energy_eV``, ``flat_energy_eV``, ``n_removed``,
        ``n_steps``, ``step_length_A``, ``relax_converged`` (both relaxations),
        ``relax_steps`` ([stepped, flat]) and ``relaxed_structure`` (stepped, Structure dict
        with the fixed atoms flagged).
    """
    stepped, e_stepped, ok_stepped, n_stepped = relax_atoms(structure_to_atoms(slab.structure), calc, relax)
    _, e_flat, ok_flat, n_flat = relax_atoms(structure_to_atoms(slab.flat), calc, relax)
    excess = e_stepped - e_flat + slab.n_removed * bulk_energy_per_atom_eV
    return {
        "step_energy_eV_per_A": excess / (slab.n_steps * slab.step_length_A),
        "stepped_energy_eV": e_stepped,
        "flat_energy_eV": e_flat,
        "n_removed": slab.n_removed,
        "n_steps": slab.n_steps,
        "step_length_A": slab.step_length_A,
        "relax_converged": ok_stepped and ok_flat,
        "relax_steps": [n_stepped, n_flat],
        "relaxed_structure": atoms_to_structure(stepped).as_dict(),
    }


def step_adsorption(
    calc: Calculator,
    slab: SteppedSlab,
    bulk_energy_per_atom_eV: float,
    relax: RelaxSpec,
    site_classes: tuple[str, ...] | None = None,
) -> dict:
    """Relax one Li adatom at each labelled site of a stepped slab: E_ads = E(slab+Li) − E(slab) − ε_bulk.

    The clean slab is relaxed first; the adatom starts at the site's lattice-continuation
    position on the relaxed slab and is relaxed freely (bottom planes fixed). Where it ends
    is matched to the nearest copy (3D, in-plane minimum image) of any site: ``stable``
    means it stayed at its own site.

    Parameters
    ----------
    calc
        ASE calculator.
    slab
        Stepped or kinked slab with its sites.
    bulk_energy_per_atom_eV
        ε_bulk of the same calculator (eV/atom).
    relax
        Optimizer settings.
    site_classes
        Only the sites of these classes (e.g. ``("kink",)``); None: all.

    Returns
    -------
    dict
        ``slab_energy_eV``, ``n_slab_atoms``, ``sites`` (per site: label, site_class, level,
        position_A (start), final_position_A, distance_to_edge_A, adsorption_energy_eV,
        displacement_A, relaxed_to, stable, relax_converged), ``min_adsorption_energy_eV``,
        ``min_site`` and ``slab_structure`` (relaxed clean slab dict).
    """
    clean, slab_energy, _, _ = relax_atoms(structure_to_atoms(slab.structure), calc, relax)
    cell = clean.cell.array
    chosen = [s for s in slab.sites if site_classes is None or s.site_class in site_classes]
    labels = [s.label for s in slab.sites for _ in s.copies]
    copies = np.array([c for s in slab.sites for c in s.copies])
    results = []
    for site in chosen:
        start = clean.copy()
        start.append(Atom("Li", site.position_A))
        final, energy, converged, _ = relax_atoms(start, calc, relax)
        end = final.positions[-1]
        lateral = np.linalg.norm(inplane_minimum_image(cell, copies - end), axis=1)
        distance = np.hypot(lateral, copies[:, 2] - end[2])
        relaxed_to = labels[int(np.argmin(distance))]
        moved = float(np.hypot(np.linalg.norm(inplane_minimum_image(cell, end - np.asarray(site.position_A))), end[2] - site.position_A[2]))
        results.append(
            {
                "label": site.label,
                "site_class": site.site_class,
                "level": site.level,
                "position_A": list(site.position_A),
                "final_position_A": [float(x) for x in end],
                "distance_to_edge_A": site.distance_to_edge_A,
                "adsorption_energy_eV": energy - slab_energy - bulk_energy_per_atom_eV,
                "displacement_A": moved,
                "relaxed_to": relaxed_to,
                "stable": relaxed_to == site.label,
                "relax_converged": converged,
            }
        )
    if not results:
        raise ValueError(f"no sites of classes {site_classes} on this slab (it has {sorted({s.site_class for s in slab.sites})})")
    best = min(results, key=lambda r: r["adsorption_energy_eV"])
    return {
        "slab_energy_eV": slab_energy,
        "n_slab_atoms": len(clean),
        "sites": results,
        "min_adsorption_energy_eV": best["adsorption_energy_eV"],
        "min_site": best["label"],
        "slab_structure": atoms_to_structure(clean).as_dict(),
    }
