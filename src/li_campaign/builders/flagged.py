"""Count the flagged results that the builders leave out (:mod:`li_campaign.schemas.flags`).

A calculation stopped by a stability check stores a ``flagged`` document instead of its
result. The map builders select their results by ``doc_type``, so flagged documents never
reach a derived collection; :func:`count_flagged` counts them per result type (inside
packs too) and :func:`report_flagged` logs the count, so a build says how many results
are missing and why.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING

from li_campaign.builders.base import job_items, outputs_query
from li_campaign.schemas.registry import FLAGGED_DOC_TYPE

if TYPE_CHECKING:
    from maggma.core import Store

logger = logging.getLogger(__name__)

_FIELDS = (
    "uuid",
    "output.doc_type",
    "output.result_doc_type",
    "output.flag_kind",
    "output.member_uuids",
    "output.result_doc_types",
    "output.results.doc_type",
    "output.results.result_doc_type",
    "output.results.flag_kind",
)


def count_flagged(source: Store, result_doc_type: str) -> Counter:
    """Return the flagged results of one kind in the JobStore, counted by ``flag_kind``.

    Parameters
    ----------
    source
        The JobStore (or its docs store) of the campaign.
    result_doc_type
        The ``doc_type`` whose flagged calculations are counted, e.g. ``"finite_temperature"``.

    Returns
    -------
    Counter
        ``flag_kind -> number`` (empty when there is none).
    """
    counts: Counter = Counter()
    for doc in source.query(criteria=outputs_query(FLAGGED_DOC_TYPE), properties=list(_FIELDS)):
        for item in job_items(doc, FLAGGED_DOC_TYPE):
            output = item.get("output") or {}
            if output.get("result_doc_type") == result_doc_type:
                counts[output.get("flag_kind", "?")] += 1
    return counts


def report_flagged(source: Store, result_doc_type: str, builder: str) -> int:
    """Log how many ``result_doc_type`` results ``builder`` leaves out as flagged; return the number."""
    counts = count_flagged(source, result_doc_type)
    total = sum(counts.values())
    if total:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))
        logger.warning(
            f"{builder}: excluded {total} flagged {result_doc_type} result(s) ({kinds}); "
            "see `flag_reason` of the flagged documents"
        )
    return total
