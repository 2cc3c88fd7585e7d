"""maggma builders: job outputs -> flat derived collections -> facet summaries -> BEP fit.

:func:`all_builders` makes one builder per result type of the registry
(:data:`~li_campaign.schemas.registry.RESULT_TYPES`), in its build order; :func:`run_builders`
runs them (``li-campaign build``); ``workflows/builders.py`` hands the same list to maggma's ``mrun``.

This package holds what every builder shares (:mod:`.base`: the job-output MapBuilder, the
flattened provenance; :mod:`.flagged`) and the builders that join the domains' collections
(:mod:`.summary`: facet summaries, BEP, Wulff). Each domain keeps its own map builders
(``dft.builders``, ``mlip.builders``, ``surfaces.builders``, ``kinetics.builders``,
``bulk.builders``, ``validation.builders``, ``active.builders``), named in the registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maggma.utils import grouper

from li_campaign.builders.base import CampaignStores, job_outputs_store
from li_campaign.schemas.registry import RESULT_TYPES

if TYPE_CHECKING:
    from maggma.core import Builder


def all_builders(campaign: CampaignStores) -> list[Builder]:
    """Return every builder of a campaign in dependency order, each with its own store objects.

    One builder per :class:`~li_campaign.schemas.registry.ResultType`, in registry order: a
    map builder reads the JobStore (:func:`job_outputs_store`), a joining builder the
    derived collections of its ``sources`` (positional) and ``optional_sources`` (by keyword);
    either writes the result type's collection.

    Parameters
    ----------
    campaign
        The campaign whose JobStore is read and whose derived collections are written
        (a :class:`li_campaign.db.config.Campaign`).

    Returns
    -------
    list of Builder
        The property MapBuilders, then :class:`FacetSummaryBuilder`,
        :class:`BepRegressionBuilder`, :class:`WulffShapeBuilder` and :class:`BulkPropertiesBuilder`.
    """
    derived = campaign.derived_store
    builders: list[Builder] = []
    for result in RESULT_TYPES:
        sources = [job_outputs_store(campaign)] if result.maps_job_outputs else [derived(name) for name in result.sources]
        optional = {name: derived(name) for name in result.optional_sources}
        builders.append(result.builder_class()(*sources, derived(result.collection), **optional))
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


def run_builders(campaign: CampaignStores) -> dict[str, int]:
    """Run :func:`all_builders` in order; only new or updated results are processed.

    Returns
    -------
    dict
        Target collection name -> number of items processed.
    """
    return {builder.targets[0].collection_name: run_builder(builder) for builder in all_builders(campaign)}


__all__ = ["CampaignStores", "all_builders", "job_outputs_store", "run_builder", "run_builders"]
