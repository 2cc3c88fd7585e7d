"""The ``validation`` section: the teacher spot checks and their tolerances."""

from __future__ import annotations

from pydantic import Field, field_validator

from li_campaign.schemas.spec.base import RelaxSpec, SpecSection


class ValidationSpec(SpecSection):
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
