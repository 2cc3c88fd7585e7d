"""Incremental maggma MapBuilder over jobflow job outputs of one ``doc_type``.

jobflow writes one document per job run into the JobStore's docs store (``outputs``)::

    {"uuid", "index", "name", "output": {"doc_type": ..., ...}, "completed_at": ISO string, ...}

:class:`JobOutputMapBuilder` turns each output of one ``doc_type`` into one flat document
of a derived collection. Three things differ from a stock ``MapBuilder``:

* The target's ``last_updated`` is rounded *up* to the next millisecond. ``completed_at``
  has microseconds while BSON datetimes (montydb and MongoDB) keep milliseconds, so
  without the rounding every source document looks newer than its target document and
  every build reprocesses everything.
* ``get_items`` compares source and target by the *target* key (``frame_id`` and
  ``sha256`` for two collections, not the job ``uuid``) and, when several job runs
  produced the same target document, only the newest run is processed.
* A *pack* output (``doc_type == "pack"``, :mod:`li_campaign.execution.packing`) holds the
  documents of many calculations; each of its member results of the builder's
  ``doc_type`` is one item, shaped like the output of an unpacked job whose ``uuid`` is
  the member's uuid (the pack's uuid is kept as ``pack_uuid``). A derived collection
  therefore has one document per calculation whether or not it was packed.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from datetime import datetime
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar, Protocol

from maggma.builders import MapBuilder
from maggma.utils import grouper, to_dt, to_isoformat_ceil_ms
from pydash import get

from li_campaign.schemas.packing import PACK_DOC_TYPE

if TYPE_CHECKING:
    from jobflow import JobStore
    from maggma.core import Store

SOURCE_KEY = "uuid"
SOURCE_LAST_UPDATED = "completed_at"
PACK_KEY = "pack_uuid"
_PACK_FIELDS = (
    "output.doc_type",
    "output.member_uuids",
    "output.result_doc_types",
    "output.results.doc_type",
    "output.provenance.reused_from",
    "output.results.provenance.reused_from",
)


LAST_UPDATED = "last_updated"
"""The derived documents' last-updated field (maggma's default)."""


class CampaignStores(Protocol):
    """What the builders need of a campaign: its JobStore and its derived collections.

    :class:`li_campaign.db.config.Campaign` is one; the builders sit below the storage layer
    and take any object with these two methods.
    """

    def job_store(self) -> JobStore:
        """The campaign's jobflow JobStore."""
        ...

    def derived_store(self, name: str) -> Store:
        """The derived collection ``name``, keyed as the result registry says."""
        ...


def pick(doc: dict, fields: tuple[str, ...]) -> dict:
    """Return the ``fields`` of ``doc`` that are present."""
    return {field: doc[field] for field in fields if field in doc}


def newest_doc(docs: list[dict]) -> dict | None:
    """Return the most recently updated document, or None if there is none."""
    return max(docs, key=lambda doc: to_dt(doc[LAST_UPDATED]), default=None)


def newest_time(docs: Iterable[dict]) -> datetime:
    """Return the newest ``last_updated`` of ``docs`` (``datetime.min`` if none)."""
    return max((to_dt(doc[LAST_UPDATED]) for doc in docs), default=datetime.min)


def stale_keys(group_times: dict[str, datetime], target: Store) -> list[str]:
    """Return the target keys whose newest source time is newer than the target document."""
    docs = target.query(properties=[target.key, LAST_UPDATED])
    built = {doc[target.key]: to_dt(doc.get(LAST_UPDATED)) for doc in docs}
    return sorted(key for key, newest in group_times.items() if built.get(key) is None or newest > built[key])


def strip_ids(docs: Iterable[dict]) -> list[dict]:
    """Return the documents without their database ``_id``."""
    return [{k: v for k, v in doc.items() if k != "_id"} for doc in docs]


