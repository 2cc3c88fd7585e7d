"""Spec sections of the surface fan-out: slabs, facet enumeration, steps."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from li_campaign.core.miller import MillerIndex, facet_label
from li_campaign.schemas.spec.base import SpecSection, facet_list


class FanOutSlabSpec(SpecSection):
    """Slabs for the model's surface calculations."""

    min_slab_size_A: float = Field(10.0, gt=2.0)
    min_vacuum_A: float = Field(12.0, ge=5.0)
    min_lateral_A: float = Field(8.0, gt=0, description="Minimum in-plane size of adatom cells (Å).")
    fix_bottom_A: float = Field(2.0, ge=0, description="Atoms this far from the bottom are fixed in adatom cells.")


class FacetEnumerationSpec(SpecSection):
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


class StepSpec(SpecSection):
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
        facets = facet_list(value)
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
