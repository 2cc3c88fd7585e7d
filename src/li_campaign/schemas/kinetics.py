"""Surface-kinetics results: adatom MD diffusion, its Arrhenius fit, and step-edge (Ehrlich–Schwoebel) barriers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from li_campaign.schemas.properties import Hop
from li_campaign.schemas.provenance import Provenance


class AdatomDiffusionDoc(BaseModel):
    """Li adatom self-diffusion on one facet at one temperature from NVT MD (2D MSD, D = slope / 4).

    A run stopped by its stability guard is stored as a
    :class:`~li_campaign.schemas.flags.FlaggedResultDoc` (``result_doc_type`` "adatom_diffusion").
    """

    doc_type: Literal["adatom_diffusion"] = "adatom_diffusion"
    facet: str
    miller_index: tuple[int, int, int]
    temperature_K: float
    n_adatoms: int
    n_atoms: int
    supercell: tuple[int, int] = Field(..., description="In-plane repeats of the facet's slab.")
    n_fixed: int = Field(..., description="Bottom atoms held fixed.")
    timestep_fs: float
    friction_per_fs: float = Field(..., description="Langevin friction (1/fs).")
    equilibration_steps: int
    production_steps: int
    mean_temperature_K: float = Field(..., description="⟨T_kin⟩ over the production samples (thermostat check).")
    diffusivity_cm2_s: float | None = Field(
        None, description="Tracer D of the adatoms (cm²/s): mean of the segment fits; None if too short to analyse."
    )
    diffusivity_err_cm2_s: float | None = Field(None, description="Standard error of the segment values (cm²/s).")
    segment_diffusivities_cm2_s: list[float] | None = None
    fit_start_fs: float | None = Field(None, description="Shortest lag of the MSD fits (fs).")
    fit_end_fs: float | None = Field(None, description="Longest lag of the MSD fits (fs).")
    analysed_fs: float | None = Field(None, description="Length of the analysed production (fs), cut at the first event.")
    msd_lag_fs: list[float] | None = None
    msd_A2: list[float] | None = Field(
        None, description="2D MSD per lag (Å²), averaged over adatoms, time origins and segments."
    )
    events: list[str] = Field(default_factory=list, description="Adatoms that sank into the surface or desorbed.")
    valid: bool = Field(..., description="D was measured without adatom events (an unstable run is a FlaggedResultDoc).")
    wall_time_s: float
    trajectory: dict | None = Field(
        None, description="Strided frames (step, positions_A, cell_A, adatom_indices); routed to the large-data store."
    )
    provenance: Provenance


class AdatomArrheniusDoc(BaseModel):
    """Arrhenius fit ln D = ln D0 − Ea / k_B T of adatom MD diffusivities of one facet and adatom count."""

    doc_type: Literal["adatom_arrhenius"] = "adatom_arrhenius"
    facet: str
    miller_index: tuple[int, int, int]
    n_adatoms: int
    temperatures_K: list[float] = Field(..., description="Temperatures of the valid runs that were fitted.")
    diffusivities_cm2_s: list[float]
    excluded: list[str] = Field(default_factory=list, description="Runs left out of the fit, with the reason.")
    activation_energy_eV: float | None = Field(None, description="Ea (eV); None with fewer than two valid runs.")
    activation_energy_err_eV: float | None = Field(None, description="Standard error of Ea (0 with two points).")
    prefactor_cm2_s: float | None = Field(None, description="D0 (cm²/s).")
    r2: float | None = None
    n: int = Field(..., description="Points in the fit.")
    neb_min_barrier_eV: float | None = Field(None, description="The facet's minimum CI-NEB barrier, if given.")
    neb_min_mechanism: str | None = None
    activation_minus_neb_eV: float | None = Field(None, description="Ea − neb_min_barrier_eV.")
    provenance: Provenance


class StepEdgeDiffusionDoc(BaseModel):
    """Descent of an adatom over one step edge (hop and exchange) and the Ehrlich–Schwoebel barrier."""

    doc_type: Literal["step_edge_diffusion"] = "step_edge_diffusion"
    terrace: str = Field(..., description="Facet label of the terraces, e.g. '110'.")
    step: str = Field("", description="Which step of the stepped slab (label given by the caller).")
    hops: list[Hop] = Field(..., description="across_step_hop / across_step_exchange paths (images to the data store).")
    rejected_hops: list[str] = Field(default_factory=list)
    terrace_hop: Hop | None = Field(None, description="Hop between the given terrace sites of the stepped slab.")
    terrace_barrier_eV: float | None = Field(None, description="Terrace hop barrier compared with (eV).")
    terrace_barrier_source: Literal["stepped_slab", "given"] | None = None
    step_edge_barrier_eV: float = Field(..., description="Smallest forward barrier of the across-step paths (eV).")
    step_edge_mechanism: str
    es_barrier_eV: float | None = Field(None, description="step_edge_barrier_eV − terrace_barrier_eV (eV).")
    provenance: Provenance
