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
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from li_campaign.core.errors import InputError
# MillerIndex, parse_miller and facet_label live in core.miller (geometry imports them without the spec); kept importable here
from li_campaign.core.miller import MillerIndex, distinct_facets, facet_label, parse_miller  # noqa: F401
from li_campaign.core.textfiles import read_utf8


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


def _facets(value: object) -> list[MillerIndex]:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"must be a list of Miller indices such as [[1, 0, 0], '110'], got {value!r}")
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

    _check_facets = field_validator("facets", mode="before")(classmethod(lambda cls, v: _facets(v)))

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


class EosTrainingSpec(_Spec):
    """Equation-of-state frames: the 2-atom cube under isotropic strain (origin ``bulk_eos``)."""

    n_points: int = Field(9, ge=2, le=41, description="Volumes, evenly spaced in linear strain.")
    max_linear_strain: float = Field(
        0.08, gt=0, lt=0.3, description="Largest linear strain (fraction): a ranges over a(1 ± this)."
    )


class RattleTrainingSpec(_Spec):
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


class DivacancyTrainingSpec(_Spec):
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


class AimdTrainingSpec(_Spec):
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


class RelaxTrajectorySpec(_Spec):
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


class TrainingSetSpec(_Spec):
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


class VaspSpec(_Spec):
    """VASP PBE settings of the production labels (atomate2 input sets, run under custodian).

    Every value is written into the INCAR/KPOINTS of each job and recorded on each frame.
    The MD temperature (TEBEG = TEEND), step count (NSW) and time step (POTIM) come from
    ``training_set.aimd``; the relaxation step count (NSW) and EDIFFG from
    ``training_set.relax``.
    """

    potcar: Literal["Li_sv"] = Field("Li_sv", description="PAW dataset: 1s2s semicore, 3 valence electrons.")
    potcar_functional: Literal["PBE_54", "PBE_64", "PBE"] = Field(
        "PBE_54", description="POTCAR set (pymatgen name); atomate2's default PBE_54."
    )
    gga: Literal["PE"] = Field("PE", description="GGA = PE: PBE (atomate2's base set has PBEsol, PS; overridden).")
    encut_eV: float = Field(
        600.0, ge=300, le=1500, description="ENCUT (eV): 1.2 × ENMAX of Li_sv (499 eV), the usual margin for stresses."
    )
    prec: Literal["Accurate", "Normal"] = Field("Accurate", description="PREC.")
    ismear: Literal[-1, 0, 1, 2] = Field(
        1, description="ISMEAR: 1 = Methfessel–Paxton order 1, the choice for a metal (0 Gaussian, -1 Fermi)."
    )
    sigma_eV: float = Field(0.1, gt=0, le=0.5, description="SIGMA (eV), smearing width.")
    kspacing_inv_A: float = Field(
        0.15,
        gt=0.02,
        le=1.0,
        description="k-point spacing (1/Å), VASP's KSPACING rule n = ceil(2π|b|/k); written as a Γ-centred KPOINTS "
        "mesh so that slabs get one k-point along the vacuum axis.",
    )
    ediff_eV: float = Field(1e-6, gt=0, le=1e-3, description="EDIFF (eV), SCF convergence.")
    nelm: int = Field(120, ge=10, le=1000, description="NELM, largest number of SCF steps.")
    algo: Literal["Normal", "Fast", "All"] = Field("Normal", description="ALGO.")
    lreal: Literal[False, "Auto"] = Field(False, description="LREAL: False (reciprocal-space projectors) for accurate forces.")
    ispin: Literal[1] = Field(1, description="ISPIN = 1: Li is non-magnetic.")
    slab_isif: Literal[2] = Field(2, description="ISIF of slab and adatom relaxations: fixed cell (the vacuum stays).")
    bulk_isif: Literal[2, 3] = Field(2, description="ISIF of bulk relaxations (2: fixed cell, 3: cell relaxed too).")
    slab_dipole_correction: bool = Field(
        True, description="LDIPOL = True, IDIPOL = 3 on slab and adatom cells (adatom cells are not symmetric)."
    )
    md_algo: Literal[1, 2, 3] = Field(2, description="MDALGO: 1 Andersen, 2 Nosé–Hoover (NVT), 3 Langevin.")
    md_smass: float = Field(0.0, ge=-3.0, description="SMASS of the Nosé–Hoover thermostat (0: ~40 time steps period).")
    md_isif: Literal[2] = Field(2, description="ISIF of MD runs: 2, NVT with the stress computed for every frame.")
    vasp_cmd: str | None = Field(
        None, description="VASP command; None takes atomate2's VASP_CMD setting (atomate2.yaml, ATOMATE2_VASP_CMD)."
    )
    custodian_max_errors: int = Field(5, ge=1, le=20, description="Corrections custodian may make before the job fails.")
    potcar_spec: bool = Field(
        False,
        description="Write POTCAR.spec (the symbols) instead of a POTCAR: input generation without a licence (tests). "
        "False: real POTCARs from pymatgen's PMG_VASP_PSP_DIR.",
    )


class DftSpec(_Spec):
    """Which engine labels frames, with its settings."""

    engine: Literal["gpaw", "morse", "vasp"] = Field(
        "gpaw", description="gpaw (open, local and CI), vasp (production, atomate2 + custodian) or morse (tests)."
    )
    gpaw: GpawSpec = GpawSpec()
    morse: MorseSpec = MorseSpec()
    vasp: VaspSpec = VaspSpec()
    pack_size: int = Field(
        1,
        ge=1,
        le=1000,
        description="Label calculations per job (training-set labels and the spot checks' single points): 1 for real "
        "DFT, one job each, spread over the workers; more for an instant engine (morse), whose labels cost less than "
        "starting a job (a worker process, a LaunchPad round trip). Not part of any reuse key.",
    )


