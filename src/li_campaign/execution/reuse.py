"""Calculation reuse: a calculation whose inputs already have a result is not run again.

A calculation is identified by its *key*: the sha256 of its kind, the hash of its input
structure, the sha256 of the model (None for DFT) and its settings
(:func:`calculation_key`). A Maker stores the key in ``provenance.calc_key`` and wraps the
work in :func:`reuse_or_compute`; when a completed job of the JobStore (or a member of a
pack) already holds a result with that key, the stored document is returned with
``provenance.reused_from`` set to the uuid of the job that computed it, and nothing is
computed. Submitting a campaign twice, or extending it (more facets, a higher Miller
index), therefore computes only what is new.

jobflow and FireWorks have no such cache (FireWorks' duplicate check compares whole
firework specs, which differ here because every job's inputs are references to upstream
outputs), so it is written here. The JobStore is the one the job runs with: jobflow
exposes it in ``CURRENT_JOB.store`` for jobs whose ``config.expose_store`` is set
(:func:`expose_store`; packs always set it). Outside a jobflow run nothing is reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from jobflow import CURRENT_JOB
from monty.json import MontyDecoder, jsanitize

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from jobflow import Job, JobStore
    from pydantic import BaseModel

    from li_campaign.schemas.provenance import Provenance

logger = logging.getLogger(__name__)

_CALCULATION_UUID: ContextVar[str | None] = ContextVar("li_campaign_calculation_uuid", default=None)

Doc = TypeVar("Doc", bound="BaseModel")


def calculation_key(kind: str, structure_hash: str | None, model_sha256: str | None, settings: Mapping[str, Any] | Any) -> str:
    """Return the identity of a calculation.

    Parameters
    ----------
    kind
        What is computed, e.g. ``"surface_energy"`` or ``"dft_frame"``.
    structure_hash
        :func:`li_campaign.core.hashing.structure_hash` of the input structure.
    model_sha256
        sha256 of the deployed model file; None for a DFT calculation.
    settings
        Everything else that changes the result (spec sections, Miller index, site, …);
        pydantic models and MSONable objects are serialized first.

    Returns
    -------
    str
        64-character hex digest.
    """
    if hasattr(settings, "model_dump"):
        settings = settings.model_dump(mode="json")
    payload = {
        "kind": kind,
        "structure_hash": structure_hash,
        "model_sha256": model_sha256,
        "settings": jsanitize(settings, strict=False, enum_values=True),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def expose_store(job: Job) -> Job:
    """Let ``job`` see its JobStore while it runs (needed for reuse) and return it."""
    job.config.expose_store = True
    return job


@contextmanager
def calculation(uuid: str):
    """Name the calculation that runs inside the block (a pack member; see :func:`calculation_uuid`)."""
    token = _CALCULATION_UUID.set(uuid)
    try:
        yield
    finally:
        _CALCULATION_UUID.reset(token)


def calculation_uuid() -> str | None:
    """uuid of the calculation being run: the pack member in :func:`calculation`, else the running job's."""
    return _CALCULATION_UUID.get() or getattr(getattr(CURRENT_JOB, "job", None), "uuid", None)


def current_store() -> JobStore | None:
    """Return the JobStore of the running jobflow job, or None outside one (or when not exposed)."""
    return getattr(CURRENT_JOB, "store", None)


def find_result(key: str, store: JobStore | None = None) -> tuple[dict, str] | None:
    """Return ``(serialized document, uuid of the job that computed it)`` for a calculation key.

    Unpacked job outputs and members of packs are both searched; results that were
    themselves reused are skipped, so ``reused_from`` always names the computing job.
    """
    store = store if store is not None else current_store()
    if store is None or not key:
        return None
    original = {"provenance.calc_key": key, "provenance.reused_from": None}
    single = store.query_one(
        {"output.provenance.calc_key": key, "output.provenance.reused_from": None}, properties=["uuid", "output"], load=True
    )
    if single is not None:
        return single["output"], single["uuid"]
    pack = store.query_one(
        {"output.doc_type": "pack", "output.results": {"$elemMatch": original}}, properties=["uuid", "output"], load=True
    )
    if pack is None:
        return None
    for uuid, result in zip(pack["output"]["member_uuids"], pack["output"]["results"]):
        provenance = (result or {}).get("provenance") or {}
        if provenance.get("calc_key") == key and provenance.get("reused_from") is None:
            return result, uuid
    return None


def reuse_or_compute(
    provenance: Provenance,
    compute: Callable[[], Doc],
    store: JobStore | None = None,
    update: Mapping[str, Any] | None = None,
) -> Doc:
    """Return the stored result of the calculation ``provenance.calc_key``, or compute it.

    Parameters
    ----------
    provenance
        Provenance of the new result, with ``calc_key`` set (:func:`calculation_key`).
    compute
        Runs the calculation and returns its document (whose provenance carries the key).
    store
        JobStore to search; default the running job's.
    update
        Fields that name the result within this campaign (e.g. a frame's ``frame_id`` and
        ``label``), set on a reused document; they must not change the result.

    Returns
    -------
    Doc
        The computed document, or the stored one with ``provenance.reused_from`` set to the
        uuid of the job that computed it (and this campaign's name and spec hash). A job
        that is run again (``lpad rerun_fws``, or a pack rerun for one failed member) finds
        its own earlier result: that is returned unchanged, as computed by this job.
    """
    found = find_result(provenance.calc_key, store) if provenance.calc_key else None
    if found is None:
        doc = compute()
        if doc.provenance.calc_key != provenance.calc_key:
            doc.provenance.calc_key = provenance.calc_key
        return doc
    serialized, uuid = found
    doc = MontyDecoder().process_decoded(serialized)
    if uuid == calculation_uuid():  # this very calculation, run again (a rerun job): its own result, not a reuse
        return doc
    for name, value in (update or {}).items():
        setattr(doc, name, value)
    doc.provenance.reused_from = uuid
    doc.provenance.campaign = provenance.campaign
    doc.provenance.spec_hash = provenance.spec_hash
    logger.info("calculation %s… already computed by job %s: reused", provenance.calc_key[:12], uuid)
    return doc
