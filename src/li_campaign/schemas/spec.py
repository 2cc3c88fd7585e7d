"""The campaign spec: ``workflows/*.yaml`` validated into typed settings.

Every field has a default fit for a quick run; ``extra="forbid"`` turns a typo into an
error that names the field. :func:`load_spec` turns pydantic's errors into one
:class:`~li_campaign.core.errors.InputError` listing ``file: field.path: message``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from li_campaign.core.errors import InputError

MillerIndex = tuple[int, int, int]


class _Spec(BaseModel):
    """Base of all spec sections: strict fields, immutable, MSON-serializable.

    ``as_dict``/``from_dict`` let Makers that hold spec sections pass through jobflow and
    FireWorks serialization (both call ``as_dict`` on nested objects).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    def as_dict(self) -> dict:
        """MSONable dict of the validated settings."""
        return {"@module": type(self).__module__, "@class": type(self).__name__, **self.model_dump(mode="json")}

    @classmethod
    def from_dict(cls, data: dict):
        """Rebuild (and re-validate) from :meth:`as_dict` output."""
        return cls.model_validate({k: v for k, v in data.items() if not k.startswith("@")})


def parse_miller(value: object) -> MillerIndex:
    """Parse ``"110"``, ``"1 1 0"``, ``"-1,1,0"`` or ``[1, 1, 0]`` into a Miller index tuple.

    Raises
    ------
    ValueError
        If the value is not three integers or is (0, 0, 0).
    """
    if isinstance(value, str):
        text = value.strip()
        if any(sep in text for sep in (" ", ",")):
            parts = [p for p in text.replace(",", " ").split() if p]
        elif text.lstrip("-").isdigit() and len(text.replace("-", "")) == 3:
            parts, i = [], 0
            while i < len(text):
                step = 2 if text[i] == "-" else 1
                parts.append(text[i : i + step])
                i += step
        else:
            raise ValueError(f"unknown facet {value!r}: expected a Miller index such as '110' or [1, 1, 0]")
        try:
            hkl = tuple(int(p) for p in parts)
        except ValueError as exc:
            raise ValueError(f"unknown facet {value!r}: Miller indices must be integers") from exc
    elif isinstance(value, (list, tuple)):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ValueError(f"unknown facet {value!r}: Miller indices must be integers")
        hkl = tuple(value)
    else:
        raise ValueError(f"unknown facet {value!r}: expected a string like '110' or a list of 3 integers")
    if len(hkl) != 3:
        raise ValueError(f"unknown facet {value!r}: a Miller index has 3 integers")
    if hkl == (0, 0, 0):
        raise ValueError("impossible facet (0, 0, 0): at least one Miller index must be non-zero")
    return hkl  # type: ignore[return-value]


def facet_label(hkl: MillerIndex) -> str:
    """Return the canonical bcc facet label: the cubic family, e.g. (0, -1, 1) -> ``"110"``.

    All members of a cubic {hkl} family are symmetry-equivalent surfaces of bcc Li, so the
    label is the sorted absolute indices, largest first. Indices above 9 are separated by
    ``_``.
    """
    fam = sorted((abs(i) for i in hkl), reverse=True)
    sep = "_" if max(fam) > 9 else ""
    return sep.join(str(i) for i in fam)


def _facets(value: list[object]) -> list[MillerIndex]:
    facets = [parse_miller(v) for v in value]
    labels = [facet_label(f) for f in facets]
    dupes = sorted({lab for lab in labels if labels.count(lab) > 1})
    if dupes:
        raise ValueError(f"facets {dupes} are listed twice (symmetry-equivalent indices count as one)")
    return facets


