"""Spec sections of adatom kinetics: NEB, its convergence, mechanisms, hops, adatom MD (small and large cells)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from li_campaign.core.miller import MillerIndex
from li_campaign.schemas.spec.base import LI_MELTING_POINT_K, MD_MAX_MELTING_FRACTION, MdGuardSpec, SpecSection, facet_list


class NebSpec(SpecSection):
    """Climbing-image NEB settings (ASE), and when a band counts as a barrier (kinetics.neb, kinetics.diffusion)."""

    n_images: int = Field(5, ge=1, le=31, description="Intermediate images.")
    fmax_eV_A: float = Field(
        0.01,
        gt=0,
        le=1.0,
        description=(
            "Force convergence of the climbing phase (eV/Å). A residual force f on the climbing image along a path "
            "of negative curvature κ misplaces the saddle energy by about f²/(2|κ|); a 0.01 eV barrier over a 0.8 Å "
            "hop has |κ| ≈ 8 E_b/d² ≈ 0.13 eV/Å², so f = 0.05 (the former default) can err by 0.01 eV, the whole "
            "barrier, while 0.01 errs by < 0.5 meV (< 5 %) and resolves barriers of 0.01–0.1 eV."
        ),
    )
    preconverge_fmax_eV_A: float = Field(
        0.05,
        gt=0,
        le=1.0,
        description=(
            "With climb: the band first runs as a plain NEB (climb off) to max(this, fmax_eV_A), then the "
            "climbing image is switched on and the band runs to fmax_eV_A, so climbing starts near the path."
        ),
    )
    max_steps: int = Field(
        1000, ge=1, description="FIRE steps of one band, both phases together; a band that runs out is invalid."
    )
    climb: bool = True
    spring_constant: float = Field(0.1, gt=0)
    min_barrier_eV: float = Field(
        0.001,
        ge=0,
        description=(
            "A band whose highest interior image is less than this above the higher endpoint has no resolvable "
            "interior maximum and is invalid (no silent zero barrier)."
        ),
    )
    max_endpoint_drift_fraction: float = Field(
        0.3,
        gt=0,
        lt=0.5,
        description=(
            "A relaxed endpoint whose moving atom ends further in-plane from its site than this fraction of that "
            "atom's hop length has left its site (below 0.5: it stays nearer its own site than the other one); "
            "the band is invalid."
        ),
    )
    min_endpoint_separation_fraction: float = Field(
        0.5,
        gt=0,
        le=1.0,
        description=(
            "The relaxed endpoints must place each moving atom at least this fraction of its initial hop length "
            "apart in-plane; closer, both endpoints relaxed into one minimum and the band is invalid (degenerate)."
        ),
    )


class NebConvergenceSpec(SpecSection):
    """Image-count convergence of every surface CI-NEB (kinetics.neb.converged_neb).

    The band is run with ``neb.n_images`` intermediate images, then refined to 2n + 1 (the
    converged images plus the midpoints between them) until the barrier changes by less than
    ``tolerance_eV`` or the next count would exceed ``max_images`` (then flagged not converged).
    """

    enabled: bool = Field(True, description="False: one NEB with neb.n_images, images_converged left unset.")
    tolerance_eV: float = Field(0.01, gt=0, description="Converged when the barrier changes by less than this (eV).")
    max_images: int = Field(15, ge=1, le=63, description="Most intermediate images tried.")


class SurfaceMechanismSpec(SpecSection):
    """Surface-diffusion mechanisms beyond the adatom hop."""

    exchange: bool = Field(True, description="Compute exchange paths (adatom replaces a surface atom).")
    exchange_facets: list[MillerIndex] = Field(
        default_factory=lambda: [(1, 0, 0), (1, 1, 0), (1, 1, 1)],
        description="Facets whose exchange paths are computed (they are many and costly on open facets).",
    )
    across_step: bool = Field(True, description="Compute the descending hop and exchange at step edges (Ehrlich–Schwoebel).")

    _check_facets = field_validator("exchange_facets", mode="before")(classmethod(lambda cls, v: facet_list(v)))


class MdDiffusionSpec(SpecSection):
    """NVT (Langevin) MD of Li adatoms on slabs: 2D MSD → D(T) and an Arrhenius fit.

    One job per facet, temperature and adatom count. The production length follows from the
    facet's effective NEB barrier when the fan-out has it (see
    :func:`li_campaign.kinetics.md_diffusion.planned_production_steps`): at least
    ``production_steps``, at most ``max_production_steps``. A run is valid only with
    ``min_hops_valid`` site-to-site hops and an MSD of ``msd_hop_factor`` squared hop lengths
    at the end of the fit window. Cost per job: ``equilibration_steps`` + the planned
    production of 37–75 atoms (slab + adatoms, at a = 3.44 Å).
    """

    facets: Annotated[list[MillerIndex], Field(min_length=1)] = Field(
        default_factory=lambda: [(1, 0, 0), (1, 1, 0), (1, 1, 1)]
    )
    temperatures_K: Annotated[list[float], Field(min_length=1)] = Field(
        default_factory=lambda: [200.0, 300.0, 400.0],
        description="Temperatures (K), each below 0.9 × 453.7 K (bcc Li melts at 453.7 K, expt.) = 408.3 K. "
        "Two or more give an Arrhenius fit.",
    )
    n_adatoms: Annotated[list[int], Field(min_length=1)] = Field(
        default_factory=lambda: [1, 3], description="Adatoms on the slab, one run each."
    )
    equilibration_steps: int = Field(500, ge=0, description="Steps discarded before the MSD is recorded.")
    production_steps: int = Field(
        3000, ge=100, description="Fewest production steps; the whole production when no facet barrier is given."
    )
    max_production_steps: int = Field(
        100_000, ge=100, description="Most production steps a barrier-based run-length estimate may ask for."
    )
    min_hops: int = Field(
        20, ge=1, description="Expected site-to-site hops (all adatoms) the run length is planned for."
    )
    min_hops_valid: int = Field(10, ge=1, description="A run with fewer counted hops (all adatoms) is not valid.")
    msd_hop_factor: float = Field(
        3.0, gt=0, description="A run is valid only if the MSD at the end of the fit window exceeds this × hop length²."
    )
    attempt_frequency_THz: float = Field(
        2.0, gt=0, description="Attempt frequency ν0 of the hop-rate estimate Γ = z ν0 exp(−E_b / k_B T) (THz)."
    )
    hop_coordination: int | None = Field(
        None, ge=1, description="z of the hop-rate estimate; None: nearest neighbours of the surface lattice."
    )
    capture_fraction: float = Field(
        0.3, gt=0, lt=0.5, description="A hop counts when the adatom comes within this × the site spacing of a new site."
    )
    temperature_tolerance: float = Field(
        0.1, gt=0, lt=1.0, description="Largest relative deviation of the thermostatted slab's mean temperature."
    )
    timestep_fs: float = Field(2.0, gt=0, le=5.0)
    friction_per_fs: float = Field(
        0.01, gt=0, le=1.0, description="Langevin friction γ (1/fs) on the mobile slab atoms; the adatoms have none."
    )
    min_slab_size_A: float = Field(6.0, gt=2.0, description="Minimum slab thickness (Å).")
    min_vacuum_A: float = Field(10.0, ge=5.0, description="Minimum vacuum thickness (Å).")
    min_lateral_A: float = Field(10.0, gt=0, description="Minimum in-plane size of the cell (Å).")
    fixed_bottom_A: float = Field(2.0, ge=0, description="Atoms this far from the bottom are fixed.")
    sample_every: int = Field(10, ge=1, description="Steps between adatom positions used for the MSD.")
    trajectory_every: int = Field(100, ge=1, description="Steps between full frames sent to the large-data store.")
    fit_window: tuple[float, float] = Field(
        (0.1, 0.4), description="MSD fit range (lag times) as fractions of a segment's length."
    )
    n_segments: int = Field(
        4, ge=2, le=50, description="Consecutive segments, each fitted: D is their mean, its error their standard error."
    )
    guard: MdGuardSpec = Field(
        MdGuardSpec(), description="Stability limits: a run that crosses one stops with a flagged document."
    )
    seed: int = Field(11, description="Seed of the adatom placement, velocities and Langevin noise.")

    _check_facets = field_validator("facets", mode="before")(classmethod(lambda cls, v: facet_list(v)))

    @field_validator("temperatures_K")
    @classmethod
    def _below_melting(cls, value: list[float]) -> list[float]:
        limit = MD_MAX_MELTING_FRACTION * LI_MELTING_POINT_K
        hot = [t for t in value if t >= limit]
        if hot:
            raise ValueError(
                f"temperatures_K {hot}: adatom MD must stay below {MD_MAX_MELTING_FRACTION:g} × the melting point of "
                f"bcc Li ({LI_MELTING_POINT_K} K, expt.) = {limit:.1f} K"
            )
        return value

    @model_validator(mode="after")
    def _checks(self) -> MdDiffusionSpec:
        if min(self.temperatures_K) <= 0:
            raise ValueError(f"temperatures_K {self.temperatures_K}: temperatures must be > 0 K")
        if self.max_production_steps < self.production_steps:
            raise ValueError(
                f"max_production_steps {self.max_production_steps} < production_steps {self.production_steps}"
            )
        if self.min_hops < self.min_hops_valid:
            raise ValueError(f"min_hops {self.min_hops} < min_hops_valid {self.min_hops_valid}: plan for at least as many")
        if min(self.n_adatoms) < 1:
            raise ValueError(f"n_adatoms {self.n_adatoms}: each run needs at least one adatom")
        lo, hi = self.fit_window
        if not 0 <= lo < hi <= 1:
            raise ValueError(f"fit_window {self.fit_window}: need 0 <= start < end <= 1")
        if self.production_steps // self.sample_every < 4 * self.n_segments:
            raise ValueError(
                f"production_steps {self.production_steps} / sample_every {self.sample_every}: "
                f"need at least 4 samples per segment (n_segments = {self.n_segments})"
            )
        return self


class LargeCellDiffusionSpec(SpecSection):
    """Adatom diffusion in a large cell: NVT MD of a wide slab carrying many adatoms at low coverage.

    One job per facet and temperature (:class:`~li_campaign.kinetics.jobs.LargeCellDiffusionMaker`,
    :mod:`li_campaign.kinetics.large_cell`). The symmetric slab of the facet is repeated in-plane
    to ``min_atoms`` slab atoms (or ``min_lateral_A``); adatoms sit on a grid whose points are at
    least the model's receptive field (NequIP: num_layers × r_max; Allegro: r_max) plus
    ``spacing_margin_A`` apart, so no adatom lies in another's receptive field while they stay
    apart (the force on an adatom still depends, through the slab atoms between them, on atoms up to
    twice that far: a larger margin narrows that). D(T) and its error come from the 2D MSD of the valid adatoms (block segments, as the
    small-cell MD of ``md_diffusion``); an adatom that sinks into the surface, desorbs or comes
    within ``cluster_fraction`` bulk nearest-neighbour distances of another adatom is left out
    and counted. Off by default (``enabled: false``; a disabled or absent section leaves the
    spec hash as it was).
    """

    enabled: bool = Field(False, description="Run the large-cell diffusion (one job per facet and temperature).")
    facets: Annotated[list[MillerIndex], Field(min_length=1)] = Field(
        default_factory=lambda: [(1, 0, 0), (1, 1, 0), (1, 1, 1)], description="Facets, one wide slab each."
    )
    temperatures_K: Annotated[list[float], Field(min_length=1)] = Field(
        default_factory=lambda: [250.0, 300.0, 350.0, 400.0],
        description="Temperatures (K), each above 0 and below 0.9 × 453.7 K (bcc Li melts at 453.7 K, expt.) = "
        "408.3 K; two or more give the facet's Arrhenius fit.",
    )
    min_atoms: int | None = Field(
        100_000,
        ge=1,
        description="Fewest slab atoms: the slab is repeated in-plane to a square-ish cell of at least this many "
        "atoms. None: min_lateral_A alone decides.",
    )
    min_lateral_A: float = Field(
        0.0, ge=0, description="Smallest in-plane width of the cell (Å); the larger of this and min_atoms' cell is used."
    )
    spacing_margin_A: float = Field(
        2.0,
        ge=0,
        description="Adatoms start at least the model's receptive field plus this apart in-plane (Å); the receptive "
        "field is num_layers × r_max for NequIP and r_max for Allegro (from the model's hyperparameters).",
    )
    min_slab_size_A: float = Field(6.0, gt=2.0, description="Minimum slab thickness (Å), as in md_diffusion.")
    min_vacuum_A: float = Field(10.0, ge=5.0, description="Minimum vacuum thickness (Å).")
    fixed_bottom_A: float = Field(2.0, ge=0, description="Atoms less than this (Å) above the lowest atom are fixed.")
    timestep_fs: float = Field(2.0, gt=0, le=5.0, description="MD time step (fs).")
    friction_per_fs: float = Field(
        0.01,
        gt=0,
        le=1.0,
        description="Langevin friction γ (1/fs) on the mobile slab atoms; the adatoms have none (the slab is the heat "
        "bath), as in md_diffusion.",
    )
    equilibration_steps: int = Field(1000, ge=0, description="Steps run before the adatom positions are recorded.")
    production_steps: int = Field(50_000, ge=100, description="Steps whose samples enter the MSD.")
    sample_every: int = Field(10, ge=1, description="Steps between recorded adatom positions (and classifications).")
    n_segments: int = Field(
        4, ge=2, le=50, description="Consecutive segments, each fitted: D is their mean, its error their standard error."
    )
    fit_window: tuple[float, float] = Field(
        (0.1, 0.4), description="MSD fit range (lag times) as fractions of a segment's length."
    )
    cluster_fraction: float = Field(
        1.2,
        gt=0,
        description="Two adatoms closer in-plane than this × the bulk nearest-neighbour distance at any sample have "
        "clustered; both are left out.",
    )
    max_force_eV_A: float = Field(
        10.0, gt=0, description="Stop the run (flagged, no D) when the force on one atom exceeds this (eV/Å)."
    )
    max_temperature_factor: float = Field(
        3.0, gt=1, description="Stop the run (flagged, no D) when the kinetic temperature exceeds this × the target."
    )
    engine: Literal["auto", "torch_sim", "ase"] = Field(
        "auto",
        description="torch_sim: the model's batch form through torch-sim on the worker's GPU (CPU if it has none); "
        "ase: ASE Langevin with the model's ASE calculator; auto: torch_sim where the worker has CUDA, else ase.",
    )
    seed: int = Field(11, description="Seed of the velocities and the Langevin noise.")

    _check_facets = field_validator("facets", mode="before")(classmethod(lambda cls, v: facet_list(v)))

    @field_validator("temperatures_K")
    @classmethod
    def _below_melting(cls, value: list[float]) -> list[float]:
        limit = MD_MAX_MELTING_FRACTION * LI_MELTING_POINT_K
        bad = [t for t in value if not 0 < t < limit]
        if bad:
            raise ValueError(
                f"temperatures_K {bad}: each must lie above 0 K and below {MD_MAX_MELTING_FRACTION:g} × the melting "
                f"point of bcc Li ({LI_MELTING_POINT_K} K, expt.) = {limit:.1f} K"
            )
        return value

    @field_validator("fit_window")
    @classmethod
    def _window(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= value[0] < value[1] <= 1:
            raise ValueError(f"fit_window {value}: need 0 <= start < end <= 1")
        return value

    @model_validator(mode="after")
    def _checks(self) -> LargeCellDiffusionSpec:
        if self.min_atoms is None and self.min_lateral_A <= 0:
            raise ValueError("min_atoms is None and min_lateral_A is 0: give the cell a size with one of them")
        if self.production_steps // self.sample_every < 4 * self.n_segments:
            raise ValueError(
                f"production_steps {self.production_steps} / sample_every {self.sample_every}: "
                f"need at least 4 samples per segment (n_segments = {self.n_segments})"
            )
        return self


class HopSpec(SpecSection):
    """Which pairs of stable-site copies are joined by a hop (an edge of the site graph, one CI-NEB per class)."""

    max_hop_nn: float = Field(
        1.25,
        gt=0.3,
        le=3.0,
        description=(
            "Largest in-plane hop length, in units of the bulk nearest-neighbour distance d_nn: every pair of "
            "stable-site copies (periodic images included) closer than this is a hop. 1.25 d_nn (3.7 Å for Li) "
            "keeps the (100) hollow-hollow hop (1.15 d_nn), the (110) short-bridge crossing and the (211) "
            "trough hop (1.0 d_nn)."
        ),
    )
    max_extended_hop_nn: float = Field(
        2.0,
        gt=0.3,
        le=4.0,
        description=(
            "Where the valid hops within max_hop_nn do not connect the lowest site to its periodic images along "
            "both surface vectors, longer hops are added shell by shell up to this many d_nn: bcc(111), whose "
            "shallow hollow is no minimum, has its deep hollows 1.63 d_nn apart, and the (211) troughs are "
            "1.6 d_nn apart across the ridge. Below max_hop_nn it has no effect."
        ),
    )
