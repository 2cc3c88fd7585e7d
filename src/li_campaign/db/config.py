"""A campaign directory and the stores built from its database settings (:mod:`li_campaign.db.settings`).

Two modes share all code:

``embedded``
    FireWorks' mongomock mode (one JSON file, guarded by one lock file) for the
    LaunchPad and montydb/sqlite (:class:`~li_campaign.db.stores.SafeMontyStore`)
    for the jobflow JobStore and the derived collections, all under the campaign
    directory. No server.
``mongodb``
    A MongoDB server for everything (GridFS for large data). The URI is read from an
    environment variable named in the config; it is never written to a file, a log
    line or a FireWorks spec.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from montydb import MontyClient

from li_campaign.core.errors import DatabaseError, InputError
from li_campaign.db.settings import (  # noqa: F401  (the settings are imported from here by many modules)
    CAMPAIGN_CONFIG,
    DATA_STORE,
    MONTYDB_DATABASE,
    DbConfig,
    check_writable_path,
)
from li_campaign.schemas.registry import result_type


class Campaign:
    """A campaign directory: its database config, files and stores.

    Parameters
    ----------
    root
        The campaign directory (``./campaign`` by default). It holds ``campaign.yaml``
        (the database config chosen at ``li-campaign init``), models, launch folders and,
        in embedded mode, the databases.
    check_stores
        Embedded mode: check the JobStore's collection files now. A running job passes
        ``False`` (:func:`li_campaign.db.context.current_campaign`): it uses the campaign's
        folders only, and a staged job must open no database file.

    Raises
    ------
    DatabaseError
        If ``root`` is not an initialised campaign, or (embedded mode) a collection file of
        the montydb JobStore is damaged
        (:func:`~li_campaign.db.stores.check_collection_file`); the message names the file,
        which is left as it is.
    InputError
        If ``campaign.yaml`` is empty, not UTF-8 or not valid YAML, or has a wrong or
        unknown field; the message names the file and the field.
    """

    def __init__(self, root: str | Path, check_stores: bool = True):
        self.root = Path(root).resolve()
        cfg_file = self.root / CAMPAIGN_CONFIG
        if not cfg_file.is_file():
            raise DatabaseError(
                f"{self.root}: not an initialised campaign directory (no {CAMPAIGN_CONFIG}); run `li-campaign init`"
            )
        self.config = DbConfig.from_file(cfg_file, allow_empty=False)
        if self.mode == "embedded" and check_stores:
            from li_campaign.db.stores import check_collection_file  # deferred: heavy (montydb, maggma, jobflow)

            for path in sorted((self.montydb_dir / MONTYDB_DATABASE).glob("*.collection")):
                check_collection_file(path)

    @classmethod
    def create(cls, root: str | Path, config: DbConfig) -> Campaign:
        """Create (or re-open) a campaign directory with ``config``; existing data is kept.

        Raises
        ------
        InputError
            If the directory holds a campaign with another config, or a damaged
            ``campaign.yaml``.
        DatabaseError
            If a store file is damaged, or the directory (or its parent, for a new
            campaign) cannot be written; raised before anything is written.
        """
        root = Path(root).resolve()
        cfg_file = root / CAMPAIGN_CONFIG
        if cfg_file.is_file():
            campaign = cls(root)
            existing = campaign.config
            if existing != config:
                changed = [name for name in DbConfig.model_fields if getattr(existing, name) != getattr(config, name)]
                raise InputError(
                    f"{cfg_file}: campaign already initialised with mode={existing.mode} and other "
                    f"{', '.join(changed)}; use another --campaign-dir to change the database"
                )
            campaign.require_writable("init")
        else:
            check_writable_path(root, "init")
            root.mkdir(parents=True, exist_ok=True)
            cfg_file.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
            campaign = cls(root)
        for sub in (campaign.models_dir, campaign.launches_dir, campaign.config_dir):
            sub.mkdir(parents=True, exist_ok=True)
        if config.mode == "embedded":
            campaign.embedded_dir.mkdir(parents=True, exist_ok=True)
            if not campaign.fireworks_db_file.exists():
                campaign.fireworks_db_file.write_text("{}")
            # create the montydb storage once, before any worker connects
            store = campaign.derived_store("training_frames")
            store.connect()
            store.close()
        return campaign

    # ------------------------------------------------------------------ paths
    @property
    def mode(self) -> str:
        """``embedded`` or ``mongodb``."""
        return self.config.mode

    @property
    def models_dir(self) -> Path:
        """Deployed model files, named by sha256."""
        return self.root / "models"

    @property
    def launches_dir(self) -> Path:
        """One folder per FireWorks launch (job working directories)."""
        return self.root / "launches"

    @property
    def config_dir(self) -> Path:
        """Generated FireWorks and jobflow config files (no credentials)."""
        return self.root / "config"

    @property
    def embedded_dir(self) -> Path:
        """Embedded databases."""
        return self.root / "db"

    @property
    def fireworks_db_file(self) -> Path:
        """FireWorks' mongomock file (embedded mode)."""
        return self.embedded_dir / "fireworks.json"

    @property
    def lock_file(self) -> Path:
        """The one lock that every process opening the embedded LaunchPad holds."""
        return self.embedded_dir / "fireworks.lock"

    @property
    def montydb_dir(self) -> Path:
        """montydb (sqlite) directory of the JobStore and derived collections."""
        return self.embedded_dir / "montydb"

    def require_writable(self, command: str) -> None:
        """Raise before ``command`` changes anything if this process cannot write the campaign.

        Checked: the campaign directory, its ``models``, ``launches`` and ``config`` folders
        and, in embedded mode, ``db/``, the LaunchPad file and its lock, and the montydb
        folders and collection files (sqlite writes next to each collection file).

        Raises
        ------
        DatabaseError
            Naming the first of them (outermost first) that cannot be written.
        """
        paths = [self.root, self.models_dir, self.launches_dir, self.config_dir]
        if self.mode == "embedded":
            database = self.montydb_dir / MONTYDB_DATABASE
            paths += [self.embedded_dir, self.fireworks_db_file, self.lock_file, self.montydb_dir, database]
            paths += sorted(database.glob("*.collection"))
        for path in paths:
            check_writable_path(path, command)

    # ----------------------------------------------------------------- stores
    def _montydb_path(self) -> str:
        """The montydb folder, once it is known that sqlite can read it.

        sqlite in WAL mode (montydb's) reads a collection file only where it can create
        the file's ``-shm`` and ``-wal`` companions, so a read-only database folder is refused
        with a clear message instead of sqlite's "unable to open database file".
        """
        database = self.montydb_dir / MONTYDB_DATABASE
        if database.is_dir() and not os.access(database, os.W_OK):
            raise DatabaseError(
                f"{database}: read-only folder; the embedded database (sqlite in WAL mode) can only be read "
                "where it can create its <collection>.collection-shm files. Copy the campaign directory to a "
                "writable place to read it"
            )
        return str(self.montydb_dir)

    def _store(self, collection: str, key: str):
        if self.mode == "embedded":
            from li_campaign.db.stores import SafeMontyStore  # deferred: heavy (montydb, maggma, jobflow)

            return SafeMontyStore(
                collection,
                database_path=self._montydb_path(),
                database_name=MONTYDB_DATABASE,
                storage="sqlite",
                key=key,
            )
        from maggma.stores import MongoStore  # deferred: heavy (maggma); the MongoDB mode only

        return MongoStore(
            database=self.config.database,
            collection_name=collection,
            key=key,
            uri=self.config.mongodb_uri(),
            mongoclient_kwargs=self.config.mongoclient_kwargs(),
        )

    def database(self):
        """A pymongo-style database handle of the JobStore and derived collections.

        Embedded mode returns montydb's pymongo-compatible database, mongodb mode a pymongo
        ``Database``, so the same ``find``/``aggregate`` queries work in both.
        """
        if self.mode == "embedded":
            return MontyClient(self._montydb_path())[MONTYDB_DATABASE]
        import pymongo  # deferred: heavy (pymongo); the MongoDB mode only

        client = pymongo.MongoClient(self.config.mongodb_uri(), **self.config.mongoclient_kwargs())
        return client[self.config.database]

    def job_store(self):
        """The jobflow JobStore: job outputs plus a large-data store for big arrays.

        Returns
        -------
        LargeDataJobStore
            ``outputs`` (docs store) and ``outputs_blobs`` (the ``data`` store: montydb
            when embedded, GridFS with MongoDB). Output documents are kept under
            :data:`~li_campaign.db.stores.MAX_OUTPUT_DOC_BYTES` by moving their largest lists
            to the ``data`` store, and queries load them back (``load=True``), so readers
            always see complete documents.
        """
        # deferred: heavy (pymongo, maggma, jobflow); reading campaign.yaml needs none of them
        from li_campaign.db.retry import RetryPolicy
        from li_campaign.db.stores import LargeDataJobStore

        docs = self._store("outputs", "uuid")
        if self.mode == "embedded":
            data = self._store("outputs_blobs", "blob_uuid")
        else:
            from maggma.stores import GridFSStore  # deferred: heavy (maggma); the MongoDB mode only

            data = GridFSStore(
                database=self.config.database,
                collection_name="outputs_blobs",
                key="blob_uuid",
                uri=self.config.mongodb_uri(),
                mongoclient_kwargs=self.config.mongoclient_kwargs(),
            )
        return LargeDataJobStore(
            docs, additional_stores={DATA_STORE: data}, load=True, retry=RetryPolicy.from_env(self.config)
        )

    def derived_store(self, name: str):
        """A derived collection written by the builders, keyed as the result registry says (``ResultType.key``).

        Raises
        ------
        KeyError
            If ``name`` is not a registered derived collection.
        """
        return self._store(name, result_type(name).key)
