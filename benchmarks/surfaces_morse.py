"""Converged γ of every facet, step energies and step/kink adsorption with the Morse stand-in.

Exercises the numerics of ``docs/surfaces.md`` end to end without a trained model: the ASE
Morse pair potential of the tests (ε = 0.2 eV, r0 = 3 Å, ρ0 = 3.5, taper 4.8–6 Å) plays the
model. Prints one line per facet (γ, planes tried, vacua tried, converged, relaxations, wall
time), λ per terrace and terrace width, and E_ads per site of the stepped and kinked slabs.
The numbers are those of the pair potential, not of Li.

Examples
--------
``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/surfaces_morse.py --max-index 3``
"""

from __future__ import annotations

import argparse
import time

from ase.calculators.morse import MorsePotential

from li_campaign.bulk.eos import fit_bulk_eos
from li_campaign.core.miller import distinct_facets
from li_campaign.geometry.steps import stepped_slab
from li_campaign.schemas.spec import EosSpec, FacetEnumerationSpec, RelaxSpec
from li_campaign.surfaces.step_energy import step_adsorption, step_formation_energy
from li_campaign.surfaces.surface_convergence import converged_surface_energy

TEST_RELAX = RelaxSpec(fmax_eV_A=0.01, max_steps=300, optimizer="LBFGS")


def morse() -> MorsePotential:
    return MorsePotential(epsilon=0.2, r0=3.0, rho0=3.5, rcut1=1.6, rcut2=2.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-index", type=int, default=3)
    args = parser.parse_args()
    bulk = fit_bulk_eos(morse(), 2.92, EosSpec())
    a, eps = bulk["lattice_constant_A"], bulk["energy_per_atom_eV"]
    print(f"Morse bcc: a = {a:.4f} Å, ε_bulk = {eps:.4f} eV/atom")

    start, relaxations = time.perf_counter(), 0
    for hkl in distinct_facets(args.max_index):
        t = time.perf_counter()
        r = converged_surface_energy(morse(), a, hkl, eps, FacetEnumerationSpec(max_index=args.max_index), RelaxSpec())
        n = len(r["thickness_series"]) + len(r["vacuum_series"]) - 1
        relaxations += n
        print(
            f"{hkl}: γ = {r['surface_energy_J_m2']:.4f} J/m², planes {[p['n_layers'] for p in r['thickness_series']]}, "
            f"vacua {[p['vacuum_A'] for p in r['vacuum_series']]}, converged {r['converged']}, "
            f"{n} relaxations, {time.perf_counter() - t:.1f} s"
        )
    print(f"facets: {relaxations} relaxations, {time.perf_counter() - start:.1f} s")

    for terrace in [(1, 0, 0), (1, 1, 0)]:
        for width in (3, 4, 5):
            lam = step_formation_energy(morse(), stepped_slab(a, terrace, width, 5.0, 8.0), eps, TEST_RELAX)
            print(f"{terrace} w = {width}: λ = {lam['step_energy_eV_per_A']:.4f} eV/Å")
        for n_along, kinked in ((2, False), (4, True)):
            slab = stepped_slab(a, terrace, 4, 5.0, 8.0, n_along=n_along, kinked=kinked)
            ads = step_adsorption(morse(), slab, eps, TEST_RELAX, ("kink",) if kinked else None)
            sites = ", ".join(f"{s['label']} {s['adsorption_energy_eV']:.3f}" for s in ads["sites"])
            print(f"{terrace} {'kinked' if kinked else 'stepped'} E_ads (eV): {sites}")


if __name__ == "__main__":
    main()
