"""Fan-out results computed with a deployed model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pymatgen.core import Structure

from li_campaign.schemas.provenance import Provenance


class BulkDoc(BaseModel):
    """Relaxed bcc lattice from a Birch–Murnaghan fit of E(V)."""

    doc_type: Literal["bulk"] = "bulk"
    source: Literal["mlip", "dft"] = Field("mlip", description="Deployed model, or the DFT teacher.")
    lattice_constant_A: float
    energy_per_atom_eV: float = Field(..., description="ε_bulk at the equilibrium volume (eV/atom).")
    bulk_modulus_GPa: float
    volumes_A3_atom: list[float]
    energies_eV_atom: list[float]
    provenance: Provenance


class SurfaceEnergyDoc(BaseModel):
    """Surface energy of a symmetric slab, bulk-referenced: γ = (E_slab − N ε_bulk) / 2A."""

    doc_type: Literal["surface_energy"] = "surface_energy"
    facet: str = Field(..., description="Canonical facet label, e.g. '110'.")
    miller_index: tuple[int, int, int]
    n_atoms: int
    n_layers: int
    slab_thickness_A: float
    vacuum_A: float
    area_A2: float
    slab_energy_eV: float
    bulk_energy_per_atom_eV: float
    surface_energy_J_m2: float
    surface_energy_eV_A2: float
    relaxed_structure: Structure
    relax_converged: bool = Field(..., description="Whether the relaxation reached fmax.")
    relax_steps: int
    provenance: Provenance


class AdsorptionSite(BaseModel):
    """One symmetry-distinct adatom site and its self-adsorption energy."""

    label: str = Field(..., description="Unique within the facet, e.g. 'hollow-0'.")
    site_type: str = Field(..., description="pymatgen AdsorbateSiteFinder type: ontop, bridge, hollow.")
    position_A: list[float] = Field(..., description="Cartesian adatom position in the slab cell (Å).")
    adsorption_energy_eV: float = Field(..., description="E(slab+Li) − E(slab) − ε_bulk, adatom fixed laterally.")
    stable: bool = Field(..., description="True if a laterally free relaxation from a kicked start stays here.")
    relaxed_to: str = Field(..., description="Label of the site the free relaxation ended at.")
    free_adsorption_energy_eV: float = Field(..., description="E_ads after the free relaxation.")


class AdsorptionDoc(BaseModel):
    """Self-adsorption energies at every symmetry-distinct site of one facet."""

    doc_type: Literal["adsorption"] = "adsorption"
    facet: str
    miller_index: tuple[int, int, int]
    n_slab_atoms: int
    supercell: tuple[int, int]
    slab_energy_eV: float
    bulk_energy_per_atom_eV: float
    sites: list[AdsorptionSite]
    min_adsorption_energy_eV: float
    min_site: str
    slab_structure: Structure = Field(..., description="Relaxed clean slab (with fixed-atom flags in site_properties).")
    site_copies: dict[str, list[list[float]]] = Field(
        ..., description="Every symmetry-equivalent copy of each site in the cell (Cartesian Å), for hop enumeration."
    )
    site_heights_A: dict[str, float] = Field(..., description="Relaxed adatom z per site (Å).")
    provenance: Provenance


class Hop(BaseModel):
    """One symmetry-distinct hop between neighbouring stable sites, from CI-NEB."""

    start: str
    end: str
    distance_A: float
    barrier_forward_eV: float
    barrier_reverse_eV: float
    n_images: int
    converged: bool
    endpoint_drift_A: float = Field(..., description="Largest in-plane move of a relaxed endpoint from its site (Å).")
    images: list[Structure] | None = Field(
        None, description="Relaxed NEB images (Structure dicts); jobs route this key to the large-data store."
    )


class DiffusionDoc(BaseModel):
    """Surface-diffusion barriers of one facet."""

    doc_type: Literal["diffusion"] = "diffusion"
    facet: str
    miller_index: tuple[int, int, int]
    hops: list[Hop]
    rejected_hops: list[str] = Field(default_factory=list, description="Hops left out, with the reason.")
    min_barrier_eV: float
    min_hop: str
    provenance: Provenance