class BulkTrainingSpec(_Spec):
    """Strained and rattled bulk cells."""

    n_strained: int = Field(12, ge=0, description="Conventional 2-atom cells under random strain.")
    max_strain: float = Field(0.04, gt=0, lt=0.3, description="Largest strain component (fraction).")
    n_rattled: int = Field(10, ge=0, description="Strained cells with random atomic displacements.")
    rattle_std_A: float = Field(0.08, gt=0, lt=0.5, description="Std. dev. of the rattle (Å).")
    rattled_supercell: tuple[int, int, int] = Field((1, 1, 1), description="Repeat of the 2-atom cell.")
    n_large_rattled: int = Field(0, ge=0, description="Rattled cells of the vacancy supercell size.")


class VacancyTrainingSpec(_Spec):
    """Vacancy cells."""

    supercell: tuple[int, int, int] = Field((2, 2, 2), description="Repeat of the 2-atom cell.")
    n_rattled: int = Field(1, ge=1, description="Vacancy cells (the first unrattled).")


class SlabTrainingSpec(_Spec):
    """Slabs and adatom slabs for training."""

    facets: Annotated[list[MillerIndex], Field(min_length=1)] = Field(
        default_factory=lambda: [(1, 0, 0), (1, 1, 0), (1, 1, 1)]
    )
    min_slab_size_A: float = Field(6.0, gt=2.0, description="Minimum slab thickness (Å).")
    min_vacuum_A: float = Field(8.0, ge=5.0, description="Minimum vacuum thickness (Å).")
    adatom: bool = Field(True, description="Also label each slab with one Li adatom.")
    adatom_min_lateral_A: float = Field(6.0, gt=0, description="Minimum in-plane size of adatom cells (Å).")
    max_adatom_sites: int = Field(
        3, ge=1, description="Adatom cells per facet: one per distinct site (hollow, bridge, ontop), at most this many."
    )
    adatom_height_jitter_A: float = Field(0.2, ge=0, le=1.0, description="Random vertical offset of the adatom (Å).")
    n_perturbed: int = Field(
        3, ge=0, description="Perturbed copies of each clean slab: strained along z, outer layers shifted, rattled."
    )
    max_z_strain: float = Field(0.06, ge=0, lt=0.3, description="Largest strain of the interlayer spacings.")
    surface_shift_A: float = Field(0.3, ge=0, lt=1.0, description="Largest shift of each outermost layer along z (Å).")
    rattle_std_A: float = Field(0.05, gt=0, lt=0.5, description="Std. dev. of the slab rattle (Å).")

    _check_facets = field_validator("facets", mode="before")(classmethod(lambda cls, v: _facets(v)))


class TrainingSetSpec(_Spec):
    """What structures get DFT labels."""

    lattice_constant_A: float = Field(3.44, gt=2.5, lt=4.5, description="bcc a used to build the cells (Å).")
    bulk: BulkTrainingSpec = BulkTrainingSpec()
    vacancy: VacancyTrainingSpec | None = VacancyTrainingSpec()
    slabs: SlabTrainingSpec | None = SlabTrainingSpec()


class GpawSpec(_Spec):
    """GPAW plane-wave PBE settings; all are recorded on every frame."""

    xc: Literal["PBE"] = "PBE"
    ecut_eV: float = Field(300.0, ge=150, le=1500, description="Plane-wave cutoff (eV).")
    kspacing_inv_A: float = Field(0.25, gt=0.02, le=1.0, description="Max k-point spacing 2π|b|/n (1/Å).")
    smearing: Literal["fermi-dirac", "methfessel-paxton"] = "fermi-dirac"
    smearing_width_eV: float = Field(0.1, gt=0, le=1.0)
    mp_order: int = Field(1, ge=1, le=3, description="Methfessel–Paxton order (only with that smearing).")
    energy_convergence_eV: float = Field(1e-5, gt=0, description="SCF energy convergence per valence electron.")
    max_scf_iterations: int = Field(200, ge=10)


class MorseSpec(_Spec):
    """Analytic Morse pair potential (ASE MorsePotential) for fast pipeline tests; not physics."""

    epsilon_eV: float = Field(0.2, gt=0)
    r0_A: float = Field(3.0, gt=1.0)
    rho0: float = Field(3.5, gt=0)
    cutoff_A: float = Field(6.0, gt=2.0, description="Interactions are smoothly switched off between 0.8·cutoff and cutoff (Å).")


