"""Surface energy of one facet converged in slab thickness and in vacuum.

Written here (pymatgen builds the slabs, ASE relaxes them, but neither converges γ): slabs of
increasing thickness are relaxed (:func:`li_campaign.surfaces.surface_energy.surface_energy`, every
atom free, symmetric slab) until γ of the two thickest differ by less than the tolerance; the
vacuum of the thickest slab is then grown until γ changes by less than the tolerance.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from li_campaign.core.errors import InputError
from li_campaign.geometry.facets import interplanar_spacing, slab_with_layers, termination_shifts
from li_campaign.surfaces.surface_energy import surface_energy

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator

    from li_campaign.schemas.spec import FacetEnumerationSpec, MillerIndex, RelaxSpec


def layer_schedule(a: float, hkl: MillerIndex, spec: FacetEnumerationSpec) -> list[int]:
    """Return the numbers of atomic planes to try, thinnest first.

    Thicknesses ``start_thickness_A``, + ``thickness_step_A``, ... up to ``max_thickness_A``,
    each rounded up to whole planes (d = bcc interplanar spacing) and at most ``max_layers``
    planes; duplicates are dropped. The laterally primitive slab has one atom per plane, so
    ``max_layers`` also bounds the atom count.

    Raises
    ------
    InputError
        If even the thinnest slab needs more than ``max_layers`` planes.
    """
    spacing = interplanar_spacing(a, hkl)
    schedule: list[int] = []
    thickness = spec.start_thickness_A
    while thickness <= spec.max_thickness_A + 1e-9:
        n = max(math.ceil(thickness / spacing - 1e-9) + 1, 3)  # n planes span (n - 1) d
        if n > spec.max_layers:
            break
        if not schedule or n > schedule[-1]:
            schedule.append(n)
        thickness += spec.thickness_step_A
    if not schedule:
        first = max(math.ceil(spec.start_thickness_A / spacing - 1e-9) + 1, 3)
        raise InputError(
            f"facet {hkl}: a {spec.start_thickness_A} Å slab needs {first} atomic planes (d = {spacing:.3f} Å), "
            f"more than facet_enumeration.max_layers = {spec.max_layers}"
        )
    return schedule


def converged_surface_energy(
    calc: Calculator, a: float, hkl: MillerIndex, bulk_energy_per_atom_eV: float, spec: FacetEnumerationSpec, relax: RelaxSpec
) -> dict:
    """Converge γ of one facet in thickness, then in vacuum.

    Thickness: slabs of :func:`layer_schedule` planes at ``spec.vacuum_A`` are relaxed in turn;
    it stops at the first n with |γ(n) − γ(previous n)| < ``spec.tolerance_J_m2``
    (``thickness_converged``), or after the last planned slab (``thickness_converged`` false,
    with the reason in ``notes``). Vacuum: the thickest slab is relaxed at v + Δv,
    v + 2Δv, ... (Δv = ``spec.vacuum_step_A``) until γ changes by less than the tolerance
    between consecutive vacua (``vacuum_converged``) or ``spec.max_vacuum_A`` is passed. The
    reported γ and structure are those of the thickest slab at the first vacuum of the
    converged pair.

    Parameters
    ----------
    calc
        ASE calculator.
    a, bulk_energy_per_atom_eV
        The calculator's bcc lattice constant (Å) and ε_bulk (eV/atom).
    hkl
        Facet.
    spec
        Thickness and vacuum schedule and the tolerance.
    relax
        Optimizer settings.

    Returns
    -------
    dict
        The :func:`~li_campaign.surfaces.surface_energy.surface_energy` result of the chosen slab,
        plus ``thickness_series`` and ``vacuum_series`` (one entry per relaxed slab: n_layers,
        n_atoms, slab_thickness_A, vacuum_A, surface_energy_J_m2, relax_converged),
        ``thickness_converged``, ``vacuum_converged``, ``converged`` (both),
        ``convergence_tolerance_J_m2``, ``termination_shift`` (pymatgen's shift of the single
        termination), ``n_terminations`` and ``notes``.
    """
    tol = spec.tolerance_J_m2
    notes: list[str] = []

    def run(n_layers: int, vacuum: float) -> dict:
        result = surface_energy(calc, slab_with_layers(a, hkl, n_layers, vacuum), bulk_energy_per_atom_eV, relax)
        return {**result, "vacuum_set_A": vacuum}

    def point(result: dict) -> dict:
        keys = ("n_layers", "n_atoms", "slab_thickness_A", "surface_energy_J_m2", "relax_converged")
        return {**{k: result[k] for k in keys}, "vacuum_A": result["vacuum_set_A"]}

    schedule = layer_schedule(a, hkl, spec)
    thickness_runs = [run(schedule[0], spec.vacuum_A)]
    thickness_converged = False
    for n in schedule[1:]:
        thickness_runs.append(run(n, spec.vacuum_A))
        if abs(thickness_runs[-1]["surface_energy_J_m2"] - thickness_runs[-2]["surface_energy_J_m2"]) < tol:
            thickness_converged = True
            break
    if not thickness_converged:
        last = thickness_runs[-1]
        change = (
            f"{abs(last['surface_energy_J_m2'] - thickness_runs[-2]['surface_energy_J_m2']):.4f} J/m²"
            if len(thickness_runs) > 1
            else "not measured (one slab only)"
        )
        notes.append(
            f"thickness not converged: γ change between the two thickest slabs {change} ≥ {tol} J/m² "
            f"at {last['n_layers']} planes ({last['slab_thickness_A']:.2f} Å); max_thickness_A = "
            f"{spec.max_thickness_A}, max_layers = {spec.max_layers}"
        )
    chosen = thickness_runs[-1]
    n_layers = chosen["n_layers"]

    vacuum_runs = [chosen]
    vacuum_converged = False
    vacuum = spec.vacuum_A + spec.vacuum_step_A
    while vacuum <= spec.max_vacuum_A + 1e-9:
        vacuum_runs.append(run(n_layers, vacuum))
        if abs(vacuum_runs[-1]["surface_energy_J_m2"] - vacuum_runs[-2]["surface_energy_J_m2"]) < tol:
            vacuum_converged = True
            break
        vacuum += spec.vacuum_step_A
    if not vacuum_converged:
        notes.append(
            f"vacuum not converged: γ still changed by ≥ {tol} J/m² at {vacuum_runs[-1]['vacuum_set_A']} Å "
            f"(max_vacuum_A = {spec.max_vacuum_A})"
        )
    reported = vacuum_runs[-2] if vacuum_converged else vacuum_runs[-1]
    shifts = termination_shifts(a, hkl)
    result = {k: v for k, v in reported.items() if k != "vacuum_set_A"}
    return {
        **result,
        "thickness_series": [point(r) for r in thickness_runs],
        "vacuum_series": [point(r) for r in vacuum_runs],
        "thickness_converged": thickness_converged,
        "vacuum_converged": vacuum_converged,
        "converged": thickness_converged and vacuum_converged,
        "convergence_tolerance_J_m2": tol,
        "termination_shift": shifts[0],
        "n_terminations": len(shifts),
        "notes": notes,
    }
