"""Teacher spot checks: ``validation`` outputs -> ``validation`` (one document per model and run)."""

from __future__ import annotations

from li_campaign.builders.base import JobOutputMapBuilder, provenance_fields
from li_campaign.schemas.registry import VALIDATION_COUNTS

VALIDATION_FIELDS = (
    "model_sha256", "engine", "checks", "passed", *VALIDATION_COUNTS, "thresholds", "frame_ids", "refused_frames", "notes",
)  # fmt: skip
"""The fields of a :class:`~li_campaign.schemas.validation.ValidationDoc` kept in the collection (all but provenance)."""


class ValidationBuilder(JobOutputMapBuilder):
    """``validation`` outputs -> ``validation``, keyed by the job uuid; every check row is kept (no structures)."""

    doc_type = "validation"
    output_fields = (*VALIDATION_FIELDS, "provenance")

    def unary_function(self, item: dict) -> dict:
        """Flatten a :class:`~li_campaign.schemas.validation.ValidationDoc`."""
        out = item["output"]
        return {**provenance_fields(out), **{field: out.get(field) for field in VALIDATION_FIELDS}}