class DftSpec(_Spec):
    """Which engine labels frames, with its settings."""

    engine: Literal["gpaw", "morse"] = "gpaw"
    gpaw: GpawSpec = GpawSpec()
    morse: MorseSpec = MorseSpec()


class SplitSpec(_Spec):
    """Fractions of frames for training, validation and the holdout test."""

    train: float = Field(0.8, gt=0, lt=1)
    val: float = Field(0.1, gt=0, lt=1)
    test: float = Field(0.1, gt=0, lt=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitSpec:
        if abs(self.train + self.val + self.test - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must be 1, got {self.train + self.val + self.test:.3f}")
        return self


class MlipSpec(_Spec):
    """NequIP model, training and deployment settings."""

    architecture: Literal["nequip"] = "nequip"
    r_max_A: float = Field(5.0, gt=2.0, le=10.0)
    num_layers: int = Field(2, ge=1, le=6)
    l_max: int = Field(1, ge=0, le=3)
    num_features: int = Field(16, ge=4, le=256)
    parity: bool = False
    radial_mlp_depth: int = Field(1, ge=1, le=4)
    radial_mlp_width: int = Field(32, ge=8, le=256)
    max_epochs: int = Field(200, ge=1)
    batch_size: int = Field(4, ge=1)
    learning_rate: float = Field(0.01, gt=0)
    loss_coeffs: dict[Literal["total_energy", "forces", "stress"], float] = Field(
        default_factory=lambda: {"total_energy": 10.0, "forces": 1.0, "stress": 1000.0},
        description=(
            "Weights of the per-atom energy, force and stress MSE terms. Stresses (eV/Å^3) are about "
            "100x smaller than forces (eV/Å), so without a large weight the equation of state is not "
            "learned: on the demo data, stress weight 1 gave a0 = 3.335 Å, weights 10/1/1000 gave 3.431 Å "
            "(GPAW: 3.433 Å)."
        ),
    )
    seed: int = 456
    split: SplitSpec = SplitSpec()
    deploy: Literal["aotinductor", "eager"] = Field(
        "aotinductor", description="aotinductor: nequip-compile a .nequip.pt2; eager: load the packaged .nequip.zip."
    )


class RelaxSpec(_Spec):
    """Geometry optimisation settings (ASE FIRE/BFGS)."""

    fmax_eV_A: float = Field(0.02, gt=0, le=1.0)
    max_steps: int = Field(400, ge=1)
    optimizer: Literal["BFGS", "FIRE", "LBFGS"] = "BFGS"


class NebSpec(_Spec):
    """Climbing-image NEB settings (ASE)."""

    n_images: int = Field(5, ge=1, le=31, description="Intermediate images.")
    fmax_eV_A: float = Field(0.05, gt=0, le=1.0)
    max_steps: int = Field(400, ge=1)
    climb: bool = True
    spring_constant: float = Field(0.1, gt=0)


class VacancySpec(_Spec):
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


class ElasticSpec(_Spec):
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


class FanOutSlabSpec(_Spec):
    """Slabs for the model's surface calculations."""

    min_slab_size_A: float = Field(10.0, gt=2.0)
    min_vacuum_A: float = Field(12.0, ge=5.0)
    min_lateral_A: float = Field(8.0, gt=0, description="Minimum in-plane size of adatom cells (Å).")
    fix_bottom_A: float = Field(2.0, ge=0, description="Atoms this far from the bottom are fixed in adatom cells.")


class EosSpec(_Spec):
    """Bulk equation-of-state scan."""

    max_strain: float = Field(0.03, gt=0, lt=0.2, description="Largest linear strain of the scan.")
    n_points: int = Field(7, ge=5, le=31)


class PhononSpec(_Spec):
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


class FiniteTemperatureSpec(_Spec):
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

    @model_validator(mode="after")
    def _lengths(self) -> FiniteTemperatureSpec:
        if min(self.temperatures_K) <= 0:
            raise ValueError(f"temperatures_K {self.temperatures_K}: temperatures must be > 0 K")
        for name in ("npt_production_steps", "nvt_production_steps"):
            if getattr(self, name) < 2 * self.n_blocks:
                raise ValueError(f"{name} = {getattr(self, name)}: need at least 2 steps per block (n_blocks = {self.n_blocks})")
        return self


class BulkStageSpec(_Spec):
    """Bulk properties with the deployed model, and the DFT teacher's 0 K elastic constants."""

    enabled: bool = Field(True, description="Run the bulk stage (false: only the fan-out).")
    vacancy: VacancySpec = VacancySpec()
    phonons: PhononSpec = PhononSpec()
    elastic: ElasticSpec = ElasticSpec()
    finite_temperature: FiniteTemperatureSpec = FiniteTemperatureSpec()
    dft_elastic_kspacing_inv_A: float = Field(
        0.15,
        gt=0.02,
        le=1.0,
        description=(
            "k-point spacing of the DFT teacher's elastic constants (1/Å), denser than the labels': "
            "the shear moduli of Li need a fine Fermi-surface sampling (see DftElasticMaker)."
        ),
    )


class FanOutSpec(_Spec):
    """Calculations run with the deployed model."""

    facets: Annotated[list[MillerIndex], Field(min_length=1)] = Field(
        default_factory=lambda: [(1, 0, 0), (1, 1, 0), (1, 1, 1)]
    )
    eos: EosSpec = EosSpec()
    slab: FanOutSlabSpec = FanOutSlabSpec()
    relax: RelaxSpec = RelaxSpec()
    neb: NebSpec = NebSpec()
    site_perturbation_A: float = Field(
        0.1, ge=0, le=1.0, description="Lateral kick used to test whether an adsorption site is a minimum."
    )
    pack_size: int = Field(
        20,
        ge=1,
        description=(
            "Most calculations run in one job (one FireWorks launch): the surface-energy and adsorption-site "
            "calculations of all facets are packed together, then the NEBs. 1 runs every calculation as its "
            "own job. Each calculation still gets its own result document (li_campaign.flows.packing)."
        ),
    )

    _check_facets = field_validator("facets", mode="before")(classmethod(lambda cls, v: _facets(v)))


class CampaignSpec(_Spec):
    """A whole campaign: training structures, DFT labels, MLIP fit and fan-out."""

    name: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    seed: int = 7
    training_set: TrainingSetSpec = TrainingSetSpec()
    dft: DftSpec = DftSpec()
    mlip: MlipSpec = MlipSpec()
    fanout: FanOutSpec = FanOutSpec()
    bulk: BulkStageSpec = BulkStageSpec()

    def spec_hash(self) -> str:
        """Return a sha256 of the validated spec (defaults filled in), for provenance."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()


def _format_errors(source: str, exc: ValidationError) -> str:
    lines = [f"{source}: invalid campaign spec ({exc.error_count()} problem(s))"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "<top level>"
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"  {loc}: {msg}")
    return "\n".join(lines)


def spec_from_dict(data: object, source: str = "<spec>") -> CampaignSpec:
    """Validate a mapping into a :class:`CampaignSpec`, raising :class:`InputError` on any problem."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: a campaign spec must be a YAML mapping, got {type(data).__name__}")
    try:
        return CampaignSpec.model_validate(data)
    except ValidationError as exc:
        raise InputError(_format_errors(source, exc)) from None


def load_spec(path: str | Path) -> CampaignSpec:
    """Read and validate a campaign spec file.

    Raises
    ------
    InputError
        If the file is missing, is not valid YAML, or fails validation; the message names
        the file and every offending field.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: campaign spec file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from None
    return spec_from_dict(data, source=str(path))
