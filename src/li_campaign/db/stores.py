"""Stores of the embedded (montydb/sqlite) and MongoDB modes.

``SafeMontyStore`` fixes two problems of maggma 0.77's ``MontyStore`` measured on this
stack: ``connect()`` rewrites ``.monty.storage`` on every call (concurrent processes then
read an empty storage name), and ``ensure_index`` calls ``index_information``, which
montydb does not implement.

:func:`check_collection_file` refuses a damaged montydb collection file (truncated,
overwritten) before montydb opens it: montydb would raise raw sqlite errors, and it writes
a new header into an emptied file.

``LargeDataJobStore`` is the campaign's jobflow JobStore in both modes: it keeps every job
output document under :data:`MAX_OUTPUT_DOC_BYTES` by moving large lists to the
large-data store, so no document reaches MongoDB's 16 MiB limit.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

import bson
from jobflow import JobStore
from jobflow.utils.find import find_key, get_root_locations
from maggma.core import Store
from maggma.stores import MontyStore
from monty.json import jsanitize
from montydb import MontyClient, set_storage

from li_campaign.core.errors import DatabaseError, LiCampaignError
from li_campaign.db.retry import RetryPolicy, with_retries
from li_campaign.db.settings import DATA_STORE

logger = logging.getLogger(__name__)


class SafeMontyStore(MontyStore):
    """A MontyStore that is safe to open from several processes at once."""

    def connect(self, force_reset: bool = False) -> None:
        """Connect without rewriting the storage config when it already exists."""
        if not self._coll or force_reset:
            os.makedirs(self.database_path, exist_ok=True)
            if not os.path.isfile(os.path.join(self.database_path, ".monty.storage")):
                set_storage(self.database_path, storage=self.storage, **self.storage_kwargs)
            client = MontyClient(self.database_path, **self.client_kwargs)
            self._coll = client[self.database_name][self.collection_name]

    def ensure_index(self, key: str, unique: bool = False) -> bool:
        """montydb has no index support; report success so builders can run."""
        return True


_SQLITE_MAGIC = b"SQLite format 3\x00"
_DAMAGE = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}  # sqlite's error names for a damaged file
_EMPTY, _NO_TABLE = "empty file", "no documents table"  # also, for a moment, a collection being created
_CREATION_S = 0.5  # how long a collection being created may look empty or table-less


def _collection_damage(path: Path) -> str | None:
    """Why ``path`` is not a readable montydb collection file; ``None`` if it is.

    Raises
    ------
    DatabaseError
        If sqlite cannot read the file for a reason other than damage (e.g. it is locked).
    """
    size = path.stat().st_size
    if size == 0:
        return _EMPTY
    with open(path, "rb") as handle:
        header = handle.read(100)
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if not header.startswith(_SQLITE_MAGIC) or page_size == 0:
        return "not an SQLite database: no SQLite header"
    if size % page_size:
        return f"truncated: {size} bytes is not a whole number of {page_size}-byte pages"
    mode = "rw" if os.access(path.parent, os.W_OK) else "ro&immutable=1"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True)
        try:
            conn.execute("SELECT k FROM documents LIMIT 1").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        if "no such table" in str(exc):
            return _NO_TABLE
        if exc.sqlite_errorname in _DAMAGE:
            return f"sqlite: {exc}"
        raise DatabaseError(f"{path}: sqlite cannot read this embedded database file: {exc}") from None
    return None


def check_collection_file(path: Path) -> None:
    """Refuse a montydb (sqlite) collection file that is damaged, without changing it.

    The checks: the file is not empty, starts with sqlite's header, is a whole number of
    its pages long, and sqlite opens it and reads the first record of montydb's
    ``documents`` table (sqlite compares the page count in the header with the file size,
    so a file cut short at a page boundary is found too). Damage inside pages that this
    does not read is found when montydb reads them. A file that is empty or has no table
    is looked at again after :data:`_CREATION_S` seconds, as another process may be
    creating it. The file is opened read-write only so that sqlite removes the
    ``-wal``/``-shm`` files it creates; nothing is written. In a folder this process
    cannot write, where sqlite could not create those files, the file is read as
    immutable (a read-only campaign, e.g. an archived one).

    Parameters
    ----------
    path
        A ``<campaign>/db/montydb/<database>/<collection>.collection`` file.

    Raises
    ------
    DatabaseError
        If the file is damaged, or sqlite cannot read it for another reason (the message
        then gives sqlite's reason, e.g. the database is locked); the message names the file.
    """
    damage = _collection_damage(path)
    if damage in (_EMPTY, _NO_TABLE):
        time.sleep(_CREATION_S)
        damage = _collection_damage(path)
    if damage:
        raise DatabaseError(
            f"{path}: damaged embedded database file ({damage}); it was left as it is. "
            "Restore it from a backup; li-campaign does not open a damaged file"
        )


#: Soft size limit of one job output document in the docs store (BSON bytes). MongoDB refuses
#: documents over :data:`MONGODB_MAX_DOC_BYTES`; aiming at half of that leaves room for the
#: fields jobflow and maggma add and keeps every document quick to read.
MAX_OUTPUT_DOC_BYTES = 8 * 1024**2

#: MongoDB's hard limit on one document (16 MiB).
MONGODB_MAX_DOC_BYTES = 16 * 1024**2

_WRAPPER_BYTES = len(bson.encode({"": None}))  # a document of one empty-key field whose value has 0 bytes


class OutputTooLargeError(LiCampaignError):
    """A job output stays over MongoDB's document limit after its lists moved to the large-data store."""


def _value_size(value: Any) -> int:
    """Return the BSON size of ``value`` as a field value (its key not counted)."""
    return len(bson.encode({"": value})) - _WRAPPER_BYTES


def _blob_reference(value: Any) -> dict[str, str]:
    """Return a stand-in of the reference jobflow leaves where ``value`` was moved out."""
    msonable = isinstance(value, dict)
    return {
        "@class": value.get("@class", "") if msonable else "",
        "@module": value.get("@module", "") if msonable else "",
        "blob_uuid": "0" * 36,
        "store": DATA_STORE,
    }


def _at(doc: dict, location: Sequence[Any]) -> Any:
    """Return the value of ``doc`` at a location (keys and list indices)."""
    for step in location:
        doc = doc[step]
    return doc


def _list_fields(value: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """Yield the paths of list values reached from ``value`` through dictionaries only."""
    if isinstance(value, list):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _list_fields(item, (*path, key))


def _saved_locations(doc: dict, save: dict | None) -> list[tuple[Any, ...]]:
    """Return the locations that jobflow's ``save`` routing moves out of ``doc`` (as ``JobStore.update``)."""
    locations: list[list[Any]] = []
    for keys in (save or {}).values():
        for key in keys if isinstance(keys, (list, tuple)) else [keys]:
            key = key.value if isinstance(key, Enum) else key
            if isinstance(key, (list, tuple)):
                locations.append(list(key))
            else:
                locations.extend(find_key(doc, key, include_end=True))
    return [tuple(loc) for loc in get_root_locations(locations) if _at(doc, loc) is not None]


class LargeDataJobStore(JobStore):
    """A jobflow JobStore whose output documents never exceed MongoDB's 16 MiB limit.

    jobflow moves to an additional store only the keys a job names with ``@job(data=...)``.
    Before writing, this store measures each document (BSON, after that routing); if it is
    over ``max_doc_bytes`` it also moves the largest list-valued fields of ``output``
    (reached through dictionaries, e.g. ``output.parity.dft_force_components_eV_A``) to the
    ``data`` store through jobflow's own ``save`` paths, largest first, until the document is
    under the limit. jobflow leaves a ``blob_uuid`` reference in their place, which
    ``query(load=True)``, ``get_output(load=True)`` and output references (downstream jobs)
    resolve, so readers get the full output back.

    Parameters
    ----------
    docs_store
        Store of the output documents (``outputs``).
    additional_stores
        Must contain the large-data store under :data:`~li_campaign.db.config.DATA_STORE`.
    save, load
        As for :class:`jobflow.JobStore`.
    max_doc_bytes
        Soft limit per output document, in BSON bytes.
    retry
        How :meth:`connect`, :meth:`update` and :meth:`query_one` (what a running job does:
        resolve its inputs, write its output) retry while the database is away; default
        :meth:`~li_campaign.db.retry.RetryPolicy.from_env`. After the last attempt they
        raise :class:`~li_campaign.core.errors.DatabaseError`, so the job fails with that
        message and its output document is not written (jobflow writes it after its
        large-data blobs, so at most unreferenced blobs remain).

    Raises
    ------
    OutputTooLargeError
        From :meth:`update`, when a document is still over :data:`MONGODB_MAX_DOC_BYTES`
        after all of its lists were moved (the job then fails with this message).

    Examples
    --------
    >>> from maggma.stores import MemoryStore
    >>> store = LargeDataJobStore(MemoryStore(), {"data": MemoryStore()}, max_doc_bytes=1000)
    >>> store.connect()
    >>> store.update({"uuid": "a", "index": 1, "output": {"x": list(range(500)), "n": 500}})
    >>> store.docs_store.query_one()["output"]["x"]["store"]
    'data'
    >>> len(store.get_output("a", load=True)["x"])
    500
    """

    def __init__(
        self,
        docs_store: Store,
        additional_stores: dict[str, Store] | None = None,
        save: dict | None = None,
        load: bool | dict = False,
        max_doc_bytes: int = MAX_OUTPUT_DOC_BYTES,
        retry: RetryPolicy | None = None,
    ):
        super().__init__(docs_store, additional_stores=additional_stores, save=save, load=load)
        if DATA_STORE not in self.additional_stores:
            raise ValueError(f"{type(self).__name__} needs an additional store named {DATA_STORE!r}")
        self.max_doc_bytes = max_doc_bytes
        self.retry = retry

    def connect(self, force_reset: bool = False) -> None:
        """Connect every store, retrying while the database is away."""
        with_retries(lambda: JobStore.connect(self, force_reset=force_reset), "JobStore connect", self.retry)

    def query_one(self, criteria: dict | None = None, properties: list | dict | None = None, **kwargs) -> dict | None:
        """Return one document as :meth:`jobflow.JobStore.query_one`, retrying while the database is away."""
        return with_retries(
            lambda: JobStore.query_one(self, criteria, properties, **kwargs), f"JobStore read of {criteria}", self.retry
        )

    def update(self, docs: list[dict] | dict, key: list | str | None = None, save: bool | dict | None = None) -> None:
        """Write documents as :meth:`jobflow.JobStore.update`, moving lists out of oversized ones.

        Parameters
        ----------
        docs
            Job output documents (dicts or ``JobStoreDocument``).
        key
            Fields that identify a document (default ``["uuid", "index"]``).
        save
            Keys to route to additional stores (default: the store's ``save``).
        """
        if save in (None, True):
            save = self.save
        fitting = []
        for doc in docs if isinstance(docs, list) else [docs]:
            doc = jsanitize(doc, strict=True, allow_bson=True)
            moved = self._fields_to_move(doc, save)
            if not moved:
                fitting.append(doc)
                continue
            merged = dict(save or {})
            routed = merged.get(DATA_STORE, [])
            routed = list(routed) if isinstance(routed, (list, tuple)) else [routed]
            merged[DATA_STORE] = [*routed, *(list(path) for path in moved)]
            self._write(doc, key, merged)
        if fitting:
            self._write(fitting, key, save)

    def _write(self, docs: list[dict] | dict, key: list | str | None, save: dict | None) -> None:
        """jobflow's update, retried while the database is away."""
        names = ", ".join(f"{d.get('name')!r} ({d.get('uuid')})" for d in (docs if isinstance(docs, list) else [docs]))
        what = f"JobStore write of the output of job {names}"
        with_retries(lambda: JobStore.update(self, docs, key=key, save=save), what, self.retry)

    def _fields_to_move(self, doc: dict, save: dict | None) -> list[tuple[str, ...]]:
        """Return the ``output`` list fields to move so that ``doc`` fits; [] if it already does."""
        size = len(bson.encode(doc))
        if size <= self.max_doc_bytes:
            return []
        # what jobflow moves anyway: location -> bytes it saves
        savings = {}
        for loc in _saved_locations(doc, save):
            value = _at(doc, loc)
            savings[loc] = _value_size(value) - _value_size(_blob_reference(value))
        size -= sum(savings.values())
        reference = _value_size(_blob_reference([]))
        candidates = []
        for path in _list_fields(doc.get("output"), ("output",)):
            if any(path[: len(loc)] == loc for loc in savings):
                continue  # inside a location moved anyway
            inner = sum(saved for loc, saved in savings.items() if loc[: len(path)] == path)
            candidates.append((_value_size(_at(doc, path)) - inner - reference, path))
        moved = []
        for gain, path in sorted(candidates, reverse=True):
            if size <= self.max_doc_bytes or gain <= 0:
                break
            moved.append(path)
            size -= gain
        job = f"job {doc.get('name')!r} ({doc.get('uuid')}, index {doc.get('index')})"
        if size > MONGODB_MAX_DOC_BYTES:
            raise OutputTooLargeError(
                f"{job}: output document is {size / 1024**2:.1f} MiB after moving {len(moved)} list field(s) to "
                f"the {DATA_STORE!r} store; MongoDB stores at most {MONGODB_MAX_DOC_BYTES // 1024**2} MiB. "
                "Return the large data as lists, or name it in @job(data=...)"
            )
        if size > self.max_doc_bytes:
            logger.warning(f"{job}: output document stays {size / 1024**2:.1f} MiB (no more lists to move)")
        if moved:
            fields = ", ".join(".".join(path) for path in moved)
            logger.info(f"{job}: moved {fields} to the {DATA_STORE!r} store ({size / 1024**2:.1f} MiB left)")
        return moved
