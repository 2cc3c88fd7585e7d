"""Documents of the surface kinetics: a facet's NEB hops and barriers, adatom MD diffusion and its Arrhenius fit, step edges."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pymatgen.core import Structure

from li_campaign.schemas.provenance import Provenance


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
    mechanism: Literal["hop", "exchange", "across_step_hop", "across_step_exchange"] = Field(
        "hop",
        description="hop: the adatom moves alone; exchange: it replaces a surface atom, which ends at site `end`; "
        "across_step_*: the same, descending a step edge.",
    )
    images_tried: list[int] | None = Field(None, description="Intermediate-image counts run, in order (n -> 2n+1).")
    barriers_by_images_eV: list[float] | None = Field(None, description="Forward barrier of each count in images_tried.")
    images_converged: bool | None = Field(
        None, description="The last two counts agree within the tolerance; None if no convergence was asked for."
    )
    moving_atoms: list[int] | None = Field(
        None, description="Indices (in the images) of the atoms that change site: the adatom, then a replaced atom."
    )
    replaced_atom: int | None = Field(None, description="Exchange: index of the surface atom pushed out.")
    valid: bool = Field(
        True,
        description="The band gives a barrier: distinct relaxed endpoints at their sites, optimiser converged, "
        "highest energy at an interior image (kinetics.diffusion.neb_path). An invalid band is kept to be "
        "listed but never used as a barrier.",
    )
    invalid_reason: str | None = Field(None, description="Why the band is invalid (None when valid).")
    endpoint_separation_A: float | None = Field(
        None, description="Smallest in-plane distance of a moving atom between the two relaxed endpoints (Å)."
    )
    start_energy_eV: float | None = Field(
        None, description="Absolute energy of the relaxed start endpoint (first image), eV; the saddle is this + forward."
    )
    end_energy_eV: float | None = Field(None, description="Absolute energy of the relaxed end endpoint (last image), eV.")
    image_energies_eV: list[float] | None = Field(
        None, description="Absolute energy of every image of the final band, endpoints included (eV)."
    )
    offset: tuple[int, int] | None = Field(
        None, description="Cell offset (i, j) of the end copy relative to the start's copy in the slab cell."
    )

    @property
    def path_label(self) -> str:
        """``"<mechanism> <start>-><end> (<distance> Å)"``, as rejected paths are named."""
        return f"{self.mechanism} {self.start}->{self.end} ({self.distance_A:.2f} Å)"


class DiffusionDoc(BaseModel):
    """Surface-diffusion barriers of one facet."""

    doc_type: Literal["diffusion"] = "diffusion"
    facet: str
    miller_index: tuple[int, int, int]
    hops: list[Hop]
    rejected_hops: list[str] = Field(default_factory=list, description="Hops left out, with the reason.")
    min_barrier_eV: float | None = Field(
        ..., description="Lowest single valid hop out of the ground site (eV); None when the facet has no hop network."
    )
    min_hop: str | None
    min_mechanism: str | None = Field("hop", description="Mechanism of min_hop: hop or exchange.")
    effective_barrier_eV: float | None = Field(
        None,
        description="Minimax (bottleneck) barrier of long-range transport on the periodic site graph, the lower of "
        "the two surface directions (eV); None if the valid hop network percolates in neither.",
    )
    effective_barrier_by_direction_eV: dict[str, float | None] = Field(
        default_factory=lambda: {"a": None, "b": None},
        description="Effective barrier along surface vector a and b of the slab cell (keys 'a', 'b'); None: no "
        "percolation along that direction.",
    )
    effective_path: list[str] = Field(
        default_factory=list, description="Steps 'start->end (mechanism)' of the effective path, ground site to its image."
    )
    effective_mechanism: str | None = Field(None, description="hop, exchange or mixed: the steps of effective_path.")
    percolates: dict[str, bool] = Field(
        default_factory=lambda: {"a": False, "b": False},
        description="Whether the valid hops connect the ground site to its own periodic image along a and along b.",
    )
    hop_cutoff_A: float | None = Field(None, description="Largest in-plane hop length of the site graph (Å).")
    provenance: Provenance


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
    friction_per_fs: float = Field(..., description="Langevin friction of the mobile slab atoms (1/fs).")
    adatom_friction_per_fs: float | None = Field(
        None, description="Langevin friction of the adatoms (1/fs): 0, the slab is the heat bath; None in older documents."
    )
    equilibration_steps: int
    production_steps: int = Field(..., description="Production steps run.")
    planned_production_steps: int | None = Field(
        None, description="Steps the barrier-based estimate asked for, before the spec's floor and cap; None without a barrier."
    )
    barrier_eV: float | None = Field(None, description="Facet barrier of the run-length estimate (effective NEB barrier, eV).")
    hop_rate_per_fs: float | None = Field(
        None, description="Estimated hop rate of one adatom, Γ = z ν0 exp(−E_b / k_B T) (1/fs)."
    )
    hop_coordination: int | None = Field(None, description="z of the estimate.")
    expected_hops: float | None = Field(None, description="Γ × n_adatoms × production time: hops the estimate expects.")
    run_length_reason: str | None = Field(None, description="How the production length was chosen.")
    mean_temperature_K: float = Field(..., description="⟨T_kin⟩ of all atoms over the production samples.")
    thermostat_temperature_K: float | None = Field(
        None, description="⟨T_kin⟩ of the thermostatted (mobile slab) atoms over the production; checked against the target."
    )
    adatom_temperature_K: float | None = Field(None, description="⟨T_kin⟩ of the adatoms over the production (no friction).")
    n_hops: int | None = Field(
        None, description="Site-to-site hops of all adatoms in the analysed production (capture-radius hysteresis)."
    )
    hops_per_adatom: list[int] | None = None
    hop_length_A: float | None = Field(None, description="Median hop length (Å); None without hops.")
    site_spacing_A: float | None = Field(None, description="Shortest distance between two stable sites (Å).")
    capture_radius_A: float | None = Field(None, description="A hop counts within this distance of a new site (Å).")
    sites_A: list[list[float]] | None = Field(
        None, description="Stable sites of one surface cell (in-plane Å): maxima of the adatoms' residence density."
    )
    surface_cell_A: list[list[float]] | None = Field(None, description="In-plane primitive surface cell (Å) of sites_A.")
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
    events: list[str] = Field(default_factory=list, description="Adatoms that sank below the top plane or desorbed.")
    invalid_reasons: list[str] = Field(
        default_factory=list,
        description="Why the run is not valid: events, too few hops, an MSD within a few hop lengths², the "
        "thermostatted temperature out of tolerance, too short to analyse.",
    )
    valid: bool = Field(
        ...,
        description="No adatom events, at least min_hops_valid hops, MSD beyond msd_hop_factor hop lengths² and the slab "
        "temperature within tolerance (an unstable run is a FlaggedResultDoc).",
    )
    wall_time_s: float
    trajectory: dict | None = Field(
        None, description="Strided frames (step, positions_A, cell_A, adatom_indices); routed to the large-data store."
    )
    provenance: Provenance


class LargeCellDiffusionDoc(BaseModel):
    """Li adatom self-diffusion on one facet at one temperature from MD of a wide slab with many adatoms.

    Stored in the ``adatom_diffusion`` collection beside the small-cell runs (same ``doc_type``),
    told apart by ``cell`` = "large" (:mod:`li_campaign.kinetics.large_cell`). A run stopped by its
    stability checks is stored as a :class:`~li_campaign.schemas.flags.FlaggedResultDoc`
    (``result_doc_type`` "adatom_diffusion", context ``cell`` "large").
    """

    doc_type: Literal["adatom_diffusion"] = "adatom_diffusion"
    cell: Literal["large"] = Field("large", description="large: this wide-slab run; small-cell runs have no such field.")
    facet: str
    miller_index: tuple[int, int, int]
    temperature_K: float
    n_atoms: int = Field(..., description="Atoms in the cell: slab and adatoms.")
    n_slab_atoms: int
    supercell: tuple[int, int] = Field(..., description="In-plane repeats of the facet's primitive slab.")
    n_fixed: int = Field(..., description="Bottom atoms held fixed.")
    cell_A: list[list[float]] = Field(..., description="Lattice matrix of the cell (Å).")
    receptive_field_A: float = Field(..., description="The model's receptive field (NequIP num_layers × r_max, Allegro r_max; Å).")
    adatom_spacing_A: float = Field(..., description="Smallest start distance between two adatoms, images included (Å).")
    n_adatoms: int
    n_valid: int = Field(..., description="Adatoms in D: never sunk, desorbed or clustered.")
    excluded: dict[str, int] = Field(
        ..., description="Adatoms left out, by their first event: sunk, desorbed, clustered (counts sum to n_adatoms − n_valid)."
    )
    excluded_adatoms: list[str] = Field(default_factory=list, description="Each left-out adatom: index, event and step.")
    timestep_fs: float
    friction_per_fs: float = Field(..., description="Langevin friction of the mobile slab atoms (1/fs); adatoms have none.")
    equilibration_steps: int
    production_steps: int
    sample_every: int
    thermostat_temperature_K: float = Field(..., description="⟨T_kin⟩ of the mobile slab atoms over the production (K).")
    diffusivity_cm2_s: float | None = Field(
        None, description="Tracer D of the valid adatoms (cm²/s): mean of the segment fits; None without one."
    )
    diffusivity_err_cm2_s: float | None = Field(None, description="Standard error of the segment values (cm²/s).")
    segment_diffusivities_cm2_s: list[float] | None = None
    fit_start_fs: float | None = Field(None, description="Shortest lag of the MSD fits (fs).")
    fit_end_fs: float | None = Field(None, description="Longest lag of the MSD fits (fs).")
    analysed_fs: float | None = Field(None, description="Length of the analysed production (fs).")
    msd_lag_fs: list[float] | None = None
    msd_A2: list[float] | None = Field(None, description="2D MSD per lag (Å²), averaged over valid adatoms, origins and segments.")
    n_hops: int = Field(..., description="Site-to-site hops of the valid adatoms.")
    hop_length_A: float | None = Field(None, description="Median hop length (Å); None without hops.")
    site_spacing_A: float | None = Field(None, description="Shortest distance between two stable sites (Å).")
    invalid_reasons: list[str] = Field(default_factory=list, description="Why there is no D (no valid adatom, too short).")
    valid: bool = Field(..., description="A D was measured from at least one valid adatom.")
    engine: Literal["torch_sim", "ase"] = Field(..., description="What ran the MD.")
    device: str = Field(..., description="cuda or cpu.")
    execution: dict | None = Field(None, description="torch-sim: the model form chosen and why (batched.loader record).")
    md_wall_time_s: float = Field(..., description="Wall time of the MD loop, sampling and classification excluded (s).")
    atom_steps_per_s: float = Field(..., description="n_atoms × steps / md_wall_time_s.")
    wall_time_per_ns_s: float = Field(..., description="md_wall_time_s per simulated nanosecond (s/ns).")
    wall_time_s: float = Field(..., description="Whole job: cell, MD and analysis (s).")
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
    neb_effective_barrier_eV: float | None = Field(
        None, description="The facet's effective (long-range transport) barrier, if the NEB document has one."
    )
    activation_minus_neb_eV: float | None = Field(
        None, description="Ea − the NEB barrier: the effective barrier where given, else neb_min_barrier_eV."
    )
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
