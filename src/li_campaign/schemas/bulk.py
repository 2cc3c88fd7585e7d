"""Documents of the bulk properties: EOS (lattice constant, ε_bulk), phonons, finite temperature, vacancy, elastic constants."""

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
    bulk_modulus_derivative: float | None = Field(
        None, description="B' = dB/dP at zero pressure (dimensionless); None in documents stored before it was fitted."
    )
    volumes_A3_atom: list[float]
    energies_eV_atom: list[float]
    provenance: Provenance


class PhononBand(BaseModel):
    """Phonon dispersion along Γ–H–P–Γ–N (phonopy; distances without the 2π factor)."""

    distances_inv_A: list[float] = Field(..., description="Cumulative path length of each q-point (1/Å).")
    frequencies_THz: list[list[float]] = Field(..., description="[q-point][branch] frequencies; imaginary < 0.")
    qpoints_primitive: list[list[float]] = Field(..., description="q in the primitive bcc reciprocal basis.")
    labels: list[str] = Field(..., description="Special points along the path.")
    label_distances_inv_A: list[float] = Field(..., description="Path length at each label (1/Å).")


class PhononDos(BaseModel):
    """Total phonon density of states (phonopy, tetrahedron method), per atom."""

    frequencies_THz: list[float]
    dos_states_THz: list[float] = Field(..., description="States per THz per atom; integrates to 3.")


class HarmonicThermal(BaseModel):
    """Harmonic thermodynamics from the phonon mesh, per mole of atoms (imaginary modes left out)."""

    temperatures_K: list[float]
    heat_capacity_J_K_mol: list[float] = Field(..., description="C_v; 3R = 24.94 J/(K mol) is Dulong–Petit.")
    free_energy_kJ_mol: list[float] = Field(..., description="Vibrational Helmholtz energy, zero-point included.")
    entropy_J_K_mol: list[float]


class PhononDoc(BaseModel):
    """Harmonic phonons of bcc Li at the model's lattice constant (phonopy finite displacements)."""

    doc_type: Literal["phonons"] = "phonons"
    lattice_constant_A: float
    supercell: tuple[int, int, int] = Field(..., description="Repeat of the 2-atom conventional cube.")
    n_supercell_atoms: int
    displacement_A: float
    n_displacements: int = Field(..., description="Displaced supercells whose forces were computed.")
    mesh: tuple[int, int, int]
    frequencies_THz: dict[str, list[float]] = Field(..., description="All branches at 'H', 'N', 'P', ascending.")
    min_frequency_THz: float = Field(..., description="Lowest frequency on the band path and the mesh.")
    imaginary_modes: bool = Field(..., description="min_frequency_THz below −imaginary_tolerance_THz: unstable.")
    band: PhononBand = Field(..., description="Stored in the large-data store.")
    dos: PhononDos = Field(..., description="Stored in the large-data store.")
    thermal: HarmonicThermal
    provenance: Provenance


class ObservableConvergence(BaseModel):
    """Block-average statistics of one MD observable, for judging its convergence."""

    value: float = Field(..., description="Production average (the value reported in the document).")
    error: float = Field(..., description="Block-average standard error with n_blocks blocks.")
    relative_error: float = Field(..., description="error / |value|.")
    error_long_blocks: float = Field(
        ..., description="Standard error with n_blocks // 2 blocks (twice as long); much larger than `error` means "
        "the blocks are shorter than the correlation time and `error` is an underestimate."
    )
    first_half: float = Field(..., description="Average over the first half of the production.")
    second_half: float = Field(..., description="Average over the second half of the production.")
    drift_sigma: float = Field(..., description="|first_half − second_half| in units of their combined block error.")


class FiniteTemperatureConvergence(BaseModel):
    """Averaging lengths and convergence checks of one temperature."""

    n_blocks: int
    npt_production_fs: float
    nvt_production_fs: float = Field(..., description="Production length of each NVT run (fs).")
    block_length_fs: float = Field(..., description="Length of one NVT block (fs).")
    observables: dict[str, ObservableConvergence] = Field(
        ..., description="Keys: lattice_constant_A, C11_GPa, C12_GPa, C44_GPa, heat_capacity_kB_per_atom."
    )
    converged: bool = Field(..., description="Every drift below max_drift_sigma and every Cij/Cv error below max_relative_error.")
    reasons: list[str] = Field(default_factory=list, description="Why not converged (empty if converged).")


