"""Database configuration (``db_config/*.yaml``) and the stores built from it.

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
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from li_campaign.core.errors import DatabaseError, InputError

CAMPAIGN_CONFIG = "campaign.yaml"
DATA_STORE = "data"  # name of the jobflow additional store for large objects

#: Derived collections written by the builders (name -> key field).
DERIVED_COLLECTIONS = {
    "training_frames": "frame_id",
    "models": "sha256",
    "bulk": "uuid",
    "surface_energies": "uuid",
    "adsorption_energies": "uuid",
    "diffusion_barriers": "uuid",
    "facet_summary": "summary_id",
    "bep_regression": "regression_id",
}


class DbConfig(BaseModel):
    """Contents of a ``db_config/*.yaml`` file."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["embedded", "mongodb"] = "embedded"
    uri_env: str = Field(
        "LI_CAMPAIGN_MONGODB_URI",
        description="mongodb mode: environment variable that holds the full MongoDB URI (with credentials).",
    )
    database: str = Field("li_campaign", description="mongodb mode: database of the JobStore and derived data.")
    launchpad_database: str = Field("fireworks", description="mongodb mode: database of the FireWorks LaunchPad.")
    server_selection_timeout_ms: int = Field(5000, ge=100, description="mongodb mode: how long to wait for a server.")

    @classmethod
    def from_file(cls, path: str | Path) -> DbConfig:
        """Read and validate a database config file, naming the file and field on errors."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: database config file not found")
        try:
            data = yaml.safe_load(path.read_text()) or {}
            return cls.model_validate(data)
        except yaml.YAMLError as exc:
            raise InputError(f"{path}: not valid YAML: {exc}") from None
        except ValidationError as exc:
            fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise InputError(f"{path}: invalid database config: {fields}") from None

    def mongodb_uri(self) -> str:
        """Return the MongoDB URI from the environment (mongodb mode)."""
        uri = os.environ.get(self.uri_env, "")
        if not uri:
            raise DatabaseError(
                f"mongodb mode: environment variable {self.uri_env} is not set; export the MongoDB URI "
                "(a standard mongodb:// URI with user, password, host and authSource) in the environment "
                "of every process"
            )
        return uri


class Campaign:
    """A campaign directory: its database config, files and stores.

    Parameters
    ----------
    root
        The campaign directory (``./campaign`` by default). It holds ``campaign.yaml``
        (the database config chosen at ``li-campaign init``), models, launch folders and,
        in embedded mode, the databases.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        cfg_file = self.root / CAMPAIGN_CONFIG
        if not cfg_file.is_file():
            raise DatabaseError(
                f"{self.root}: not an initialised campaign directory (no {CAMPAIGN_CONFIG}); run `li-campaign init`"
            )
        self.config = DbConfig.from_file(cfg_file)

    @classmethod
    def create(cls, root: str | Path, config: DbConfig) -> Campaign:
        """Create (or re-open) a campaign directory with ``config``; existing data is kept."""
        root = Path(root).resolve()
        root.mkdir(parents=True, exist_ok=True)
        cfg_file = root / CAMPAIGN_CONFIG
        if cfg_file.is_file():
            existing = DbConfig.from_file(cfg_file)
            if existing != config:
                raise InputError(
                    f"{cfg_file}: campaign already initialised with mode={existing.mode}; "
                    "use another --campaign-dir to change the database"
                )
        else:
            cfg_file.write_text(yaml.safe_dump(config.model_dump(), sort_keys=False))
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

    # ----------------------------------------------------------------- stores
    def _store(self, collection: str, key: str):
        if self.mode == "embedded":
            from li_campaign.db.stores import SafeMontyStore

            return SafeMontyStore(
                collection,
                database_path=str(self.montydb_dir),
                database_name="li_campaign",
                storage="sqlite",
                key=key,
            )
        from maggma.stores import MongoStore

        return MongoStore(
            database=self.config.database,
            collection_name=collection,
            key=key,
            uri=self.config.mongodb_uri(),
            mongoclient_kwargs={"serverSelectionTimeoutMS": self.config.server_selection_timeout_ms},
        )

    def database(self):
        """A pymongo-style database handle of the JobStore and derived collections.

        Embedded mode returns montydb's pymongo-compatible database, mongodb mode a pymongo
        ``Database``, so the same ``find``/``aggregate`` queries work in both.
        """
        if self.mode == "embedded":
            from montydb import MontyClient

            return MontyClient(str(self.montydb_dir))["li_campaign"]
        import pymongo

        client = pymongo.MongoClient(
            self.config.mongodb_uri(), serverSelectionTimeoutMS=self.config.server_selection_timeout_ms
        )
        return client[self.config.database]

    def job_store(self):
        """The jobflow JobStore: job outputs plus a large-data store for big arrays."""
        from jobflow import JobStore

        docs = self._store("outputs", "uuid")
        if self.mode == "embedded":
            data = self._store("outputs_blobs", "blob_uuid")
        else:
            from maggma.stores import GridFSStore

            data = GridFSStore(
                database=self.config.database,
                collection_name="outputs_blobs",
                key="blob_uuid",
                uri=self.config.mongodb_uri(),
                mongoclient_kwargs={"serverSelectionTimeoutMS": self.config.server_selection_timeout_ms},
            )
        return JobStore(docs, additional_stores={DATA_STORE: data}, load=False)

    def derived_store(self, name: str):
        """A derived collection written by the builders (see :data:`DERIVED_COLLECTIONS`)."""
        if name not in DERIVED_COLLECTIONS:
            raise KeyError(f"unknown derived collection {name!r}; known: {sorted(DERIVED_COLLECTIONS)}")
        return self._store(name, DERIVED_COLLECTIONS[name])
