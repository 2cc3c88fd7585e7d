"""The ``fanout`` section: which facets, and every surface and kinetics calculation run with the model."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer, model_validator

from li_campaign.core.miller import MillerIndex, distinct_facets
from li_campaign.schemas.spec.base import RelaxSpec, SpecSection, facet_list
from li_campaign.schemas.spec.bulk import EosSpec
from li_campaign.schemas.spec.kinetics import HopSpec, LargeCellDiffusionSpec, MdDiffusionSpec, NebConvergenceSpec, NebSpec, SurfaceMechanismSpec
from li_campaign.schemas.spec.surfaces import FacetEnumerationSpec, FanOutSlabSpec, StepSpec


class FanOutSpec(SpecSection):
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

    _check_facets = field_validator("facets", mode="before")(classmethod(lambda cls, v: facet_list(v)))

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
