"""Spec sections of the bulk stage: EOS, vacancy, elastic constants, phonons, finite temperature (``bulk``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from li_campaign.schemas.spec.base import MdGuardSpec, RelaxSpec, SpecSection
from li_campaign.schemas.spec.kinetics import NebSpec


class VacancySpec(SpecSection):
    """Bulk vacancy: formation energy converged in supercell size, and its ⟨111⟩ migration barrier."""

    supercell_sizes: Annotated[list[int], Field(min_length=2)] = Field(
        default_factory=lambda: [2, 3, 4],
        description="n of the n×n×n repeats of the 2-atom cube (2n³ atoms), increasing; the last two judge convergence.",
    )
    tolerance_eV: float = Field(
        0.02, gt=0, description="Converged if E_f of the two largest supercells differ by less than this (eV)."
    )
    relax: RelaxSpec = Field(
        RelaxSpec(fmax_eV_A=0.01, optimizer="LBFGS"), description="Fixed-cell relaxation of vacancy cells and NEB endpoints."
    )
    neb: NebSpec = NebSpec()
    neb_supercell: int | None = Field(
        None, description="n of the supercell of the migration NEB (one of supercell_sizes); None: the largest."
    )
    symmetry_tolerance_eV: float = Field(
        0.01, gt=0, description="The hop is symmetric if forward and reverse barriers differ by less than this (eV)."
    )

    @model_validator(mode="after")
    def _sizes(self) -> VacancySpec:
        sizes = self.supercell_sizes
        if min(sizes) < 2 or any(b <= a for a, b in zip(sizes, sizes[1:])):
            raise ValueError(f"supercell_sizes {sizes}: must be increasing, each at least 2")
        if self.neb_supercell is not None and self.neb_supercell not in sizes:
            raise ValueError(f"neb_supercell {self.neb_supercell} is not one of supercell_sizes {sizes}")
        return self


class ElasticSpec(SpecSection):
    """0 K elastic constants of bcc Li by finite strains of the 2-atom cube (stress–strain)."""

    strains: Annotated[list[float], Field(min_length=1)] = Field(
        default_factory=lambda: [0.005, 0.01],
        description="Strain magnitudes ε (Voigt, fraction); each independent strain is applied at +ε and −ε.",
    )

    @field_validator("strains")
    @classmethod
    def _magnitudes(cls, value: list[float]) -> list[float]:
        if min(value) <= 0 or max(value) > 0.05 or len(set(value)) != len(value):
            raise ValueError(f"strains {value}: distinct magnitudes in (0, 0.05]")
        return sorted(value)


class EosSpec(SpecSection):
    """Bulk equation-of-state scan."""

    max_strain: float = Field(0.03, gt=0, lt=0.2, description="Largest linear strain of the scan.")
    n_points: int = Field(7, ge=5, le=31)


class PhononSpec(SpecSection):
    """Harmonic phonons of bcc Li by finite displacements (phonopy)."""

    supercell: tuple[int, int, int] = Field(
        (3, 3, 3),
        description=(
            "Repeat of the 2-atom conventional cube (3x3x3 = 54 atoms). H is commensurate with every "
            "repeat, N and P only with even ones: there the frequencies are exact, elsewhere interpolated."
        ),
    )
    displacement_A: float = Field(0.01, gt=0, le=0.1, description="Finite-displacement amplitude (Å).")
    mesh: tuple[int, int, int] = Field(
        (16, 16, 16), description="q-mesh of the primitive cell for the DOS, thermal properties and min frequency."
    )
    band_points_per_segment: int = Field(51, ge=2, le=501, description="q-points per segment of Γ–H–P–Γ–N.")
    temperatures_K: Annotated[list[float], Field(min_length=1)] = Field(
        default_factory=lambda: [100.0, 150.0, 200.0, 250.0, 300.0, 350.0, 400.0],
        description="Temperatures of the harmonic thermal properties (K).",
    )
    imaginary_tolerance_THz: float = Field(
        0.05, ge=0, description="A mode below −this (THz) counts as imaginary (numerical noise at Γ is smaller)."
    )

    @field_validator("supercell", "mesh")
    @classmethod
    def _positive(cls, value: tuple[int, int, int]) -> tuple[int, int, int]:
        if min(value) < 1:
            raise ValueError(f"{value}: every repeat must be at least 1")
        return value

    @field_validator("temperatures_K")
    @classmethod
    def _non_negative(cls, value: list[float]) -> list[float]:
        if min(value) < 0:
            raise ValueError(f"{value}: temperatures must be >= 0 K")
        return value


class FiniteTemperatureSpec(SpecSection):
    """MD of bulk bcc Li at finite temperature: a(T) (NPT), Cij(T) (NVT strain–stress), Cv (NVT).

    One job per temperature. Each job runs one NPT run (mean lattice constant), then at the
    mean cell one unstrained NVT run (heat capacity, residual pressure) and, for each of
    ``strain_axes`` cubic axes, two NVT runs at ±``strain``.
    """

    temperatures_K: Annotated[list[float], Field(min_length=1)] = Field(
        default_factory=lambda: [100.0, 200.0, 300.0, 400.0],
        description="Temperatures (K), one job each; bcc Li melts at 453.7 K (expt.).",
    )
    supercell: int = Field(4, ge=2, le=12, description="n of the n×n×n repeat of the 2-atom cube (2n³ atoms).")
    timestep_fs: float = Field(1.0, gt=0, le=5.0, description="MD time step (fs).")
    strain: float = Field(
        0.01,
        gt=0,
        le=0.05,
        description="Strain amplitude δ: normal strain ε_kk = ±δ and engineering shear strain γ_ij = 2ε_ij = ±δ.",
    )
    strain_axes: int = Field(
        3, ge=1, le=3, description="Cubic axes strained (x; x, y; x, y, z): each gives C11, C12 twice and C44 once."
    )
    npt_equilibration_steps: int = Field(2000, ge=0, description="NPT steps discarded before averaging.")
    npt_production_steps: int = Field(5000, ge=10, description="NPT steps averaged for the lattice constant.")
    nvt_equilibration_steps: int = Field(
        500, ge=0, description="NVT steps discarded at the start of each (strained) run at the mean NPT cell."
    )
    nvt_production_steps: int = Field(5000, ge=10, description="NVT steps averaged in each run (stress, energy).")
    n_blocks: int = Field(10, ge=4, le=200, description="Blocks of each production series for the block-average errors.")
    thermostat_tau_fs: float = Field(100.0, gt=0, description="Langevin time constant 1/γ of the atoms (fs).")
    barostat_tau_fs: float = Field(1000.0, gt=0, description="Langevin–Hoover time constant of the cell (fs).")
    pressure_GPa: float = Field(0.0, ge=-5.0, le=50.0, description="External (hydrostatic) pressure of the NPT run (GPa).")
    checkpoint_every: int = Field(500, ge=1, description="Steps between checkpoints (a killed job loses at most this).")
    trajectory_every: int = Field(100, ge=1, description="Steps between frames written to the trajectory (data store).")
    seed: int = Field(2024, description="Seed of the initial velocities and the Langevin noise.")
    max_relative_error: float = Field(
        0.1, gt=0, description="Converged only if the block error of C11, C12, C44 and Cv is below this fraction."
    )
    max_drift_sigma: float = Field(
        3.0,
        gt=0,
        description="Converged only if the first and second halves of each production average differ by less than "
        "this many combined block errors.",
    )
    guard: MdGuardSpec = Field(
        default_factory=MdGuardSpec, description="Stability limits; a run that crosses one is flagged, not stored."
    )

    @model_validator(mode="after")
    def _lengths(self) -> FiniteTemperatureSpec:
        if min(self.temperatures_K) <= 0:
            raise ValueError(f"temperatures_K {self.temperatures_K}: temperatures must be > 0 K")
        for name in ("npt_production_steps", "nvt_production_steps"):
            if getattr(self, name) < 2 * self.n_blocks:
                raise ValueError(f"{name} = {getattr(self, name)}: need at least 2 steps per block (n_blocks = {self.n_blocks})")
        return self


class BulkStageSpec(SpecSection):
    """Bulk properties with the deployed model, and the DFT teacher's 0 K elastic constants."""

    enabled: bool = Field(True, description="Run the bulk stage (false: only the fan-out).")
    vacancy: VacancySpec = VacancySpec()
    phonons: PhononSpec = PhononSpec()
    elastic: ElasticSpec = ElasticSpec()
    finite_temperature: FiniteTemperatureSpec = FiniteTemperatureSpec()
    dft_elastic: bool = Field(
        True,
        description=(
            "Also compute the DFT teacher's 0 K elastic constants (the bulk table's DFT Cij column; one GPAW job of "
            "about 3 min on the 2-atom cube at dft_elastic_kspacing_inv_A)."
        ),
    )
    dft_elastic_kspacing_inv_A: float = Field(
        0.15,
        gt=0.02,
        le=1.0,
        description=(
            "k-point spacing of the DFT teacher's elastic constants (1/Å), denser than the labels': "
            "the shear moduli of Li need a fine Fermi-surface sampling (see DftElasticMaker)."
        ),
    )
