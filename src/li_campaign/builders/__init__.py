"""maggma builders: job outputs -> flat derived collections -> facet summaries -> BEP fit.

:func:`all_builders` lists them in dependency order; :func:`run_builders` runs them
(``li-campaign build``); ``workflows/builders.py`` hands the same list to maggma's ``mrun``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maggma.utils import grouper

from li_campaign.builders.active import ActiveLearningBuilder
from li_campaign.builders.base import job_outputs_store
from li_campaign.builders.bulk import (
    BulkPropertiesBuilder,
    ElasticBuilder,
    FiniteTemperatureBuilder,
    PhononBuilder,
    VacancyBuilder,
)
from li_campaign.builders.properties import (
    AdsorptionEnergyBuilder,
    BulkBuilder,
    DiffusionBarrierBuilder,
    ModelRegistryBuilder,
    SurfaceEnergyBuilder,
    TrainingFrameBuilder,
)
from li_campaign.builders.summary import BepRegressionBuilder, FacetSummaryBuilder, WulffShapeBuilder
from li_campaign.builders.surfaces import (
    AdatomArrheniusBuilder,
    AdatomDiffusionBuilder,
    StepAdsorptionBuilder,
    StepEdgeBarrierBuilder,
    StepEnergyBuilder,
)
from li_campaign.builders.validation import ValidationBuilder

if TYPE_CHECKING:
    from maggma.core import Builder

    from li_campaign.db.config import Campaign

_MAP_BUILDERS = {
    "training_frames": TrainingFrameBuilder,
    "models": ModelRegistryBuilder,
    "bulk": BulkBuilder,
    "surface_energies": SurfaceEnergyBuilder,
    "adsorption_energies": AdsorptionEnergyBuilder,
    "diffusion_barriers": DiffusionBarrierBuilder,
    "step_energies": StepEnergyBuilder,
    "step_adsorption": StepAdsorptionBuilder,
    "step_edge_barriers": StepEdgeBarrierBuilder,
    "adatom_diffusion": AdatomDiffusionBuilder,
    "adatom_arrhenius": AdatomArrheniusBuilder,
    "vacancies": VacancyBuilder,
    "phonons": PhononBuilder,
    "finite_temperature": FiniteTemperatureBuilder,
    "elastic_constants": ElasticBuilder,
    "active_learning": ActiveLearningBuilder,
    "validation": ValidationBuilder,
}


def all_builders(campaign: Campaign) -> list[Builder]:
    """Return every builder of a campaign in dependency order, each with its own store objects.

    Parameters
    ----------
    campaign
        The campaign whose JobStore is read and whose derived collections are written.

    Returns
    -------
    list of Builder
        The property MapBuilders, then :class:`FacetSummaryBuilder`,
        :class:`BepRegressionBuilder`, :class:`WulffShapeBuilder` and :class:`BulkPropertiesBuilder`.
    """
    derived = campaign.derived_store
    builders: list[Builder] = [cls(job_outputs_store(campaign), derived(name)) for name, cls in _MAP_BUILDERS.items()]
    builders.append(
        FacetSummaryBuilder(
            derived("surface_energies"),
            derived("adsorption_energies"),
            derived("diffusion_barriers"),
            derived("bulk"),
            derived("facet_summary"),
            adatom_diffusion=derived("adatom_diffusion"),
            step_energies=derived("step_energies"),
        )
    )
    builders.append(BepRegressionBuilder(derived("facet_summary"), derived("bep_regression"), validation=derived("validation")))
    builders.append(WulffShapeBuilder(derived("facet_summary"), derived("wulff_shape")))
    builders.append(
        BulkPropertiesBuilder(
            *(derived(name) for name in ("bulk", "vacancies", "phonons", "finite_temperature", "elastic_constants")),
            derived("bulk_properties"),
        )
    )
    return builders


def run_builder(builder: Builder) -> int:
    """Run one builder serially (connect, get/process/update in chunks, finalize).

    Returns
    -------
    int
        The number of items processed.
    """
    builder.connect()
    n_items = 0
    for chunk in grouper(builder.get_items(), builder.chunk_size):
        docs = [doc for doc in map(builder.process_item, chunk) if doc is not None]
        builder.update_targets(docs)
        n_items += len(chunk)
    builder.finalize()
    return n_items


def run_builders(campaign: Campaign) -> dict[str, int]:
    """Run :func:`all_builders` in order; only new or updated results are processed.

    Returns
    -------
    dict
        Target collection name -> number of items processed.
    """
    return {builder.targets[0].collection_name: run_builder(builder) for builder in all_builders(campaign)}


__all__ = [
    "ActiveLearningBuilder",
    "AdsorptionEnergyBuilder",
    "BepRegressionBuilder",
    "BulkBuilder",
    "DiffusionBarrierBuilder",
    "FacetSummaryBuilder",
    "ModelRegistryBuilder",
    "SurfaceEnergyBuilder",
    "TrainingFrameBuilder",
    "ValidationBuilder",
    "all_builders",
    "job_outputs_store",
    "run_builder",
    "run_builders",
]