class FiniteTemperatureDoc(BaseModel):
    """Bulk bcc Li at one temperature from MD: a(T) (NPT), isothermal Cij(T) (NVT strain–stress), Cv (NVT).

    Errors are block-average standard errors of the production averages.
    """

    doc_type: Literal["finite_temperature"] = "finite_temperature"
    temperature_K: float
    n_atoms: int
    supercell: int = Field(..., description="n of the n×n×n repeat of the 2-atom cube.")
    pressure_target_GPa: float
    lattice_constant_0K_A: float = Field(..., description="Static lattice constant of the model (start of the NPT run).")
    lattice_constant_A: float = Field(..., description="NPT average of V(t)^(1/3)/n of the cubic n×n×n cell (Å).")
    lattice_constant_err_A: float
    volume_per_atom_A3: float
    volume_per_atom_err_A3: float
    strain: float = Field(..., description="Amplitude δ: ε_kk = ±δ; engineering shear γ_ij = 2ε_ij = ±δ.")
    strain_axes: int
    C11_GPa: float
    C11_err_GPa: float
    C12_GPa: float
    C12_err_GPa: float
    C44_GPa: float
    C44_err_GPa: float
    bulk_modulus_GPa: float = Field(..., description="(C11 + 2 C12) / 3.")
    bulk_modulus_err_GPa: float
    born_stable: bool = Field(..., description="C11 − C12 > 0, C11 + 2 C12 > 0 and C44 > 0.")
    heat_capacity_kB_per_atom: float = Field(..., description="C_V = Var(E_tot) / (N k_B T²) of the unstrained NVT run.")
    heat_capacity_err_kB_per_atom: float
    heat_capacity_harmonic_kB_per_atom: float = Field(
        ..., description="Classical harmonic value of this run, 3 − 3/(2N) (no restoring force on the centre of mass)."
    )
    kinetic_temperature_K: float = Field(..., description="⟨T_kin⟩ of the unstrained NVT run (thermostat check).")
    residual_pressure_GPa: float = Field(..., description="⟨P⟩ of the unstrained NVT run at the mean NPT cell.")
    residual_pressure_err_GPa: float
    convergence: FiniteTemperatureConvergence
    restarts: list[str] = Field(
        default_factory=list,
        description="Runs resumed from a checkpoint, and at which step; runs whose unusable checkpoint was set aside.",
    )
    md_steps: int = Field(..., description="MD steps run by this job (resumed steps not counted twice).")
    wall_time_s: float = Field(..., description="Wall time of this job's MD (the last attempt only).")
    trajectory: dict | None = Field(
        None,
        description="Per run: frames every trajectory_every steps (step, cell, positions, energies, stress); "
        "jobs route this key to the large-data store.",
    )
    provenance: Provenance


class VacancySize(BaseModel):
    """Vacancy formation energy in one n×n×n supercell of the 2-atom cube."""

    n: int = Field(..., description="Repeat of the 2-atom cube along each axis.")
    n_atoms: int = Field(..., description="Atoms of the perfect supercell, N = 2n³.")
    perfect_energy_eV: float = Field(..., description="E(N) of the perfect supercell (eV).")
    vacancy_energy_eV: float = Field(..., description="E(N−1) with positions relaxed at fixed cell (eV).")
    formation_energy_eV: float = Field(..., description="E(N−1) − (N−1)/N E(N) (eV).")
    relax_converged: bool
    relax_steps: int


class VacancyDoc(BaseModel):
    """Bulk monovacancy of bcc Li: formation energy vs supercell size and the ⟨111⟩ migration barrier (CI-NEB)."""

    doc_type: Literal["vacancy"] = "vacancy"
    lattice_constant_A: float = Field(..., description="Fixed lattice constant of every supercell (Å).")
    sizes: list[VacancySize]
    formation_energy_eV: float = Field(..., description="E_f of the largest supercell (eV).")
    formation_energy_convergence_eV: float = Field(..., description="|ΔE_f| between the two largest supercells (eV).")
    converged: bool = Field(..., description="formation_energy_convergence_eV below the spec tolerance.")
    migration_supercell: int = Field(..., description="n of the supercell of the NEB.")
    hop_distance_A: float = Field(..., description="Nearest-neighbour hop length √3 a/2 (Å).")
    migration_barrier_eV: float = Field(..., description="Highest image minus the initial state (eV).")
    migration_barrier_reverse_eV: float = Field(..., description="Highest image minus the final state (eV).")
    neb_energies_eV: list[float] = Field(..., description="Image energies relative to the initial state, endpoints included (eV).")
    path_asymmetry_eV: float = Field(
        ..., description="Largest of |forward − reverse barrier| and |E_i − E_(n+1−i)|; zero for the symmetric hop (eV)."
    )
    path_symmetric: bool = Field(..., description="path_asymmetry_eV below the spec tolerance.")
    neb_converged: bool = Field(..., description="Whether the CI-NEB reached fmax.")
    neb_steps: int
    neb_images: list[Structure] | None = Field(
        None, description="Relaxed NEB images, endpoints included; jobs route this key to the large-data store."
    )
    provenance: Provenance


class ElasticDoc(BaseModel):
    """0 K (static) elastic constants of bcc Li from stress–strain central differences of the 2-atom cube."""

    doc_type: Literal["elastic"] = "elastic"
    source: Literal["mlip", "dft"] = Field("mlip", description="Deployed model, or the DFT teacher.")
    lattice_constant_A: float = Field(..., description="Lattice constant of the unstrained cell (Å), the source's own a0.")
    strains: list[float] = Field(..., description="Strain magnitudes ε, each applied at ±ε per Voigt component.")
    elastic_tensor_GPa: list[list[float]] = Field(..., description="6x6 Voigt stiffness (GPa), all 36 entries fitted.")
    c11_GPa: float
    c12_GPa: float
    c44_GPa: float
    bulk_modulus_GPa: float = Field(..., description="(C11 + 2 C12)/3 (GPa).")
    eos_bulk_modulus_GPa: float = Field(..., description="B0 of the same source's Birch–Murnaghan fit (GPa), for comparison.")
    tetragonal_shear_GPa: float = Field(..., description="C' = (C11 − C12)/2 (GPa).")
    zener_anisotropy: float | None = Field(..., description="2 C44 / (C11 − C12); None if C11 = C12.")
    cubic_deviation_GPa: float = Field(..., description="Largest deviation of a tensor entry from cubic symmetry (GPa).")
    reference_stress_GPa: list[float] = Field(..., description="Voigt stress of the unstrained cell (GPa); ≈ 0 at a0.")
    max_force_eV_A: float = Field(..., description="Largest atomic force in any strained cell; zero by inversion symmetry.")
    born_criteria: dict[str, bool] = Field(..., description="Cubic Born criteria (Mouhat & Coudert 2014) and whether each holds.")
    born_stable: bool
    n_calculations: int = Field(..., description="Stress evaluations (unstrained + 12 per strain magnitude).")
    provenance: Provenance