class SplitSpec(_Spec):
    """Fractions of frames for training, validation and the holdout test."""

    train: float = Field(0.8, gt=0, lt=1)
    val: float = Field(0.1, gt=0, lt=1)
    test: float = Field(0.1, gt=0, lt=1)
    stratify_min_frames: int = Field(
        5,
        ge=3,
        description=(
            "The split is stratified by frame origin: each origin with at least this many frames is split on its "
            "own in the proportions above (at least one frame in val and in test), so every such origin is in "
            "train, val and test; smaller origins are pooled and the pool split the same way (all in train if "
            "it has fewer than 3 frames)."
        ),
    )

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitSpec:
        if abs(self.train + self.val + self.test - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must be 1, got {self.train + self.val + self.test:.3f}")
        return self


_Nonlinearity = Literal["silu", "mish", "gelu"] | None


class AllegroSpec(_Spec):
    """Allegro-only hyperparameters (``mlip.architecture: allegro``), the arguments of ``allegro.model.AllegroModel``.

    Allegro (nequip-allegro 0.8.3) is strictly local: every atom's energy is a sum over its
    edges within ``mlip.r_max_A``, so its receptive field is r_max whatever the number of layers
    and it scales to very large cells (no message passing between GPUs' domains). What it shares
    with NequIP comes from :class:`MlipSpec`: ``r_max_A`` (``r_max``), ``num_layers``, ``l_max``,
    ``parity``, ``seed``, ``precision`` (``model_dtype``), and the data statistics and energy
    reference set the same way for both (``avg_num_neighbors`` = the training frames' mean
    neighbour count, ``per_type_energy_scales`` = their force RMS, ``per_type_energy_shifts`` =
    ``mlip.energy_shift``, neither trainable; the ZBL pair term). Allegro's
    ``weight_individual_irreps`` and ``forward_normalize`` (weight initialisation) stay at
    allegro's defaults, True and True (of the former its model builder says "best to use
    defaults").

    The defaults give a model of the NequIP defaults' size (9.1k parameters against NequIP's 8.7k;
    2 layers, l_max 1, parity off, 32 scalar and 8 tensor features) for the same small training
    sets; they are not yet tuned by measurement (issue 20's side-by-side benchmark is to do that).
    """

    num_scalar_features: int = Field(
        32,
        ge=4,
        le=1024,
        description="AllegroModel num_scalar_features: multiplicity of the scalar (invariant) edge features of the "
        "Allegro layers, also the output width of the two-body radial-chemical embedding (allegro's default 64).",
    )
    num_tensor_features: int = Field(
        8,
        ge=1,
        le=256,
        description="AllegroModel num_tensor_features: multiplicity of the tensor (equivariant, up to l_max) edge "
        "features of the Allegro layers (allegro's default 16).",
    )
    num_bessels: int = Field(
        8,
        ge=2,
        le=32,
        description="radial_chemical_embed (allegro.nn.TwoBodyBesselScalarEmbed) num_bessels: Bessel functions "
        "encoding each edge length (allegro's default 8; NequIP's radial basis has 8 as well).",
    )
    bessel_trainable: bool = Field(
        False, description="TwoBodyBesselScalarEmbed bessel_trainable: train the Bessel roots (allegro's default False)."
    )
    polynomial_cutoff_p: int = Field(
        6,
        ge=2,
        le=12,
        description="TwoBodyBesselScalarEmbed polynomial_cutoff_p: exponent of the polynomial envelope that takes "
        "each edge to 0 at r_max (smaller p decays faster; 6 as in allegro and in NequIP).",
    )
    radial_chemical_embed_dim: int | None = Field(
        None,
        ge=4,
        le=1024,
        description="AllegroModel radial_chemical_embed_dim: output width of the radial-chemical embedding "
        "(None: num_scalar_features, allegro's default).",
    )
    two_body_mlp_depth: int = Field(
        1,
        ge=1,
        le=4,
        description="AllegroModel scalar_embed_mlp_hidden_layers_depth: hidden layers of the two-body MLP applied "
        "to the radial-chemical embedding (allegro's default 1).",
    )
    two_body_mlp_width: int = Field(
        32,
        ge=4,
        le=1024,
        description="AllegroModel scalar_embed_mlp_hidden_layers_width: width of those hidden layers (allegro's default 64).",
    )
    two_body_mlp_nonlinearity: _Nonlinearity = Field(
        "silu", description="AllegroModel scalar_embed_mlp_nonlinearity: silu, mish, gelu or None (linear)."
    )
    allegro_mlp_depth: int = Field(
        1,
        ge=1,
        le=4,
        description="AllegroModel allegro_mlp_hidden_layers_depth: hidden layers of each Allegro layer's scalar "
        "MLP (allegro's default 1).",
    )
    allegro_mlp_width: int = Field(
        16,
        ge=4,
        le=1024,
        description="AllegroModel allegro_mlp_hidden_layers_width: width of those hidden layers (allegro suggests "
        "num_scalar_features; 16 keeps the default model at the NequIP default's size).",
    )
    allegro_mlp_nonlinearity: _Nonlinearity = Field(
        "silu", description="AllegroModel allegro_mlp_nonlinearity: silu, mish, gelu or None (linear)."
    )
    tp_path_channel_coupling: bool = Field(
        True,
        description="AllegroModel tp_path_channel_coupling: tensor-product weights couple paths and channels "
        "(allegro's default; expected to be more expressive than False).",
    )
    readout_mlp_depth: int = Field(
        1,
        ge=1,
        le=4,
        description="AllegroModel readout_mlp_hidden_layers_depth: hidden layers of the MLP that reads each edge's "
        "energy out of its scalar features (allegro's default 1).",
    )
    readout_mlp_width: int = Field(
        16,
        ge=4,
        le=1024,
        description="AllegroModel readout_mlp_hidden_layers_width: width of those hidden layers (allegro's default 32).",
    )
    readout_mlp_nonlinearity: _Nonlinearity = Field(
        "silu", description="AllegroModel readout_mlp_nonlinearity: silu, mish, gelu or None (linear)."
    )


class MlipSpec(_Spec):
    """Model (NequIP or Allegro), training and deployment settings."""

    architecture: Literal["nequip", "allegro"] = Field(
        "nequip",
        description=(
            "nequip: NequIPGNNModel (message passing: each layer widens the receptive field by r_max). allegro: "
            "allegro.model.AllegroModel (nequip-allegro), strictly local (receptive field r_max), which scales to "
            "very large cells; its own hyperparameters are the allegro section. Both are fitted, packaged, "
            "compiled and loaded by the same nequip tools, on the same frames, loss and split."
        ),
    )
    allegro: AllegroSpec | None = Field(
        None,
        description="Allegro-only hyperparameters (AllegroSpec); only with architecture allegro, where it defaults to "
        "AllegroSpec() when left out.",
    )
    r_max_A: float = Field(
        6.0,
        gt=2.0,
        le=10.0,
        description=(
            "Cutoff radius (Å). NequIP multiplies every edge by a polynomial envelope (p = 6) that is already "
            "~0 near r_max: with 5.0 Å bcc Li's third shell (4.86 Å, 12 neighbours) had weight 0.001, i.e. the "
            "model saw only the first two shells; 6.0 Å gives it weight 0.18 (fourth and fifth shells 0.006 "
            "and 0.000) at 58 instead of 26 neighbours per atom (benchmarks/rmax_shells.py, "
            "benchmarks/results/rmax_shells_2026-12-03.txt). Adatom images should be at least r_max apart."
        ),
    )
    num_layers: int = Field(
        2,
        ge=1,
        le=6,
        description=(
            "Interaction layers (NequIP and Allegro num_layers; Allegro's layers do not widen its receptive field "
            "beyond r_max). NequIP: 2 layers x 6 Å see 12 Å, several layers of a slab; with l_max 1, 16 features and "
            "parity off the model has about 9k parameters and trains at 1.5-2.3 s per epoch of 120 frames on 2 CPU "
            "cores (shared/notes/stack_science.md), small enough for a 44-frame demo set not to be over-fitted "
            "by size alone; the tutorial size (4 layers, 32 features, parity on, 417k parameters) is 4x slower."
        ),
    )
    l_max: int = Field(
        1, ge=0, le=3, description="Highest rotation order of the equivariant features (NequIP and Allegro l_max)."
    )
    num_features: int = Field(
        16,
        ge=4,
        le=256,
        description="NequIP only: features per irrep (Allegro: allegro.num_scalar_features and num_tensor_features).",
    )
    parity: bool = Field(False, description="Keep features of both mirror parities (NequIP and Allegro parity).")
    radial_mlp_depth: int = Field(1, ge=1, le=4, description="NequIP only: hidden layers of the radial MLP.")
    radial_mlp_width: int = Field(32, ge=8, le=256, description="NequIP only: width of the radial MLP.")
    max_epochs: int = Field(
        1000,
        ge=1,
        description=(
            "Upper limit of epochs; training normally ends earlier by early stopping (early_stopping_patience). "
            "The former fixed 200 epochs of batch 4 (1.8 k steps at a constant learning rate) stopped while the "
            "validation loss was still falling."
        ),
    )
    batch_size: int = Field(4, ge=1)
    learning_rate: float = Field(0.005, gt=0, description="Initial Adam learning rate (reduced on plateaus).")
    lr_plateau_factor: float = Field(
        0.5, gt=0, lt=1, description="ReduceLROnPlateau: multiply the learning rate by this when the validation loss stalls."
    )
    lr_plateau_patience: int = Field(
        20, ge=1, description="ReduceLROnPlateau: epochs without a better validation loss before the learning rate is cut."
    )
    min_learning_rate: float = Field(1e-5, gt=0, description="ReduceLROnPlateau: the learning rate is not cut below this.")
    early_stopping_patience: int | None = Field(
        60,
        ge=1,
        description=(
            "Stop when the validation loss (val0_epoch/weighted_sum) has not improved for this many epochs, i.e. "
            "after about three learning-rate cuts without progress (None: always run max_epochs). The best "
            "checkpoint by that loss is the one deployed."
        ),
    )
    loss_coeffs: dict[Literal["total_energy", "forces", "stress"], float] | None = Field(
        None,
        description=(
            "Explicit weights of the per-atom energy, force and stress MSE terms (nequip normalises them to sum "
            "1). None (default): balanced from the training labels, coefficient = loss_balance / scale^2 with "
            "scale the spread of the label (std of the energy per atom, RMS force and RMS stress component, "
            "li_campaign.mlip.dataset.label_scales): at the start of training each term's MSE is about its "
            "scale^2, so each contributes its loss_balance share and none dominates. The former fixed 10/1/1000 "
            "gave stress 98.9 % of the weight (on the demo data stress weight 1 had given a0 = 3.335 Å: the "
            "stress term must not be negligible either, which the balance also ensures)."
        ),
    )
    loss_balance: dict[Literal["total_energy", "forces", "stress"], float] = Field(
        default_factory=lambda: {"total_energy": 1.0, "forces": 1.0, "stress": 1.0},
        description="Relative share of each loss term at the start of training (used when loss_coeffs is None).",
    )

    def __repr_args__(self) -> list[tuple[str | None, object]]:
        """The fields, less ``allegro`` when it is None (a NequIP spec).

        The fit's reuse key hashes the spec's ``str`` (jsanitize of a pydantic model); leaving
        the absent Allegro section out keeps the keys of NequIP fits stored before it existed.
        """
        return [(name, value) for name, value in super().__repr_args__() if name != "allegro" or value is not None]

    @model_serializer(mode="wrap")
    def _without_absent_allegro(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        """The dump, less ``allegro`` when it is None: NequIP specs keep the ``spec_hash`` they had before it."""
        dump = handler(self)
        if dump.get("allegro", 0) is None:
            dump.pop("allegro")
        return dump

    @model_validator(mode="before")
    @classmethod
    def _allegro_defaults(cls, data: object) -> object:
        """With architecture allegro and no allegro section, the section's defaults."""
        if isinstance(data, dict) and data.get("architecture") == "allegro" and data.get("allegro") is None:
            return {**data, "allegro": {}}
        return data

    @field_validator("allegro")
    @classmethod
    def _allegro_only_with_allegro(cls, value: AllegroSpec | None, info: ValidationInfo) -> AllegroSpec | None:
        architecture = info.data.get("architecture")
        if value is not None and architecture != "allegro":
            raise ValueError(
                f"Allegro hyperparameters are only used with mlip.architecture: allegro (it is {architecture!r}); "
                "set architecture: allegro or remove the allegro section"
            )
        return value

    @model_validator(mode="after")
    def _loss_terms(self) -> MlipSpec:
        for name in ("loss_coeffs", "loss_balance"):
            value = getattr(self, name)
            missing = sorted({"total_energy", "forces", "stress"} - set(value or {"total_energy", "forces", "stress"}))
            if missing:
                raise ValueError(f"{name} needs a weight for each of total_energy, forces, stress; missing {missing}")
            if value and any(v < 0 for v in value.values()):
                raise ValueError(f"{name}: weights must not be negative, got {value}")
        return self
    energy_shift: Literal["isolated_atom", "mean"] = Field(
        "isolated_atom",
        description=(
            "Per-atom energy shift of the model (nequip per_type_energy_shifts), i.e. the energy of an atom "
            "with no neighbour. isolated_atom: the teacher's isolated-atom frame (training_set.isolated_atom_box_A), "
            "so the model's binding comes from its neighbours and an under-coordinated atom (an adatom) starts "
            "high. mean: the mean per-atom energy of the training frames (nequip's default), which makes an "
            "atom with few neighbours bulk-like: on the demo's own GPAW adatom frames that model's adsorption "
            "energies were flat at 0.0-0.25 eV where the labels rise from 0.1 to 1.3 eV with height "
            "(benchmarks/results/fit_adatom_eads_2026-12-04.txt)."
        ),
    )
    max_train_energy_mae_meV_atom: float | None = Field(
        20.0,
        gt=0,
        description=(
            "A fit whose training-set energy MAE on any frame origin is above this (meV/atom) fails, naming the "
            "origin and its errors (None: no check). 20 meV/atom is about the spread of adsorption energies "
            "between sites that the fan-out must resolve; the 2026-12 demo fit had 26 meV/atom on its adatom "
            "frames (issue 17) while bulk frames were at 2-4."
        ),
    )
    max_train_force_mae_meV_A: float | None = Field(
        None,
        gt=0,
        description="The same check on the training-set force MAE per origin (meV/Å); None: no check.",
    )
    seed: int = 456
    split: SplitSpec = SplitSpec()
    deploy: Literal["aotinductor", "eager"] = Field(
        "aotinductor", description="aotinductor: nequip-compile a .nequip.pt2; eager: load the packaged .nequip.zip."
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto",
        description=(
            "Where to train and compile: auto = the worker's GPU when it has one (the model is then compiled "
            "for that GPU type), else the CPU."
        ),
    )
    precision: Literal["float32", "float64"] = Field("float32", description="Model dtype (nequip model_dtype).")
    gpu_batch_size: int | None = Field(
        None, ge=1, description="Training batch size when training on a GPU (None: batch_size, as on the CPU)."
    )
    n_gpus: int = Field(
        1,
        ge=1,
        description=(
            "GPUs to train on. Above 1: data-parallel training (DDP, nequip's SimpleDDPStrategy) with one "
            "process per GPU on one node; the batch size is per GPU, so the global batch is n_gpus times it. "
            "The fit job asks the runner for that many GPUs and refuses to start with fewer visible."
        ),
    )


class RelaxSpec(_Spec):
    """Geometry optimisation settings (ASE FIRE/BFGS)."""

    fmax_eV_A: float = Field(0.02, gt=0, le=1.0)
    max_steps: int = Field(400, ge=1)
    optimizer: Literal["BFGS", "FIRE", "LBFGS"] = "BFGS"


class NebSpec(_Spec):
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


class MdGuardSpec(_Spec):
    """Stability limits of an MD run (:class:`li_campaign.simulation.md_guard.MdGuard`).

    A run that crosses one stops; its job stores a flagged document (reason, last good
    frame) instead of a result, and the builders leave it out and count it.
    """

    min_distance_fraction: float = Field(
        0.5, gt=0, lt=1, description="Stop when two atoms are closer than this fraction of the bulk nearest-neighbour distance."
    )
    max_temperature_factor: float = Field(
        3.0, gt=1, description="Stop when the kinetic temperature exceeds this multiple of the target temperature."
    )
    max_energy_drift_eV_atom: float = Field(
        0.5, gt=0, description="Stop when (E_pot + E_kin)/N moves further than this from its start (eV/atom)."
    )
    max_force_eV_A: float = Field(10.0, gt=0, description="Stop when the force on one atom exceeds this (eV/Å): extrapolation.")
    check_every: int = Field(10, ge=1, description="MD steps between checks.")


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


class BulkStageSpec(_Spec):
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


class NebConvergenceSpec(_Spec):
    """Image-count convergence of every surface CI-NEB (kinetics.neb.converged_neb).

    The band is run with ``neb.n_images`` intermediate images, then refined to 2n + 1 (the
    converged images plus the midpoints between them) until the barrier changes by less than
    ``tolerance_eV`` or the next count would exceed ``max_images`` (then flagged not converged).
    """

    enabled: bool = Field(True, description="False: one NEB with neb.n_images, images_converged left unset.")
    tolerance_eV: float = Field(0.01, gt=0, description="Converged when the barrier changes by less than this (eV).")
    max_images: int = Field(15, ge=1, le=63, description="Most intermediate images tried.")


class SurfaceMechanismSpec(_Spec):
    """Surface-diffusion mechanisms beyond the adatom hop."""

    exchange: bool = Field(True, description="Compute exchange paths (adatom replaces a surface atom).")
    exchange_facets: list[MillerIndex] = Field(
        default_factory=lambda: [(1, 0, 0), (1, 1, 0), (1, 1, 1)],
        description="Facets whose exchange paths are computed (they are many and costly on open facets).",
    )
    across_step: bool = Field(True, description="Compute the descending hop and exchange at step edges (Ehrlich–Schwoebel).")

    _check_facets = field_validator("exchange_facets", mode="before")(classmethod(lambda cls, v: _facets(v)))


LI_MELTING_POINT_K = 453.7
"""Melting point of bcc Li at ambient pressure (K, experiment: 180.5 °C, CRC Handbook of Chemistry and Physics)."""
MD_MAX_MELTING_FRACTION = 0.9
"""Adatom MD refuses temperatures at or above this fraction of :data:`LI_MELTING_POINT_K` (408.3 K): closer to
melting the surface itself disorders (premelting, vacancy–adatom pairs), so the tagged adatom's MSD no longer
measures adatom hopping on an ordered facet."""


class MdDiffusionSpec(_Spec):
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

    _check_facets = field_validator("facets", mode="before")(classmethod(lambda cls, v: _facets(v)))

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


class LargeCellDiffusionSpec(_Spec):
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

    _check_facets = field_validator("facets", mode="before")(classmethod(lambda cls, v: _facets(v)))

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


class FacetEnumerationSpec(_Spec):
    """Every symmetrically distinct facet up to ``max_index``, γ converged in slab thickness and vacuum.

    See :func:`li_campaign.core.miller.distinct_facets` and
    :func:`li_campaign.surfaces.surface_convergence.converged_surface_energy`.
    """

    max_index: int = Field(3, description="Largest Miller index, 1 to 4 (3: 13 facets, 4: 22).")
    start_thickness_A: float = Field(8.0, gt=2.0, description="Thinnest slab of the thickness series (Å).")
    thickness_step_A: float = Field(2.0, gt=0, description="Thickness added per step of the series (Å), rounded up to whole planes.")
    max_thickness_A: float = Field(30.0, gt=2.0, description="Thickest slab tried (Å); reaching it unconverged is flagged.")
    max_layers: int = Field(
        120, ge=3, description="Most atomic planes of a slab (= atoms: the slab is laterally primitive, one atom per plane)."
    )
    tolerance_J_m2: float = Field(0.005, gt=0, description="Converged when γ changes by less than this between steps (J/m²).")
    vacuum_A: float = Field(12.0, ge=5.0, description="Vacuum of the thickness series (Å).")
    vacuum_step_A: float = Field(4.0, gt=0, description="Vacuum added per step of the vacuum check (Å).")
    max_vacuum_A: float = Field(28.0, ge=5.0, description="Largest vacuum tried (Å); reaching it unconverged is flagged.")

    @field_validator("max_index", mode="before")
    @classmethod
    def _index_range(cls, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4:
            raise ValueError(f"max_index = {value!r}: must be an integer from 1 to 4 (4 already gives 22 facets)")
        return value

    @model_validator(mode="after")
    def _ranges(self) -> FacetEnumerationSpec:
        if self.max_thickness_A < self.start_thickness_A:
            raise ValueError(f"max_thickness_A {self.max_thickness_A} < start_thickness_A {self.start_thickness_A}")
        if self.max_vacuum_A < self.vacuum_A:
            raise ValueError(f"max_vacuum_A {self.max_vacuum_A} < vacuum_A {self.vacuum_A}")
        return self


STEP_TERRACES = ("100", "110")
"""Terraces of the stepped slabs; bcc(111) is left out (see :class:`StepSpec`)."""


class StepSpec(_Spec):
    """Stepped (vicinal) slabs of the low-index terraces (:mod:`li_campaign.geometry.steps`).

    Only the (100) and (110) terraces: bcc(111) is so open (planes 0.99 Å apart at
    a = 3.44 Å, the top three planes all exposed) that removing part of one plane does not
    make a monatomic step with a terrace on either side.
    """

    terraces: Annotated[list[MillerIndex], Field(min_length=1)] = Field(
        default_factory=lambda: [(1, 0, 0), (1, 1, 0)], description="Terrace facets: 100 and/or 110."
    )
    terrace_width_rows: int = Field(
        4, description="Atom rows of the upper terrace (and of the lower one); at least 3."
    )
    slab_thickness_A: float = Field(8.0, gt=2.0, description="Thickness of the flat slab before the step is cut (Å).")
    fix_bottom_layers: int = Field(2, ge=1, description="Bottom atomic planes held fixed (the same in the flat reference).")
    vacuum_A: float = Field(12.0, ge=5.0, description="Vacuum above the upper terrace (Å).")
    kinks: bool = Field(True, description="Also build the kinked slab and adsorb at its kink sites.")
    kink_spacing_atoms: int = Field(
        4, ge=4, description="Atoms per cell along the kinked step; half of one edge row is removed (two kinks per cell)."
    )
    min_lateral_A: float = Field(6.0, gt=0, description="Minimum cell length along the step in the adsorption cells (Å).")

    @field_validator("terraces", mode="before")
    @classmethod
    def _low_index(cls, value: list[object]) -> list[MillerIndex]:
        facets = _facets(value)
        bad = [f for f in facets if facet_label(f) not in STEP_TERRACES]
        if bad:
            raise ValueError(
                f"terraces {bad}: stepped slabs are built on the {' and '.join(STEP_TERRACES)} terraces only "
                "(bcc(111) is too open for a monatomic step; higher indices are already stepped)"
            )
        return facets

    @field_validator("terrace_width_rows", mode="before")
    @classmethod
    def _width(cls, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int) or value < 3:
            raise ValueError(
                f"terrace_width_rows = {value!r}: need an integer of at least 3, so that each terrace has a row "
                "away from both of its step edges"
            )
        return value


class HopSpec(_Spec):
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


class FanOutSpec(_Spec):
    """Calculations run with the deployed model."""

    facets: Annotated[list[MillerIndex], Field(min_length=1)] = Field(
        default_factory=lambda: [(1, 0, 0), (1, 1, 0), (1, 1, 1)]
    )
    eos: EosSpec = EosSpec()
    slab: FanOutSlabSpec = FanOutSlabSpec()
    relax: RelaxSpec = RelaxSpec()
    neb: NebSpec = NebSpec()
    hops: HopSpec = Field(default_factory=lambda: HopSpec(), description="Hops between stable sites (site graph).")
    site_perturbation_A: float = Field(
        0.1, ge=0, le=1.0, description="Lateral kick used to test whether an adsorption site is a minimum."
    )
    pack_size: int = Field(
        20,
        ge=1,
        description=(
            "Most calculations run in one job (one FireWorks launch): the surface-energy and adsorption-site "
            "calculations of all facets are packed together, then the NEBs. 1 runs every calculation as its "
            "own job. Each calculation still gets its own result document (li_campaign.execution.packing)."
        ),
    )

    facet_enumeration: FacetEnumerationSpec | None = Field(
        None,
        description=(
            "Every symmetrically distinct facet up to max_index, each with γ converged in slab thickness and "
            "vacuum; replaces `facets`. None: the listed `facets`, one slab each."
        ),
    )
    steps: StepSpec | None = Field(None, description="Stepped and kinked slabs: step energy, step and kink sites.")
    neb_convergence: NebConvergenceSpec | None = Field(
        None, description="Converge every surface NEB in its image count; None: one band of neb.n_images."
    )
    mechanisms: SurfaceMechanismSpec | None = Field(
        None, description="Exchange paths and across-step (Ehrlich–Schwoebel) paths besides the adatom hops."
    )
    md_diffusion: MdDiffusionSpec | None = Field(None, description="Adatom MD: D(T) per facet and an Arrhenius fit.")
    large_cell_diffusion: LargeCellDiffusionSpec | None = Field(
        None,
        description="Adatom diffusion in a wide slab with many adatoms (LargeCellDiffusionSpec); off unless given with "
        "enabled: true. Absent or disabled, it is left out of the dump, so the spec hash stays as before it existed.",
    )

    _check_facets = field_validator("facets", mode="before")(classmethod(lambda cls, v: _facets(v)))

    @model_validator(mode="after")
    def _one_facet_source(self) -> FanOutSpec:
        # a serialized spec carries the default `facets` beside `facet_enumeration`: only a different list conflicts
        default = type(self).model_fields["facets"].default_factory()
        if self.facet_enumeration is not None and list(self.facets) != default:
            raise ValueError("give either `facets` or `facet_enumeration` (which enumerates the facets itself), not both")
        return self

    def __repr_args__(self) -> list[tuple[str | None, object]]:
        """The fields, less ``large_cell_diffusion`` when absent or disabled (as in the dump)."""
        return [
            (name, value)
            for name, value in super().__repr_args__()
            if name != "large_cell_diffusion" or (value is not None and value.enabled)
        ]

    @model_serializer(mode="wrap")
    def _without_disabled_large_cell(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        """The dump, less ``large_cell_diffusion`` when absent or disabled: specs keep the ``spec_hash`` they had."""
        dump = handler(self)
        if self.large_cell_diffusion is None or not self.large_cell_diffusion.enabled:
            dump.pop("large_cell_diffusion", None)
        return dump

    @property
    def large_cell(self) -> LargeCellDiffusionSpec | None:
        """The large-cell diffusion section when it is enabled, else None."""
        section = self.large_cell_diffusion
        return section if section is not None and section.enabled else None

    def facet_list(self) -> list[MillerIndex]:
        """The facets of the fan-out: enumerated up to ``facet_enumeration.max_index``, or ``facets``."""
        if self.facet_enumeration is None:
            return list(self.facets)
        return distinct_facets(self.facet_enumeration.max_index)


class ExplorationSpec(_Spec):
    """What the committee explores in each active-learning iteration (cheap defaults).

    Start structures are built at ``training_set.lattice_constant_A``: a bulk supercell, a
    symmetric slab of each facet and that slab with one Li adatom in a hollow site. Each is
    explored by Langevin MD at each temperature of its kind, by a relaxation of a rattled
    copy, and (adatom cells) by a straight hop of the adatom to the next equivalent site.
    """

    bulk_supercell: int = Field(2, ge=1, le=6, description="n of the n×n×n repeat of the 2-atom cube (2n³ atoms).")
    bulk_temperatures_K: list[float] = Field(
        default_factory=lambda: [300.0, 600.0], description="MD temperatures of the bulk cell (K); empty: no bulk MD."
    )
    facets: list[MillerIndex] = Field(
        default_factory=lambda: [(1, 0, 0), (1, 1, 0)], description="Slab (and adatom) facets; empty: bulk only."
    )
    slab_temperatures_K: list[float] = Field(
        default_factory=lambda: [300.0], description="MD temperatures of the slabs and adatom cells (K)."
    )
    adatom: bool = Field(True, description="Also explore each slab with one Li adatom (MD, relaxation and hop).")
    min_slab_size_A: float = Field(5.0, gt=2.0, description="Minimum slab thickness (Å).")
    min_vacuum_A: float = Field(8.0, ge=5.0, description="Minimum vacuum thickness (Å).")
    min_lateral_A: float = Field(5.0, gt=0, description="Minimum in-plane size of slab and adatom cells (Å).")
    md_steps: int = Field(100, ge=1, description="Langevin MD steps per start structure and temperature.")
    timestep_fs: float = Field(2.0, gt=0, le=5.0, description="MD time step (fs).")
    friction_per_fs: float = Field(0.02, gt=0, le=1.0, description="Langevin friction (1/fs).")
    relax_steps: int = Field(30, ge=0, description="FIRE steps of the relaxation of a rattled copy; 0: no relaxations.")
    rattle_std_A: float = Field(0.15, ge=0, lt=0.5, description="Std. dev. of the rattle before the relaxation (Å).")
    hop_images: int = Field(5, ge=0, le=31, description="Images of the adatom hop path; 0: no hops.")
    sample_every: int = Field(10, ge=1, description="Every this many MD or relaxation steps, all members evaluate the frame.")

    _check_facets = field_validator("facets", mode="before")(classmethod(lambda cls, v: _facets(v) if v else []))

    @field_validator("bulk_temperatures_K", "slab_temperatures_K")
    @classmethod
    def _positive_temperatures(cls, value: list[float]) -> list[float]:
        if value and min(value) <= 0:
            raise ValueError(f"{value}: temperatures must be > 0 K")
        return value

    @model_validator(mode="after")
    def _something_to_explore(self) -> ExplorationSpec:
        if not self.bulk_temperatures_K and not self.relax_steps and not (self.facets and self.slab_temperatures_K):
            raise ValueError("nothing to explore: give bulk_temperatures_K, relax_steps > 0 or facets with slab_temperatures_K")
        return self


#: Exploration origins: what was explored (bulk, slab, adatom) and how (md, relax, hop); fanout_*: the
#: fan-out's own configurations (``active_learning.explore_fanout``).
EXPLORATION_ORIGINS = (
    "bulk_md", "bulk_relax", "slab_md", "slab_relax", "adatom_md", "adatom_relax", "adatom_hop", "fanout_neb", "fanout_slab",
)  # fmt: skip


class ActiveLearningSpec(_Spec):
    """Active learning: a committee's force disagreement decides which configurations get DFT labels.

    Each iteration trains ``committee_size`` models that differ in seed (and optionally in a
    random subsample of the frames), explores (:class:`ExplorationSpec`) with the first member
    driving and every member evaluating sampled frames, and measures σ, the largest per-atom
    standard deviation of the members' forces (eV/Å). Frames with ``trust_lower_eV_A`` ≤ σ <
    ``trust_upper_eV_A`` are candidates, σ ≥ upper counts as failed exploration (reported,
    never labelled), the rest as accurate. Up to ``budget_per_iteration`` diverse candidates
    (farthest-point sampling on a distance-histogram descriptor) are labelled and the committee
    is refit, until the candidate fraction falls below ``converged_candidate_fraction`` or
    ``max_iterations`` committees have been trained. With the teacher spot checks
    (``explore_fanout``) the loop stops when they all pass and goes on while any fails, with
    teacher labels of perturbed copies of the failing checks' cells (``near_check_*``).
    """

    committee_size: int = Field(4, ge=2, le=16, description="Models per committee.")
    seeds: list[int] | None = Field(
        None, description="Seed of each member (model init, data split and subsample); default mlip.seed + i."
    )
    subsample_fraction: float | None = Field(
        None, gt=0, le=1, description="Each member trains on a random fraction of the frames (None: all frames)."
    )
    max_epochs: int | None = Field(None, ge=1, description="Epochs of each member (None: mlip.max_epochs).")
    holdout_fraction: float = Field(
        0.1,
        gt=0,
        lt=0.5,
        description="Fraction (at least one frame) of the initial frames held out from every committee: the fixed "
        "holdout on which each iteration's errors are measured.",
    )
    trust_lower_eV_A: float = Field(0.05, gt=0, description="σ below this: accurate, not labelled (eV/Å).")
    trust_upper_eV_A: float = Field(0.3, gt=0, description="σ at or above this: failed exploration, not labelled (eV/Å).")
    budget_per_iteration: int = Field(8, ge=1, description="Most candidates labelled per iteration.")
    diversity: Literal["farthest_point", "max_deviation"] = Field(
        "farthest_point",
        description="farthest_point: farthest-point sampling on the descriptor; max_deviation: the largest σ first.",
    )
    descriptor_r_max_A: float = Field(6.0, gt=2.0, le=12.0, description="Cutoff of the distance-histogram descriptor (Å).")
    descriptor_bins: int = Field(40, ge=4, le=400, description="Bins of the distance-histogram descriptor.")
    origin_quotas: dict[str, int] | None = Field(
        None, description=f"Most frames selected per exploration origin per iteration; origins: {', '.join(EXPLORATION_ORIGINS)}."
    )
    converged_candidate_fraction: float = Field(
        0.05, ge=0, lt=1, description="Converged when the fraction of explored frames that are candidates is below this."
    )
    max_iterations: int = Field(5, ge=1, le=50, description="Most committees trained (iterations).")
    seed: int = Field(0, description="Seed of the exploration (velocities, rattles, Langevin noise) and the selection.")
    exploration: ExplorationSpec = ExplorationSpec()
    explore_fanout: bool = Field(
        False,
        description="Also explore the fan-out's own configurations (every image of every NEB band: fanout_neb; the "
        "relaxed clean slabs: fanout_slab), so each iteration waits for the fan-out; with the teacher spot checks on, "
        "each committee's mean is checked on the spot-check frames against their teacher labels (no new DFT) and the "
        "loop stops as soon as every check passes (stop_reason spot_checks_passed); while any fails it goes on "
        "(a committee that agrees with itself is not converged then) until max_iterations.",
    )
    near_check_copies: int = Field(
        2,
        ge=0,
        le=10,
        description="While spot checks fail: perturbed copies of each failing check's cells labelled by the teacher "
        "for the next committee (li_campaign.active.near_checks; the checks' own frames are never trained on). "
        "0: none.",
    )
    near_check_budget: int = Field(
        8, ge=0, description="Most perturbed copies labelled per iteration, on top of budget_per_iteration."
    )
    near_check_rattle_A: float = Field(
        0.03, ge=0, le=0.3, description="Std. dev. of the Gaussian rattle of the copies' free atoms (Å)."
    )
    near_check_height_step_A: float = Field(
        0.1,
        ge=0,
        le=1.0,
        description="Copies of an adsorption check's slab + adatom cell move the adatom along z by +h, -h, +2h, ... (Å).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ActiveLearningSpec:
        if self.trust_lower_eV_A >= self.trust_upper_eV_A:
            raise ValueError(
                f"trust_lower_eV_A ({self.trust_lower_eV_A}) must be below trust_upper_eV_A ({self.trust_upper_eV_A})"
            )
        if self.seeds is not None:
            if len(self.seeds) != self.committee_size:
                raise ValueError(f"seeds {self.seeds}: need one per member (committee_size = {self.committee_size})")
            if len(set(self.seeds)) != len(self.seeds):
                raise ValueError(f"seeds {self.seeds}: members must have different seeds")
        unknown = sorted(set(self.origin_quotas or {}) - set(EXPLORATION_ORIGINS))
        if unknown:
            raise ValueError(f"origin_quotas: unknown origins {unknown}; known: {list(EXPLORATION_ORIGINS)}")
        if any(n < 0 for n in (self.origin_quotas or {}).values()):
            raise ValueError(f"origin_quotas {self.origin_quotas}: quotas must be >= 0")
        return self

    def member_seeds(self, base_seed: int) -> list[int]:
        """Return the seed of each member: :attr:`seeds`, or ``base_seed + i``."""
        return list(self.seeds) if self.seeds is not None else [base_seed + i for i in range(self.committee_size)]


class ValidationSpec(_Spec):
    """Teacher spot checks after the fan-out (:mod:`li_campaign.validation`).

    The campaign's own DFT engine and label settings recompute a sample of the model's
    results at the model's geometries: per facet the lowest and the next stable adsorption
    sites (clean slab and slab + adatom at the relaxed NEB endpoints), the effective-barrier
    hop (single points along the model's converged band), the surface energy of the
    low-index facets, and the bulk a0 and B0 against the teacher's own EOS. Each quantity
    passes when |model − DFT| is within its tolerance here; the BEP fit is marked
    ``validated`` only when every check passed.
    """

    enabled: bool = Field(True, description="Run the spot checks (on by default).")
    adsorption_tol_eV: float = Field(0.10, gt=0, description="Largest |E_ads(model) − E_ads(DFT)| that passes (eV).")
    barrier_tol_eV: float = Field(0.10, gt=0, description="Largest |barrier(model) − barrier(DFT)| that passes (eV).")
    surface_energy_tol_J_m2: float = Field(0.02, gt=0, description="Largest |γ(model) − γ(DFT)| that passes (J/m²).")
    lattice_constant_tol_A: float = Field(0.02, gt=0, description="Largest |a0(model) − a0(teacher)| that passes (Å).")
    bulk_modulus_tol_GPa: float = Field(1.5, gt=0, description="Largest |B0(model) − B0(teacher)| that passes (GPa).")
    sites_per_facet: int = Field(2, ge=1, le=8, description="Stable adsorption sites checked per facet, lowest first.")
    barrier: bool = Field(True, description="Check the effective-barrier hop of every facet.")
    max_band_images: int = Field(
        9,
        ge=3,
        le=63,
        description=(
            "Most images of a band labelled (evenly spaced; endpoints and the model's top kept; the end of a hop "
            "between symmetry-equivalent sites is the start by symmetry and is not labelled)."
        ),
    )
    surface_energy_max_index: int = Field(
        1, ge=1, le=9, description="γ is checked on facets whose largest |Miller index| is at most this (low-index)."
    )
    max_atoms: int = Field(
        200,
        ge=2,
        description="Cells with more atoms keep only their top layers (same lateral cell, coverage and vacuum; at "
        "least 3 layers); where that is not enough the check is listed as skipped with the reason.",
    )
    relax_adsorption: bool = Field(
        False,
        description="Also relax every checked adatom cell and its clean slab with the teacher, from the model's "
        "geometry (fixed cell, the cell's fixed atoms held), and compare with the model's relaxation of the same cells "
        "(one relaxed_adsorption_energy check per site, tolerance adsorption_tol_eV): E_ads at each one's own minimum. "
        "The teacher's relaxation frames are stored like the single points.",
    )
    relax: RelaxSpec = Field(
        default_factory=lambda: RelaxSpec(fmax_eV_A=0.05, max_steps=60, optimizer="BFGS"),
        description="Relaxations of relax_adsorption, for the teacher and the model alike (BFGS; the teacher's "
        "engine runs ASE BFGS for GPAW/Morse, VASP's own optimiser for VASP).",
    )

    @field_validator("relax")
    @classmethod
    def _bfgs_only(cls, value: RelaxSpec) -> RelaxSpec:
        if value.optimizer != "BFGS":
            raise ValueError(f"optimizer {value.optimizer!r}: the teacher relaxes with BFGS, so the model must too")
        return value
    max_energy_deviation_eV_atom: float = Field(
        1.0,
        gt=0,
        description="A teacher label whose energy per atom is further than this from the teacher's bulk energy per atom "
        "is refused (a silently broken SCF): the check is listed as refused and the frame is not offered for training. "
        "Li's cohesive energy is 1.6 eV/atom; thin slabs and adatom cells stay within a few tenths of the bulk.",
    )


class CampaignSpec(_Spec):
    """A whole campaign: training structures, DFT labels, MLIP fit and fan-out."""

    name: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    seed: int = 7
    training_set: TrainingSetSpec = TrainingSetSpec()
    dft: DftSpec = DftSpec()
    mlip: MlipSpec = MlipSpec()
    fanout: FanOutSpec = FanOutSpec()
    bulk: BulkStageSpec = BulkStageSpec()
    active_learning: ActiveLearningSpec | None = None
    validation: ValidationSpec = ValidationSpec()

    @model_validator(mode="after")
    def _energy_shift_has_its_frame(self) -> CampaignSpec:
        if self.mlip.energy_shift == "isolated_atom" and self.training_set.isolated_atom_box_A is None:
            raise ValueError(
                "mlip.energy_shift = 'isolated_atom' needs the isolated-atom frame: set "
                "training_set.isolated_atom_box_A (default 12.0) or mlip.energy_shift: mean"
            )
        return self

    def spec_hash(self) -> str:
        """Return a sha256 of the validated spec (defaults filled in), for provenance."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()

    def provenance_context(self) -> dict[str, str]:
        """``campaign`` and ``spec_hash``: the provenance fields every Maker of the campaign takes."""
        return {"campaign": self.name, "spec_hash": self.spec_hash()}


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
        If the file is missing, is not UTF-8 text (the message names the first bad byte
        and its position), is not valid YAML, or fails validation; the message names the
        file and every offending field.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: campaign spec file not found")
    text = read_utf8(path, "campaign spec")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from None
    return spec_from_dict(data, source=str(path))
