"""The output of a pack: many small calculations run in one job (:mod:`li_campaign.execution.packing`)."""

from __future__ import annotations

from typing import Any, Literal

from monty.json import jsanitize
from pydantic import BaseModel, Field

PACK_DOC_TYPE = "pack"


def serialize_result(result: Any) -> Any:
    """Return ``result`` serialized exactly as jobflow stores the output of an unpacked job.

    Pydantic documents keep their ``@module``/``@class``, so a reference to a member's result
    resolves to the same document type as the member job's own output would.
    """
    return jsanitize(result, strict=True, enum_values=True, allow_bson=True)


def result_doc_type(serialized: Any) -> str | None:
    """Return the ``doc_type`` of a serialized result.

    Returns
    -------
    str or None
        The ``doc_type`` of a document (``""`` for a document without one); None for a
        result that is not a document (None, a number, a list).
    """
    return serialized.get("doc_type", "") if isinstance(serialized, dict) else None


class MemberFailure(BaseModel):
    """A member of a pack that raised; the other members still ran."""

    name: str = Field(..., description="Name of the member job.")
    uuid: str = Field(..., description="uuid of the member job.")
    error_type: str = Field(..., description="Exception class, e.g. 'RuntimeError'.")
    message: str = Field(..., description="Exception message.")


class PackDoc(BaseModel):
    """Results of the member calculations of one pack, in member order.

    ``results[i]`` is the document that member ``i`` returned (None if it failed), already
    serialized by :func:`serialize_result` in :func:`~li_campaign.execution.packing.run_pack`, i.e.
    stored as the member job would have stored it; ``pack.output.results[i]`` is a reference to it.
    """

    doc_type: Literal["pack"] = PACK_DOC_TYPE
    member_names: list[str] = Field(..., description="Job name of each member.")
    member_uuids: list[str] = Field(..., description="Job uuid of each member (the result's identity).")
    results: list[Any] = Field(..., description="Output of each member, None where it failed.")
    result_doc_types: list[str | None] = Field(
        ...,
        description=(
            "doc_type of each member's result document ('' for a document without one); None where the "
            "member failed or returned something that is not a document. Builders use it to find results."
        ),
    )
    failures: list[MemberFailure] = Field(default_factory=list, description="Members that raised.")
    member_wall_s: list[float] = Field(..., description="Wall time of each member's calculation (s).")
    wall_s: float = Field(..., description="Wall time of the whole pack, members and bookkeeping (s).")
    execution: dict[str, Any] = Field(
        default_factory=lambda: {"executor": "one-by-one"},
        description=(
            "How the members' model calls ran: 'one-by-one' (in turn, through ASE), or 'batched' with the "
            "model forms chosen by the loader, the device and the number of batched calls and structures "
            "(li_campaign.batched.dispatch.BatchDispatcher.record). Batched members run together, so their "
            "member_wall_s overlap."
        ),
    )

