"""MongoDB indexes of a campaign, declared as data, and ``li-campaign db init``.

:data:`INDEXES` lists every index of the JobStore and the derived collections: a unique
index on the key that identifies each result (jobflow's ``(uuid, index)``, each derived
collection's key) and indexes on the fields that the builders, the report and analysts
filter or sort on. The derived collections' keys and query fields are those of the result
registry (:data:`~li_campaign.schemas.registry.RESULT_TYPES`).
:func:`create_indexes` creates them on a pymongo ``Database``; it is idempotent.

Embedded mode has no indexes to create: montydb implements ``create_index`` as a no-op and
has no unique indexes. There, every write of the stores is an upsert on the store's key
(jobflow: ``uuid`` + ``index``; maggma: the derived collection's key), so a re-run
replaces its document instead of adding a second one.

Examples
--------
>>> import mongomock
>>> db = mongomock.MongoClient()["li_campaign"]
>>> [result.status for result in create_indexes(db)][:2]
['created', 'created']
>>> {result.status for result in create_indexes(db)}
{'exists'}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pymongo.errors import DuplicateKeyError, PyMongoError

from li_campaign.core.errors import DatabaseError
from li_campaign.db.settings import redact_uri
from li_campaign.schemas.registry import RESULT_TYPES

if TYPE_CHECKING:
    from pymongo.database import Database

    from li_campaign.db.config import Campaign


@dataclass(frozen=True)
class IndexSpec:
    """One index: a collection, its ascending key fields and its options.

    Parameters
    ----------
    collection
        Collection name (GridFS metadata: ``outputs_blobs.files``).
    fields
        Key fields, in order; all ascending.
    unique
        Refuse a second document with the same key.
    sparse
        Leave out documents without the field (fields that only some result types have).
    """

    collection: str
    fields: tuple[str, ...]
    unique: bool = False
    sparse: bool = False

    @property
    def keys(self) -> list[tuple[str, int]]:
        """The key in pymongo's form, ``[(field, 1), ...]``."""
        return [(field, 1) for field in self.fields]

    @property
    def name(self) -> str:
        """MongoDB's default name of the index (``uuid_1_index_1``), as maggma's indexes are named too."""
        return "_".join(f"{field}_1" for field in self.fields)


@dataclass(frozen=True)
class IndexResult:
    """What :func:`create_indexes` did with one :class:`IndexSpec`.

    ``status`` is ``created``, ``exists`` (same key and options already there) or
    ``replaced`` (same key with other options, e.g. a non-unique index that maggma's
    ``ensure_index`` made before ``db init`` ran, dropped and created again).
    """

    spec: IndexSpec
    status: str


def _index(collection: str, *fields: str, unique: bool = False, sparse: bool = False) -> IndexSpec:
    return IndexSpec(collection, fields, unique=unique, sparse=sparse)


#: jobflow's output documents: the builders select by ``output.doc_type`` and newest
#: ``completed_at``, fetch by ``uuid``; the MLIP fit reads training frames by ``frame_id``.
JOB_OUTPUT_INDEXES = (
    _index("outputs", "uuid", "index", unique=True),
    _index("outputs", "output.doc_type", "completed_at"),
    _index("outputs", "completed_at"),
    _index("outputs", "name"),
    _index("outputs", "output.provenance.campaign"),
    _index("outputs", "output.provenance.spec_hash"),
    _index("outputs", "output.provenance.model_sha256"),
    _index("outputs", "output.facet", sparse=True),
    _index("outputs", "output.frame_id", sparse=True),
    _index("outputs", "output.sha256", sparse=True),
)

#: GridFS large-data store: jobflow finds blobs by ``blob_uuid``. Not unique: maggma's
#: GridFSStore writes the new file before it deletes the old one of the same key.
BLOB_INDEXES = (
    _index("outputs_blobs.files", "metadata.blob_uuid"),
    _index("outputs_blobs.files", "metadata.job_uuid", "metadata.job_index"),
)

#: Derived collections written by the builders: unique on each registered collection's key, plus
#: ``last_updated`` (the builders' incremental check) and the registered query fields.
DERIVED_INDEXES = tuple(
    spec
    for result in RESULT_TYPES
    for spec in (
        _index(result.collection, result.key, unique=True),
        _index(result.collection, "last_updated"),
        *(_index(result.collection, *fields) for fields in result.indexes),
    )
)

#: Every index of a campaign database, in creation order.
INDEXES = JOB_OUTPUT_INDEXES + BLOB_INDEXES + DERIVED_INDEXES


def create_indexes(db: Database, specs: tuple[IndexSpec, ...] = INDEXES) -> list[IndexResult]:
    """Create the indexes on ``db``; existing ones with the same key and options are kept.

    Parameters
    ----------
    db
        A pymongo (or mongomock) database.
    specs
        The indexes (default: all of :data:`INDEXES`).

    Returns
    -------
    list of IndexResult
        One per spec, in order.

    Raises
    ------
    DatabaseError
        A unique index cannot be built because the collection holds duplicate keys.
    """
    results = []
    for spec in specs:
        collection = db[spec.collection]
        same_key = {
            name: info
            for name, info in collection.index_information().items()
            if [(field, int(direction)) for field, direction in info["key"]] == spec.keys
        }
        options = {(bool(info.get("unique")), bool(info.get("sparse"))) for info in same_key.values()}
        if (spec.unique, spec.sparse) in options:
            results.append(IndexResult(spec, "exists"))
            continue
        for name in same_key:
            collection.drop_index(name)
        try:
            collection.create_index(spec.keys, name=spec.name, unique=spec.unique, sparse=spec.sparse)
        except DuplicateKeyError as exc:
            raise DatabaseError(
                f"{spec.collection}: cannot create the unique index on {', '.join(spec.fields)}: the collection "
                f"holds documents with the same key ({str(exc)[:200]}); remove the duplicates and run "
                "`li-campaign db init` again"
            ) from None
        results.append(IndexResult(spec, "replaced" if same_key else "created"))
    return results


def init_database_indexes(campaign: Campaign) -> list[IndexResult]:
    """Create the indexes of a mongodb-mode campaign (``li-campaign db init``).

    Parameters
    ----------
    campaign
        A campaign in mongodb mode.

    Returns
    -------
    list of IndexResult
        What was created, kept or replaced.

    Raises
    ------
    DatabaseError
        The campaign is embedded, or the server is unreachable or refuses (the message
        carries the URI without its password).
    """
    if campaign.mode != "mongodb":
        raise DatabaseError(f"{campaign.root}: {campaign.mode} campaign; indexes exist only in mongodb mode")
    uri = campaign.config.mongodb_uri()
    db = campaign.database()
    try:
        db.client.admin.command("ping")
        return create_indexes(db)
    except PyMongoError as exc:  # ServerSelectionTimeoutError, OperationFailure (auth, no createIndex right)
        raise DatabaseError(
            f"mongodb database not reachable or refused ({redact_uri(uri)} db={campaign.config.database}): "
            f"{type(exc).__name__}: {redact_uri(str(exc))[:300]}"
        ) from None
    finally:
        db.client.close()
