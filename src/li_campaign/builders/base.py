"""Incremental maggma MapBuilder over jobflow job outputs of one ``doc_type``.

jobflow writes one document per job run into the JobStore's docs store (``outputs``)::

    {"uuid", "index", "name", "output": {"doc_type": ..., ...}, "completed_at": ISO string, ...}

:class:`JobOutputMapBuilder` turns each output of one ``doc_type`` into one flat document
of a derived collection. Two things differ from a stock ``MapBuilder``:

* The target's ``last_updated`` is rounded *up* to the next millisecond. ``completed_at``
  has microseconds while BSON datetimes (montydb and MongoDB) keep milliseconds, so
  without the rounding every source document looks newer than its target document and
  every build reprocesses everything.
* ``get_items`` compares source and target by the *target* key (``frame_id`` and
  ``sha256`` for two collections, not the job ``uuid``) and, when several job runs
  produced the same target document, only the newest run is processed.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from maggma.builders import MapBuilder
from maggma.utils import grouper, to_dt, to_isoformat_ceil_ms
from pydash import get

if TYPE_CHECKING:
    from maggma.core import Store

    from li_campaign.db.config import Campaign

SOURCE_KEY = "uuid"
SOURCE_LAST_UPDATED = "completed_at"


def job_outputs_store(campaign: Campaign) -> Store:
    """Return the JobStore's docs store set up as a builder source.

    Parameters
    ----------
    campaign
        The campaign whose job outputs are read.

    Returns
    -------
    Store
        A new, unconnected store of the ``outputs`` collection whose last-updated field is
        jobflow's ``completed_at`` (an ISO string).
    """
    docs = campaign.job_store().docs_store
    spec = docs.as_dict()
    spec.update(key=SOURCE_KEY, last_updated_field=SOURCE_LAST_UPDATED, last_updated_type="isoformat")
    return type(docs).from_dict(spec)


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

    def __init__(self, source: Store, target: Store, **kwargs):
        if source.key != SOURCE_KEY or source.last_updated_field != SOURCE_LAST_UPDATED:
            raise ValueError(
                f"{type(self).__name__}: the source must be the jobflow docs store keyed by {SOURCE_KEY!r} "
                f"with last_updated_field {SOURCE_LAST_UPDATED!r}; use job_outputs_store(campaign)"
            )
        super().__init__(
            source,
            target,
            query={"output.doc_type": self.doc_type},
            projection=[f"output.{field}" for field in self.output_fields],
            **kwargs,
        )

    def _newest_runs(self) -> set[tuple[str, int]]:
        """Return ``(uuid, index)`` of the newest run per target key that is newer than its target doc."""
        props = [SOURCE_KEY, "index", SOURCE_LAST_UPDATED, self.target_key_path]
        newest: dict[str, tuple[datetime, str, int]] = {}
        for doc in self.source.query(criteria=self.query, properties=props):
            target_key = get(doc, self.target_key_path)
            completed = to_dt(doc[SOURCE_LAST_UPDATED])
            if target_key not in newest or completed > newest[target_key][0]:
                newest[target_key] = (completed, doc[SOURCE_KEY], doc.get("index", 1))
        lu_field = self.target.last_updated_field
        built = {
            doc[self.target.key]: doc.get(lu_field)
            for doc in self.target.query(
                criteria={self.target.key: {"$in": list(newest)}}, properties=[self.target.key, lu_field]
            )
        }
        return {
            (uuid, index)
            for key, (completed, uuid, index) in newest.items()
            if built.get(key) is None or completed > built[key]
        }

    def get_items(self) -> Iterator[dict]:
        """Yield the job outputs whose derived document is missing or older.

        Yields
        ------
        dict
            A projected job output document (``uuid``, ``index``, ``completed_at`` and the
            :attr:`output_fields` of ``output``).
        """
        self.ensure_indexes()
        runs = self._newest_runs()
        self.total = len(runs)
        self.logger.info(f"{type(self).__name__}: processing {self.total} items")
        projection = [*self.projection, SOURCE_KEY, "index", SOURCE_LAST_UPDATED, self.target_key_path]
        uuids = sorted({uuid for uuid, _ in runs})
        for chunk in grouper(uuids, self.chunk_size):
            for doc in self.source.query(criteria={SOURCE_KEY: {"$in": list(chunk)}}, properties=projection):
                if (doc[SOURCE_KEY], doc.get("index", 1)) in runs:
                    yield doc

    def process_item(self, item: dict) -> dict:
        """Flatten one job output; keep the job uuid and round ``last_updated`` up to ms."""
        out = super().process_item(item)
        out[self.target.key] = get(item, self.target_key_path)
        out[SOURCE_KEY] = item[SOURCE_KEY]
        out[SOURCE_LAST_UPDATED] = item[SOURCE_LAST_UPDATED]
        lu_field = self.target.last_updated_field
        out[lu_field] = to_dt(to_isoformat_ceil_ms(out[lu_field]))
        return out

    @abstractmethod
    def unary_function(self, item: dict) -> dict:
        """Return the flat derived document for one job output document."""