def job_outputs_store(campaign: CampaignStores) -> Store:
    """Return the campaign's JobStore set up as a builder source.

    Parameters
    ----------
    campaign
        The campaign whose job outputs are read.

    Returns
    -------
    Store
        A new, unconnected JobStore over the ``outputs`` collection whose last-updated
        field is jobflow's ``completed_at`` (an ISO string). Its queries load fields that
        were moved to the large-data store back in place (``load=True``), so a builder
        sees complete outputs even when a large list was moved out of a document.
    """
    jobs = campaign.job_store()
    spec = jobs.docs_store.as_dict()
    spec.update(key=SOURCE_KEY, last_updated_field=SOURCE_LAST_UPDATED, last_updated_type="isoformat")
    return type(jobs)(type(jobs.docs_store).from_dict(spec), additional_stores=jobs.additional_stores, load=True)


def _in_pack(path: str) -> str:
    """Return where an ``output.<field>`` path lies for the member results of a pack."""
    return path.replace("output.", "output.results.", 1)


def outputs_query(doc_type: str) -> dict:
    """Return the JobStore query for the outputs that hold results of ``doc_type``: jobs and packs."""
    return {
        "$or": [
            {"output.doc_type": doc_type},
            {"output.doc_type": PACK_DOC_TYPE, "output.result_doc_types": doc_type},
        ]
    }


def _outermost(paths: list[str]) -> list[str]:
    """Drop projection paths inside another one (``output.provenance.reused_from`` in ``output.provenance``).

    A nested path narrows its parent on montydb and is a "path collision" error on MongoDB.
    """
    return list(dict.fromkeys(p for p in paths if not any(p.startswith(f"{q}.") for q in paths)))


def is_reused(item: dict) -> bool:
    """True if the calculation of ``item`` (a job output or pack member) reused an earlier result (execution.reuse)."""
    return bool(((item.get("output") or {}).get("provenance") or {}).get("reused_from"))


def job_items(doc: dict, doc_type: str) -> Iterator[dict]:
    """Yield the calculations of ``doc_type`` in one job output document.

    Parameters
    ----------
    doc
        A (projected) document of the JobStore's docs store.
    doc_type
        The ``doc_type`` wanted.

    Yields
    ------
    dict
        ``doc`` itself if it is not a pack; for a pack, each member result of ``doc_type``
        as ``{**doc, "uuid": <member uuid>, "pack_uuid": <pack uuid>, "output": <result>}``.
        Member results are aligned by ``result_doc_types``: a projection of
        ``output.results.<field>`` keeps only the results that are documents, in order.
    """
    output = doc.get("output") or {}
    if output.get("doc_type") != PACK_DOC_TYPE:
        yield doc
        return
    documents = iter([result for result in output.get("results", []) if isinstance(result, dict)])
    for uuid, result_type in zip(output["member_uuids"], output["result_doc_types"]):
        result = None if result_type is None else next(documents)
        if result_type == doc_type:
            yield {**doc, SOURCE_KEY: uuid, PACK_KEY: doc[SOURCE_KEY], "output": result}


def provenance_fields(output: dict) -> dict:
    """Return the provenance fields that every derived document carries."""
    prov = output["provenance"]
    return {
        "campaign": prov["campaign"],
        "model_sha256": prov.get("model_sha256"),
        "spec_hash": prov["spec_hash"],
        "code_version": prov.get("code_version"),
    }


