"""Spec sections of the training set: bulk, vacancy, slab, adatom, EOS, rattle, divacancy, AIMD and
relaxation-trajectory frames (``training_set``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from li_campaign.core.miller import MillerIndex
from li_campaign.schemas.spec.base import SpecSection, facet_list
from li_campaign.schemas.spec.dft import MorseSpec
from li_campaign.schemas.spec.surfaces import StepSpec


class BulkTrainingSpec(SpecSection):
    """Strained and rattled bulk cells."""

    n_strained: int = Field(12, ge=0, description="Conventional 2-atom cells under random strain.")
    max_strain: float = Field(0.04, gt=0, lt=0.3, description="Largest strain component (fraction).")
    n_rattled: int = Field(10, ge=0, description="Strained cells with random atomic displacements.")
    rattle_std_A: float = Field(0.08, gt=0, lt=0.5, description="Std. dev. of the rattle (Å).")
    rattled_supercell: tuple[int, int, int] = Field((1, 1, 1), description="Repeat of the 2-atom cell.")
    n_large_rattled: int = Field(0, ge=0, description="Rattled cells of the vacancy supercell size.")


class VacancyTrainingSpec(SpecSection):
    """Vacancy cells."""

    supercell: tuple[int, int, int] = Field((2, 2, 2), description="Repeat of the 2-atom cell.")
    n_rattled: int = Field(1, ge=1, description="Vacancy cells (the first unrattled).")


class SlabTrainingSpec(SpecSection):
    """Slabs and adatom slabs for training."""

    facets: Annotated[list[MillerIndex], Field(min_length=1)] = Field(
        default_factory=lambda: [(1, 0, 0), (1, 1, 0), (1, 1, 1)]
    )
    min_slab_size_A: float = Field(6.0, gt=2.0, description="Minimum slab thickness (Å).")
    min_vacuum_A: float = Field(8.0, ge=5.0, description="Minimum vacuum thickness (Å).")
    adatom: bool = Field(
        True,
        description=(
            "Also label each slab with one Li adatom at every symmetry-distinct top-surface site "
            "(geometry.slabs.top_surface_sites, the fan-out's site finder), each at adatom_n_heights heights."
        ),
    )
    adatom_min_lateral_A: float = Field(
        6.0, gt=0, description="Floor on the in-plane size of adatom cells (Å); see adatom_min_image_distance_A."
    )
    adatom_min_image_distance_A: float | None = Field(
        None,
        gt=0,
        description=(
            "Adatom cells repeat the slab in-plane until the adatom's periodic images are at least this far apart "
            "(Å; and at least adatom_min_lateral_A). None: the campaign's mlip.r_max_A, so the model never sees an "
            "adatom's own image (the fan-out's dilute coverage, not a monolayer)."
        ),
    )
    max_adatom_sites: None = Field(
        None,
        description=(
            "Removed: it kept only the first sites of each facet and dropped the bulk-continuation sites. Every "
            "symmetry-distinct site now gets adatom cells; leave this out."
        ),
    )
    adatom_n_heights: int = Field(
        4, ge=1, le=12, description="Adatom heights per site (the height scan); 1: the start height only."
    )
    adatom_height_range_A: tuple[float, float] = Field(
        (-0.3, 0.6),
        description=(
            "Offsets (Å) of the lowest and highest scan height from the start height, where the adatom's nearest "
            "slab atom is one bulk nearest-neighbour distance away; the heights are evenly spaced between them."
        ),
    )
    adatom_height_jitter_A: float = Field(
        0.05, ge=0, le=1.0, description="Random vertical offset (Å) added to each adatom height (uniform in ±this)."
    )
    n_perturbed: int = Field(
        3, ge=0, description="Perturbed copies of each clean slab: strained along z, outer layers shifted, rattled."
    )
    fanout_thickness: bool = Field(
        True,
        description=(
            "Also label each facet's clean slab at the fan-out's thickness (fanout.slab.min_slab_size_A) with "
            "n_perturbed perturbed copies, where it has more or fewer layers than the training slab: the fan-out's "
            "surface energies and adsorption cells are measured against that slab, and a model that saw only a "
            "thinner one extrapolates (demo (110): 4 training layers against 5 in the fan-out; refitted with "
            "them, the model's gamma(110) error went from -0.051 to -0.038 J/m2, "
            "benchmarks/results/fit_slab_thickness_2026-12-04.txt)."
        ),
    )
    max_z_strain: float = Field(0.06, ge=0, lt=0.3, description="Largest strain of the interlayer spacings.")
    surface_shift_A: float = Field(0.3, ge=0, lt=1.0, description="Largest shift of each outermost layer along z (Å).")
    rattle_std_A: float = Field(0.05, gt=0, lt=0.5, description="Std. dev. of the slab rattle (Å).")
    max_miller_index: int | None = Field(
        None,
        ge=1,
        le=4,
        description="If set, the facets are every distinct bcc facet up to this index (geometry.facets), not `facets`.",
    )

    _check_facets = field_validator("facets", mode="before")(classmethod(lambda cls, v: facet_list(v)))

    @field_validator("max_adatom_sites", mode="before")
    @classmethod
    def _removed_max_adatom_sites(cls, value: object) -> None:
        if value is not None:
            raise ValueError(
                f"max_adatom_sites ({value!r}) was removed: it truncated the site list and dropped the "
                "bulk-continuation sites ((110) long bridge, (111) deep hollow). Every symmetry-distinct site now gets "
                "adatom cells; remove the field (fewer adatom frames: adatom_n_heights, facets or adatom: false)"
            )
        return None

    @field_validator("adatom_height_range_A")
    @classmethod
    def _height_range(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not (-1.0 <= low <= high <= 2.0):
            raise ValueError(
                f"adatom_height_range_A {tuple(value)}: need -1.0 <= low <= high <= 2.0 Å (offsets from the start height)"
            )
        return value


class EosTrainingSpec(SpecSection):
    """Equation-of-state frames: the 2-atom cube under isotropic strain (origin ``bulk_eos``)."""

    n_points: int = Field(9, ge=2, le=41, description="Volumes, evenly spaced in linear strain.")
    max_linear_strain: float = Field(
        0.08, gt=0, lt=0.3, description="Largest linear strain (fraction): a ranges over a(1 ± this)."
    )


class RattleTrainingSpec(SpecSection):
    """Rattled supercells at several amplitudes (origin ``bulk_rattle``)."""

    supercell: tuple[int, int, int] = Field((2, 2, 2), description="Repeat of the 2-atom cell.")
    amplitudes_A: Annotated[list[float], Field(min_length=1)] = Field(
        default_factory=lambda: [0.05, 0.1, 0.2], description="Std. dev. of the Gaussian displacements (Å), one set each."
    )
    n_per_amplitude: int = Field(2, ge=1, description="Cells per amplitude.")
    max_strain: float = Field(0.02, ge=0, lt=0.3, description="Largest random strain component applied first (fraction).")

    @field_validator("amplitudes_A")
    @classmethod
    def _amplitudes(cls, value: list[float]) -> list[float]:
        if min(value) <= 0 or max(value) >= 0.6:
            raise ValueError(f"amplitudes_A {value}: each must be in (0, 0.6) Å")
        return value


class DivacancyTrainingSpec(SpecSection):
    """Divacancy cells (origin ``divacancy``): two vacancies in a neighbour shell of each other."""

    supercell: tuple[int, int, int] = Field((3, 3, 3), description="Repeat of the 2-atom cell.")
    shells: Annotated[list[int], Field(min_length=1)] = Field(
        default_factory=lambda: [1, 2],
        description="Neighbour shells of the second vacancy: 1 = first neighbours (a√3/2), 2 = second (a).",
    )
    n_rattled: int = Field(1, ge=0, description="Rattled copies of each divacancy cell, besides the unrattled one.")
    rattle_std_A: float = Field(0.04, gt=0, lt=0.5, description="Std. dev. of the rattle (Å).")

    @field_validator("shells")
    @classmethod
    def _shells(cls, value: list[int]) -> list[int]:
        if min(value) < 1 or max(value) > 3 or len(set(value)) != len(value):
            raise ValueError(f"shells {value}: distinct neighbour shells among 1, 2, 3")
        return value


class AimdTrainingSpec(SpecSection):
    """Molecular-dynamics snapshots at several temperatures (origin ``aimd``; ``liquid`` above 453.7 K).

    ``driver: engine`` runs the MD with the DFT engine itself (VASP: atomate2 MDMaker; GPAW:
    ASE Langevin with the GPAW calculator, expensive) and keeps every ``stride``-th step as a
    frame. ``driver: morse`` is the cheap route for local runs: the MD is driven by the Morse
    potential of ``driver_morse`` (ASE Langevin) and every ``stride``-th snapshot is then
    labelled by the DFT engine as a single point. The Morse potential is not lithium: its
    snapshots are thermally disordered configurations, not a Li ensemble, and whether a run
    above 453.7 K (the melting point of Li) actually melts depends on that potential and
    the run length.
    """

    temperatures_K: Annotated[list[float], Field(min_length=1)] = Field(
        default_factory=lambda: [300.0, 600.0],
        description="One run per temperature (VASP TEBEG = TEEND); above 453.7 K the frames are tagged liquid.",
    )
    supercell: tuple[int, int, int] = Field((3, 3, 3), description="Repeat of the 2-atom cell (54 atoms).")
    n_steps: int = Field(400, ge=1, description="MD steps per temperature (VASP NSW).")
    time_step_fs: float = Field(1.0, gt=0, le=5.0, description="Time step (fs, VASP POTIM); Li is light, keep ≤ 2 fs.")
    equilibration_steps: int = Field(100, ge=0, description="Steps at the start of each run that give no frames.")
    stride: int = Field(20, ge=1, description="Keep every stride-th step after equilibration as a frame.")
    driver: Literal["engine", "morse"] = Field("morse", description="What drives the MD (see the class docstring).")
    driver_morse: MorseSpec = Field(default_factory=lambda: MorseSpec(), description="Morse potential of driver: morse.")
    friction_per_fs: float = Field(0.01, gt=0, le=1.0, description="Langevin friction of the ASE drivers (1/fs).")

    @model_validator(mode="after")
    def _frames(self) -> AimdTrainingSpec:
        if min(self.temperatures_K) <= 0:
            raise ValueError(f"temperatures_K {self.temperatures_K}: temperatures must be > 0 K")
        if self.n_steps <= self.equilibration_steps:
            raise ValueError(f"n_steps = {self.n_steps} must exceed equilibration_steps = {self.equilibration_steps}")
        return self


class RelaxTrajectorySpec(SpecSection):
    """Frames along relaxations: every ``stride``-th ionic step of a relaxation by the DFT engine.

    The clean slabs and adatom cells (``origins``) are relaxed (fixed cell, VASP ISIF = 2;
    ASE BFGS for GPAW/Morse) instead of labelled once; their frames keep the origin.
    """

    origins: Annotated[list[Literal["slab", "adatom", "vacancy", "divacancy", "step"]], Field(min_length=1)] = Field(
        default_factory=lambda: ["slab", "adatom"], description="Origins whose unperturbed cells are relaxed."
    )
    max_steps: int = Field(40, ge=1, description="Largest number of ionic steps (VASP NSW).")
    fmax_eV_A: float = Field(0.02, gt=0, le=1.0, description="Force convergence (VASP EDIFFG = -fmax).")
    stride: int = Field(5, ge=1, description="Keep every stride-th ionic step (and the last) as a frame.")


class TrainingSetSpec(SpecSection):
    """What structures get DFT labels."""

    lattice_constant_A: float = Field(3.44, gt=2.5, lt=4.5, description="bcc a used to build the cells (Å).")
    bulk: BulkTrainingSpec = BulkTrainingSpec()
    vacancy: VacancyTrainingSpec | None = VacancyTrainingSpec()
    slabs: SlabTrainingSpec | None = SlabTrainingSpec()
    eos: EosTrainingSpec | None = Field(None, description="Equation-of-state frames (off unless given).")
    rattle: RattleTrainingSpec | None = Field(None, description="Rattled supercells at several amplitudes (off unless given).")
    divacancy: DivacancyTrainingSpec | None = Field(None, description="Divacancy cells (off unless given).")
    aimd: AimdTrainingSpec | None = Field(None, description="MD snapshots at several temperatures (off unless given).")
    relax: RelaxTrajectorySpec | None = Field(None, description="Frames along relaxations (off unless given).")
    steps: StepSpec | None = Field(
        None, description="Stepped (and kinked) slabs of the (100)/(110) terraces, origin step (off unless given)."
    )
    isolated_atom_box_A: float | None = Field(
        12.0,
        ge=8.0,
        le=30.0,
        description=(
            "Edge of the cubic box of one isolated Li atom (origin isolated_atom, one k-point, no stress), labelled "
            "by the teacher like every frame: its energy is the model's per-atom energy shift (mlip.energy_shift) "
            "and the limit an atom with no neighbours is trained to. None: no such frame (then mlip.energy_shift "
            "must be 'mean')."
        ),
    )
