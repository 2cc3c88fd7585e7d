"""Spec sections of the DFT teacher: GPAW, VASP and the Morse stand-in (``dft``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from li_campaign.schemas.spec.base import SpecSection


class GpawSpec(SpecSection):
    """GPAW plane-wave PBE settings; all are recorded on every frame."""

    xc: Literal["PBE"] = "PBE"
    ecut_eV: float = Field(300.0, ge=150, le=1500, description="Plane-wave cutoff (eV).")
    kspacing_inv_A: float = Field(0.25, gt=0.02, le=1.0, description="Max k-point spacing 2π|b|/n (1/Å).")
    smearing: Literal["fermi-dirac", "methfessel-paxton"] = "fermi-dirac"
    smearing_width_eV: float = Field(0.1, gt=0, le=1.0)
    mp_order: int = Field(1, ge=1, le=3, description="Methfessel–Paxton order (only with that smearing).")
    energy_convergence_eV: float = Field(1e-5, gt=0, description="SCF energy convergence per valence electron.")
    max_scf_iterations: int = Field(200, ge=10)


class MorseSpec(SpecSection):
    """Analytic Morse pair potential (ASE MorsePotential) for fast pipeline tests; not physics."""

    epsilon_eV: float = Field(0.2, gt=0)
    r0_A: float = Field(3.0, gt=1.0)
    rho0: float = Field(3.5, gt=0)
    cutoff_A: float = Field(6.0, gt=2.0, description="Interactions are smoothly switched off between 0.8·cutoff and cutoff (Å).")


class VaspSpec(SpecSection):
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


class DftSpec(SpecSection):
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