class JobOutputMapBuilder(MapBuilder):
    """Map each jobflow output of one ``doc_type`` to one flat derived document.

    Subclasses set :attr:`doc_type`, :attr:`output_fields` (the ``output`` fields read,
    which keeps structures and forces out of the query) and, if the target is not keyed
    by the job uuid, :attr:`target_key_path`; they implement :meth:`unary_function`.
    Results inside packs are read with the same fields (see :func:`job_items`).

    Parameters
    ----------
    source
        The JobStore docs store, from :func:`job_outputs_store`.
    target
        The derived collection.
    **kwargs
        Passed to :class:`maggma.core.Builder` (e.g. ``chunk_size``).
    """

    doc_type: ClassVar[str]
    output_fields: ClassVar[tuple[str, ...]]
    target_key_path: ClassVar[str] = SOURCE_KEY
    include_reused: ClassVar[bool] = False
    """Whether results that reused an earlier calculation (``provenance.reused_from``) get a document;
    by default they do not, since the calculation that computed them already has one."""

    def __init__(self, source: Store, target: Store, **kwargs):
        if source.key != SOURCE_KEY or source.last_updated_field != SOURCE_LAST_UPDATED:
            raise ValueError(
                f"{type(self).__name__}: the source must be the jobflow docs store keyed by {SOURCE_KEY!r} "
                f"with last_updated_field {SOURCE_LAST_UPDATED!r}; use job_outputs_store(campaign)"
            )
        fields = [f"output.{field}" for field in self.output_fields]
        projection = _outermost([*fields, *map(_in_pack, fields), *_PACK_FIELDS])
        super().__init__(source, target, query=outputs_query(self.doc_type), projection=projection, **kwargs)

    def _key_fields(self) -> list[str]:
        """Return the source fields needed to find the newest run of each target document."""
        key_path = self.target_key_path
        return [SOURCE_KEY, "index", SOURCE_LAST_UPDATED, key_path, _in_pack(key_path), *_PACK_FIELDS]

    def _newest_runs(self) -> dict[tuple[str, int], str]:
        """Return the newest run per target key that is newer than its target doc.

        Returns
        -------
        dict
            ``(uuid, index)`` of the calculation (a job, or a member of a pack) -> uuid of
            the job output document that holds it.
        """
        newest: dict[str, tuple[datetime, str, int, str]] = {}
        for doc in self.source.query(criteria=self.query, properties=self._key_fields()):
            completed = to_dt(doc[SOURCE_LAST_UPDATED])
            for item in job_items(doc, self.doc_type):
                if is_reused(item) and not self.include_reused:
                    continue
                target_key = get(item, self.target_key_path)
                if target_key not in newest or completed > newest[target_key][0]:
                    newest[target_key] = (completed, item[SOURCE_KEY], doc.get("index", 1), doc[SOURCE_KEY])
        lu_field = self.target.last_updated_field
        built = {
            doc[self.target.key]: doc.get(lu_field)
            for doc in self.target.query(
                criteria={self.target.key: {"$in": list(newest)}}, properties=[self.target.key, lu_field]
            )
        }
        return {
            (uuid, index): source_uuid
            for key, (completed, uuid, index, source_uuid) in newest.items()
            if built.get(key) is None or completed > built[key]
        }

    def get_items(self) -> Iterator[dict]:
        """Yield the job outputs whose derived document is missing or older.

        Yields
        ------
        dict
            A projected job output document (``uuid``, ``index``, ``completed_at`` and the
            :attr:`output_fields` of ``output``), or a member result of a pack shaped like
            one (:func:`job_items`).
        """
        self.ensure_indexes()
        runs = self._newest_runs()
        self.total = len(runs)
        self.logger.info(f"{type(self).__name__}: processing {self.total} items")
        projection = _outermost([*self.projection, *self._key_fields()])
        uuids = sorted(set(runs.values()))
        for chunk in grouper(uuids, self.chunk_size):
            for doc in self.source.query(criteria={SOURCE_KEY: {"$in": list(chunk)}}, properties=projection):
                for item in job_items(doc, self.doc_type):
                    if (item[SOURCE_KEY], doc.get("index", 1)) in runs:
                        yield item

    def process_item(self, item: dict) -> dict:
        """Flatten one job output; keep the job (or pack member) uuid and round ``last_updated`` up to ms."""
        out = super().process_item(item)
        out[self.target.key] = get(item, self.target_key_path)
        out[SOURCE_KEY] = item[SOURCE_KEY]
        if PACK_KEY in item:
            out[PACK_KEY] = item[PACK_KEY]
        out[SOURCE_LAST_UPDATED] = item[SOURCE_LAST_UPDATED]
        lu_field = self.target.last_updated_field
        out[lu_field] = to_dt(to_isoformat_ceil_ms(out[lu_field]))
        return out

    @abstractmethod
    def unary_function(self, item: dict) -> dict:
        """Return the flat derived document for one job output document."""
