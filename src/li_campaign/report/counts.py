"""How many calculations a campaign ran, and how many it reused (``li-campaign report``'s ``n_calculations``)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from li_campaign.schemas.packing import PACK_DOC_TYPE

if TYPE_CHECKING:
    from jobflow import JobStore

BOOKKEEPING = frozenset({PACK_DOC_TYPE, "training_set"})
"""Output types that record other results rather than compute one."""

# whole provenance sub-documents: montydb keeps only one of two sibling paths inside an array
# element (``output.results.provenance.campaign`` and ``...reused_from``)
_FIELDS = ["output.doc_type", "output.provenance", "output.result_doc_types", "output.results.provenance"]


def count_calculations(store: JobStore, campaign: str) -> dict:
    """Count the result documents of ``campaign`` in a JobStore: computed and reused, by type.

    Every calculation is one result document, whether it ran as its own job or inside a
    pack (:mod:`li_campaign.execution.packing`); documents with ``provenance.reused_from`` set
    reused an identical earlier calculation (:mod:`li_campaign.execution.reuse`) and computed
    nothing.

    Returns
    -------
    dict
        ``computed`` (int), ``reused`` (int) and ``by_type`` (doc_type -> computed count).
    """
    computed: Counter[str] = Counter()
    reused = 0
    for doc in store.query({"output.doc_type": {"$exists": True}}, properties=_FIELDS):
        output = doc.get("output") or {}
        if output.get("doc_type") == PACK_DOC_TYPE:
            documents = iter([r for r in output.get("results", []) if isinstance(r, dict)])
            members = [(kind, next(documents) if kind is not None else None) for kind in output.get("result_doc_types", [])]
        else:
            members = [(output.get("doc_type"), output)]
        for kind, result in members:
            provenance = (result or {}).get("provenance") or {}
            if kind is None or kind in BOOKKEEPING or provenance.get("campaign") != campaign:
                continue
            if provenance.get("reused_from"):
                reused += 1
            else:
                computed[kind] += 1
    return {"computed": sum(computed.values()), "reused": reused, "by_type": dict(sorted(computed.items()))}
