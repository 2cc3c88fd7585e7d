"""Documents of the surfaces: surface energy (one slab, converged), adsorption sites, step energy, step adsorption."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pymatgen.core import Structure

from li_campaign.schemas.provenance import Provenance


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
    adsorption_energy_eV: float = Field(
        ..., description="Pinned E_ads = E(slab+Li) − E(slab) − ε_bulk, adatom fixed laterally at the ideal site (eV)."
    )
    stable: bool = Field(..., description="True if a laterally free relaxation from a kicked start stays here.")
    relaxed_to: str = Field(..., description="Label of the site the free relaxation ended at.")
    free_adsorption_energy_eV: float = Field(
        ..., description="Free E_ads: the same after a laterally free relaxation from a kicked start (eV); for a "
        "stable site, the energy of the relaxed minimum the NEBs start from."
    )
    lateral_curvature_eV_A2: list[float] | None = Field(
        None,
        description="Eigenvalues (ascending) of the adatom's in-plane Hessian at the pinned geometry, slab held "
        "(eV/Å²); a negative one makes the site a saddle or maximum. None in results stored before it.",
    )


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
    min_adsorption_energy_eV: float = Field(
        ..., description="Facet minimum (eV): the lowest free_adsorption_energy_eV over the stable sites (the NEBs' "
        "minima), or the lowest pinned adsorption_energy_eV over all sites if none is stable; see min_adsorption_basis."
    )
    min_site: str = Field(..., description="Label of the site of min_adsorption_energy_eV.")
    min_adsorption_basis: Literal["free_relaxed_stable_minimum", "pinned_all_sites"] | None = Field(
        None, description="Which energy min_adsorption_energy_eV is; None in documents stored before the field, whose "
        "minimum is the pinned one (min_pinned_adsorption_energy_eV)."
    )
    min_pinned_adsorption_energy_eV: float | None = Field(
        None, description="Lowest pinned adsorption_energy_eV over the stable sites (all sites if none is stable), eV."
    )
    min_pinned_site: str | None = Field(None, description="Label of the site of min_pinned_adsorption_energy_eV.")
    slab_structure: Structure = Field(..., description="Relaxed clean slab (with fixed-atom flags in site_properties).")
    site_copies: dict[str, list[list[float]]] = Field(
        ..., description="Every symmetry-equivalent copy of each site in the cell (Cartesian Å), for hop enumeration."
    )
    site_heights_A: dict[str, float] = Field(..., description="Relaxed adatom z per site (Å).")
    provenance: Provenance


class SurfaceSeriesPoint(BaseModel):
    """One relaxed slab of a thickness or vacuum series."""

    n_layers: int
    n_atoms: int
    slab_thickness_A: float = Field(..., description="Relaxed max z − min z (Å).")
    vacuum_A: float = Field(..., description="Vacuum set before the relaxation (Å).")
    surface_energy_J_m2: float
    relax_converged: bool


class ConvergedSurfaceEnergyDoc(SurfaceEnergyDoc):
    """γ of one facet, converged in slab thickness and vacuum (``doc_type`` stays ``surface_energy``).

    The inherited fields (γ, ``n_layers``, ``slab_thickness_A``, ``vacuum_A``,
    ``relaxed_structure``, ...) are those of the reported slab: the thickest of the thickness
    series at the smaller vacuum of the converged vacuum pair.
    """

    high_index: bool = Field(..., description="Any reduced Miller index above 1.")
    thickness_series: list[SurfaceSeriesPoint] = Field(..., description="Slabs of increasing thickness, in order.")
    vacuum_series: list[SurfaceSeriesPoint] = Field(..., description="The chosen slab at increasing vacuum, in order.")
    thickness_converged: bool = Field(..., description="γ of the two thickest slabs differ by less than the tolerance.")
    vacuum_converged: bool = Field(..., description="γ at the last two vacua differ by less than the tolerance.")
    converged: bool = Field(..., description="Both.")
    convergence_tolerance_J_m2: float
    termination_shift: float = Field(..., description="pymatgen SlabGenerator shift of the termination (fractional c).")
    n_terminations: int = Field(..., description="Terminations pymatgen finds for the facet: 1 for every bcc facet.")
    notes: list[str] = Field(default_factory=list, description="Why a series is not converged.")


class StepSiteDoc(BaseModel):
    """One symmetry-distinct lattice-continuation site of a stepped slab."""

    label: str = Field(..., description="e.g. 'terrace-0', 'step-edge-upper-0', 'step-edge-lower-0', 'kink-0'.")
    site_class: Literal["terrace", "step-edge-upper", "step-edge-lower", "kink"]
    level: Literal["upper", "lower"] = Field(..., description="Above the upper terrace, or in the removed plane.")
    position_A: list[float] = Field(..., description="Cartesian position in the slab cell (Å).")
    distance_to_edge_A: float = Field(..., description="In-plane distance to the nearest step-edge row (Å).")
    copies: list[list[float]] = Field(..., description="Symmetry-equivalent copies in the cell (Cartesian Å), this one first.")


class SteppedSlabInfo(BaseModel):
    """Geometry of a stepped (or kinked) slab."""

    terrace: str = Field(..., description="Terrace facet label: '100' or '110'.")
    terrace_miller_index: tuple[int, int, int]
    kinked: bool
    step_vector_cell: tuple[int, int] = Field(..., description="Step direction as (i, j) of the primitive terrace cell's a, b.")
    step_direction: list[float] = Field(..., description="Unit vector along the step, slab frame (normal along z).")
    step_direction_family: str = Field(..., description="Cubic family of the step direction, e.g. '<111>'.")
    atom_spacing_A: float = Field(..., description="Distance between edge atoms along the step (Å).")
    row_spacing_A: float = Field(..., description="Distance between rows across the step (Å).")
    step_height_A: float
    terrace_width_rows: int
    terrace_width_A: float
    n_along: int = Field(..., description="Atoms per cell along the step.")
    step_length_A: float = Field(..., description="Length of each step per cell (Å).")
    n_steps: int = Field(..., description="Steps per cell (one up, one down).")
    n_removed: int = Field(..., description="Atoms removed from the flat reference.")
    n_layers: int
    fix_bottom_layers: int
    sites: list[StepSiteDoc]


class StepEnergyDoc(BaseModel):
    """Step formation energy per unit length: λ = [E(stepped) − E(flat) + n_removed ε_bulk] / (n_steps L)."""

    doc_type: Literal["step_energy"] = "step_energy"
    terrace: str
    terrace_miller_index: tuple[int, int, int]
    step_direction_family: str
    terrace_width_rows: int
    terrace_width_A: float
    step_energy_eV_per_A: float
    stepped_energy_eV: float
    flat_energy_eV: float
    bulk_energy_per_atom_eV: float
    relax_converged: bool = Field(..., description="Both the stepped and the flat relaxation reached fmax.")
    relax_steps: list[int] = Field(..., description="Optimizer steps: [stepped, flat].")
    geometry: SteppedSlabInfo
    relaxed_structure: Structure = Field(..., description="Relaxed stepped slab (fixed atoms flagged by selective_dynamics).")
    provenance: Provenance


class StepAdsorptionSite(BaseModel):
    """Li self-adsorption at one site of a stepped slab."""

    label: str
    site_class: Literal["terrace", "step-edge-upper", "step-edge-lower", "kink"]
    level: Literal["upper", "lower"]
    position_A: list[float] = Field(..., description="Start: the lattice-continuation position (Å).")
    final_position_A: list[float] = Field(..., description="Relaxed adatom position (Å).")
    distance_to_edge_A: float
    adsorption_energy_eV: float = Field(..., description="E(slab+Li) − E(slab) − ε_bulk, adatom free (eV).")
    displacement_A: float = Field(..., description="Distance from the start to the relaxed position (Å).")
    relaxed_to: str = Field(..., description="Label of the site whose copy is nearest to the relaxed position.")
    stable: bool = Field(..., description="relaxed_to is this site.")
    relax_converged: bool


class StepAdsorptionDoc(BaseModel):
    """Li self-adsorption at the labelled sites of one stepped or kinked slab."""

    doc_type: Literal["step_adsorption"] = "step_adsorption"
    terrace: str
    terrace_miller_index: tuple[int, int, int]
    kind: Literal["stepped", "kinked"]
    slab_energy_eV: float
    bulk_energy_per_atom_eV: float
    n_slab_atoms: int
    sites: list[StepAdsorptionSite]
    min_adsorption_energy_eV: float
    min_site: str
    geometry: SteppedSlabInfo
    slab_structure: Structure = Field(..., description="Relaxed clean stepped slab (fixed atoms flagged).")
    provenance: Provenance
