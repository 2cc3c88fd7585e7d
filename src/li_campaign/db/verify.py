"""``li-campaign db verify``: check that the stored results are whole and consistent.

Checks, each reported as a :class:`Problem` naming the collection, the document and the field:

``model_missing``
    A result (a job output, or a member of a pack) names a model in
    ``provenance.model_sha256`` that is in neither the model documents of the JobStore
    (``doc_type == "model"``) nor the ``models`` registry collection.
``structure_hash_missing``
    A result of a calculation on a structure
    (:data:`~li_campaign.schemas.registry.STRUCTURE_HASH_DOC_TYPES`, from the result registry),
    or a flagged result that stands in for one, has no valid ``provenance.structure_hash``
    (a 64-character hex digest).
``model_file``
    A registered model's deployed file or package file is missing, or its sha256 differs
    from the registry (:func:`li_campaign.core.hashing.verify_model_file`).
``oversized``
    A stored document (job outputs, large-data blobs excepted, and every registered derived collection)
    is larger than MongoDB's document limit
    (:data:`~li_campaign.db.stores.MONGODB_MAX_DOC_BYTES`, the limit the JobStore's size
    guard enforces): such a campaign cannot move to MongoDB and is slow to read.

The documents are read raw (large-data references are not loaded), one at a time. Written
here: neither jobflow nor maggma has an integrity check.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import bson

from li_campaign.core.errors import ModelIntegrityError
from li_campaign.core.hashing import verify_model_file
from li_campaign.db.stores import MONGODB_MAX_DOC_BYTES
from li_campaign.schemas.registry import FLAGGED_DOC_TYPE, RESULT_TYPES, STRUCTURE_HASH_DOC_TYPES

if TYPE_CHECKING:
    from li_campaign.db.config import Campaign

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
OUTPUTS = "outputs"


@dataclass(frozen=True)
class Problem:
    """One integrity problem: where it is and what is wrong."""

    check: str
    collection: str
    uuid: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.check}: {self.collection} uuid={self.uuid} field={self.field}: {self.message}"


def _results(doc: dict) -> Iterator[tuple[str, str, dict]]:
    """Yield ``(uuid, field prefix, result)`` for a job output and for each member of a pack."""
    output = doc.get("output")
    if not isinstance(output, dict):
        return
    if output.get("doc_type") != "pack":
        yield str(doc.get("uuid")), "output", output
        return
    for i, (uuid, result) in enumerate(zip(output.get("member_uuids", []), output.get("results", []))):
        if isinstance(result, dict):
            yield str(uuid), f"output.results.{i}", result


def _oversized(collection: str, doc: dict, limit: int) -> Problem | None:
    size = len(bson.encode(doc))
    if size <= limit:
        return None
    key = doc.get("uuid", doc.get("_id"))
    return Problem(
        "oversized", collection, str(key), "(document)", f"{size / 1024**2:.1f} MiB > limit {limit / 1024**2:.0f} MiB"
    )


def _model_file_problems(collection: str, uuid: str, field: str, model: dict) -> Iterator[Problem]:
    for path_field, sha_field in (("deployed_path", "sha256"), ("package_path", "package_sha256")):
        path, sha = model.get(path_field), model.get(sha_field)
        if not path or not sha:
            continue
        try:
            verify_model_file(path, sha)
        except ModelIntegrityError as exc:
            yield Problem("model_file", collection, uuid, f"{field}.{path_field}" if field else path_field, str(exc))


def verify_campaign(campaign: Campaign, max_doc_bytes: int = MONGODB_MAX_DOC_BYTES) -> list[Problem]:
    """Run every check on a campaign's JobStore and derived collections.

    Parameters
    ----------
    campaign
        The campaign (embedded or mongodb).
    max_doc_bytes
        Size limit of one stored document (BSON bytes).

    Returns
    -------
    list of Problem
        Empty when the campaign is consistent.
    """
    db = campaign.database()
    try:
        return _verify(db, max_doc_bytes)
    finally:
        if campaign.mode == "mongodb":
            db.client.close()


def _verify(db, max_doc_bytes: int) -> list[Problem]:
    """The checks of :func:`verify_campaign` on a pymongo-style database."""
    problems: list[Problem] = []
    registry: set[str] = set()
    uses: list[tuple[str, str, str]] = []  # (uuid, field, model sha256) of results that used a model
    for doc in db[OUTPUTS].find({}):
        if (problem := _oversized(OUTPUTS, doc, max_doc_bytes)) is not None:
            problems.append(problem)
        for uuid, field, result in _results(doc):
            doc_type = result.get("doc_type")
            provenance = result.get("provenance") or {}
            if doc_type == "model":
                registry.add(result.get("sha256"))
                problems.extend(_model_file_problems(OUTPUTS, uuid, field, result))
                continue
            if provenance.get("model_sha256"):
                uses.append((uuid, f"{field}.provenance.model_sha256", provenance["model_sha256"]))
            checked_as = result.get("result_doc_type") if doc_type == FLAGGED_DOC_TYPE else doc_type
            if checked_as in STRUCTURE_HASH_DOC_TYPES and not _HEX64.match(str(provenance.get("structure_hash") or "")):
                problems.append(
                    Problem(
                        "structure_hash_missing",
                        OUTPUTS,
                        uuid,
                        f"{field}.provenance.structure_hash",
                        f"{doc_type} result without a valid input-structure hash ({provenance.get('structure_hash')!r})",
                    )
                )
    for derived in RESULT_TYPES:
        name, key = derived.collection, derived.key
        for doc in db[name].find({}):
            if (problem := _oversized(name, doc, max_doc_bytes)) is not None:
                problems.append(problem)
            if name == "models":
                registry.add(doc.get(key))
                problems.extend(_model_file_problems(name, str(doc.get(key)), "", doc))
    for uuid, field, sha in uses:
        if sha not in registry:
            problems.append(
                Problem("model_missing", OUTPUTS, uuid, field, f"model {sha[:12]}… is not in the model registry")
            )
    return problems
