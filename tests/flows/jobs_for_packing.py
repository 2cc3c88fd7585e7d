"""Small real jobs for the packing tests (in a module, so worker processes can import them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jobflow import Maker, job
from pymatgen.core import Lattice, Structure

from li_campaign.core.lithium import bcc_li_conventional
from li_campaign.dft.jobs import LabelFrameMaker
from li_campaign.schemas.kinetics import DiffusionDoc, Hop
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import DftSpec, MorseSpec
from li_campaign.schemas.surfaces import AdsorptionDoc, AdsorptionSite, SurfaceEnergyDoc

NAME = "li-pack"
SHA = "c" * 64
MILLER = {"100": (1, 0, 0), "110": (1, 1, 0), "111": (1, 1, 1)}
CELL = bcc_li_conventional(3.44)


def rattled_cell(seed: int) -> Structure:
    """A 16-atom bcc Li cell with random displacements (std 0.05 Å)."""
    cell = CELL * (2, 2, 2)
    rng = np.random.default_rng(seed)
    coords = cell.cart_coords + rng.normal(0, 0.05, (len(cell), 3))
    return Structure(cell.lattice, cell.species, coords, coords_are_cartesian=True)


def label_maker() -> LabelFrameMaker:
    """The real DFT-label Maker with the cheap analytic Morse engine."""
    return LabelFrameMaker(dft=DftSpec(engine="morse", morse=MorseSpec(r0_A=3.0)), campaign=NAME, spec_hash="f" * 64)


def label_jobs(n: int, structure=None) -> list:
    """``n`` label jobs of rattled cells (of ``structure`` when given: a reference or a fixed cell)."""
    maker = label_maker()
    cells = [rattled_cell(i) if structure is None else structure for i in range(n)]
    return [maker.make(cell, f"{NAME}:bulk_rattle:{i}", "bulk_rattle", f"rattled {i}") for i, cell in enumerate(cells)]


def sodium_label_job():
    """A label job that fails: li-campaign refuses non-lithium structures."""
    sodium = Structure(Lattice.cubic(4.23), ["Na", "Na"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    return label_maker().make(sodium, f"{NAME}:bulk_rattle:na", "bulk_rattle", "sodium")


@job
def make_cell(seed: int) -> Structure:
    """Return a rattled cell (an upstream job whose output packed members use)."""
    return rattled_cell(seed)


@job
def energy_of(frame) -> tuple[str, float]:
    """Return the document class and energy of a training frame (a downstream job)."""
    return type(frame).__name__, frame.energy_eV


def _prov() -> Provenance:
    return Provenance(campaign=NAME, spec_hash="f" * 64, model_sha256=SHA)


@dataclass
class FacetResultsMaker(Maker):
    """Stand-ins for the fan-out Makers: fixed facet documents, built instantly."""

    name: str = "facet results"

    @job
    def surface(self, facet: str, gamma: float) -> SurfaceEnergyDoc:
        """Return a surface-energy document."""
        return SurfaceEnergyDoc(
            facet=facet, miller_index=MILLER[facet], n_atoms=2, n_layers=7, slab_thickness_A=10.3, vacuum_A=12.0,
            area_A2=11.8, slab_energy_eV=-26.0, bulk_energy_per_atom_eV=-1.905, surface_energy_J_m2=gamma,
            surface_energy_eV_A2=gamma / 16.0218, relaxed_structure=CELL, relax_converged=True, relax_steps=3,
            provenance=_prov(),
        )

    @job
    def adsorption(self, facet: str, e_min: float) -> AdsorptionDoc:
        """Return an adsorption document with one stable hollow site."""
        site = AdsorptionSite(
            label="hollow-0", site_type="hollow", position_A=[0.0, 0.0, 20.0], adsorption_energy_eV=e_min,
            stable=True, relaxed_to="hollow-0", free_adsorption_energy_eV=e_min,
        )
        return AdsorptionDoc(
            facet=facet, miller_index=MILLER[facet], n_slab_atoms=28, supercell=(2, 2), slab_energy_eV=-52.0,
            bulk_energy_per_atom_eV=-1.905, sites=[site], min_adsorption_energy_eV=e_min, min_site="hollow-0",
            slab_structure=CELL, site_copies={"hollow-0": [site.position_A]}, site_heights_A={"hollow-0": 20.0},
            provenance=_prov(),
        )

    @job(data="images")
    def diffusion(self, adsorption: AdsorptionDoc, barrier: float) -> DiffusionDoc:
        """Return a diffusion document of the adsorption's facet; its NEB images go to the data store."""
        if barrier < 0:
            raise ValueError(f"negative barrier {barrier}")
        hop = Hop(
            start="hollow-0", end="hollow-1", distance_A=2.43, barrier_forward_eV=barrier, barrier_reverse_eV=barrier,
            n_images=3, converged=True, endpoint_drift_A=0.01, images=[CELL] * 3,
        )
        return DiffusionDoc(
            facet=adsorption.facet, miller_index=adsorption.miller_index, hops=[hop], min_barrier_eV=barrier,
            min_hop="hollow-0->hollow-1", provenance=_prov(),
        )
