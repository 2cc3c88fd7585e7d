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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from li_campaign.core.errors import DatabaseError, InputError
from li_campaign.core.textfiles import read_utf8
from li_campaign.schemas.registry import result_type

CAMPAIGN_CONFIG = "campaign.yaml"
MONTYDB_DATABASE = "li_campaign"  # embedded mode: the montydb database (one folder of collection files)
DATA_STORE = "data"  # name of the jobflow additional store for large objects
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"  # an environment variable name (never its value)
_TLS_OPTIONS = (
    "tls_ca_file",
    "tls_certificate_key_file",
    "tls_certificate_key_file_password_env",
    "tls_allow_invalid_hostnames",
)


class DbConfig(BaseModel):
    """Contents of a ``db_config/*.yaml`` file (``db_config/mongodb.example.yaml`` documents every field).

    No secret is ever a field: the MongoDB URI (with its credentials) and the password of
    an encrypted TLS key file are read from the environment variables named here.
    """

    model_config = ConfigDict(extra="forbid")

    mode: Literal["embedded", "mongodb"] = "embedded"
    uri_env: str = Field(
        "LI_CAMPAIGN_MONGODB_URI",
        pattern=_ENV_NAME,
        description="mongodb mode: environment variable that holds the full MongoDB URI (with credentials).",
    )
    database: str = Field("li_campaign", description="mongodb mode: database of the JobStore and derived data.")
    launchpad_database: str = Field("fireworks", description="mongodb mode: database of the FireWorks LaunchPad.")
    server_selection_timeout_ms: int = Field(5000, ge=100, description="mongodb mode: how long to wait for a server.")
    connect_timeout_ms: int = Field(20000, ge=100, description="mongodb mode: timeout of one TCP/TLS connect.")
    socket_timeout_ms: int | None = Field(
        None, ge=100, description="mongodb mode: timeout of one network operation; None waits without limit."
    )
    tls: bool = Field(
        False,
        description="mongodb mode: connect with TLS. A `tls=true` in the URI or a mongodb+srv:// URI also turns it on.",
    )
    tls_ca_file: Path | None = Field(
        None, description="mongodb mode: CA bundle (PEM) that signed the server certificate; default: system CAs."
    )
    tls_certificate_key_file: Path | None = Field(
        None, description="mongodb mode: client certificate and private key (one PEM file), for X.509 or mutual TLS."
    )
    tls_certificate_key_file_password_env: str | None = Field(
        None,
        pattern=_ENV_NAME,
        description="mongodb mode: environment variable that holds the password of an encrypted key file.",
    )
    tls_allow_invalid_hostnames: bool = Field(
        False, description="mongodb mode: accept a server certificate whose hostname does not match (testing only)."
    )
    retry_attempts: int = Field(
        5, ge=1, description="Attempts of a job's database read or write before the job fails (env LI_CAMPAIGN_DB_RETRIES)."
    )
    retry_base_delay_s: float = Field(
        1.0, ge=0, description="Wait before the 2nd attempt, doubled before each next (env LI_CAMPAIGN_DB_RETRY_DELAY_S)."
    )

    @field_validator("tls_ca_file", "tls_certificate_key_file")
    @classmethod
    def _absolute_path(cls, path: Path | None) -> Path | None:
        """Expand ``~``; refuse relative paths (every process, on every node, must find the file)."""
        if path is None:
            return None
        path = path.expanduser()
        if not path.is_absolute():
            raise ValueError("must be an absolute path (or start with ~)")
        return path

    @model_validator(mode="after")
    def _tls_options_need_tls(self) -> DbConfig:
        """TLS options without ``tls: true`` are a mistake, not a silent plain-text connection."""
        given = [name for name in _TLS_OPTIONS if getattr(self, name) not in (None, False)]
        if given and not self.tls:
            raise ValueError(f"{', '.join(given)} given but tls is false; set tls: true")
        if self.tls_certificate_key_file_password_env and self.tls_certificate_key_file is None:
            raise ValueError("tls_certificate_key_file_password_env given without tls_certificate_key_file")
        return self

    @classmethod
    def from_file(cls, path: str | Path, allow_empty: bool = True) -> DbConfig:
        """Read and validate a database config file, naming the file and field on errors.

        Parameters
        ----------
        path
            A ``db_config/*.yaml`` file or a campaign's ``campaign.yaml``.
        allow_empty
            Whether a file without any field means the defaults (a ``db_config`` file). A
            ``campaign.yaml`` is written with every field by ``li-campaign init``, so the
            campaign passes ``False``: an empty one is damaged, not embedded mode.

        Raises
        ------
        InputError
            If the file is missing, empty (with ``allow_empty=False``), not UTF-8, not valid
            YAML, or has a field of the wrong type, a wrong value or an unknown field; the
            message names the file and every offending field.
        """
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: database config file not found")
        text = read_utf8(path, "database config")
        try:
            data = yaml.safe_load(text)
            if data is None and not allow_empty:
                raise InputError(
                    f"{path}: empty database config (not even `mode`); `li-campaign init` writes every field"
                )
            return cls.model_validate(data or {})
        except yaml.YAMLError as exc:
            raise InputError(f"{path}: not valid YAML: {exc}") from None
        except ValidationError as exc:
            fields = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" if e["loc"] else e["msg"] for e in exc.errors()
            )
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

    def mongoclient_kwargs(self) -> dict[str, object]:
        """Keyword arguments of ``pymongo.MongoClient`` for every connection (mongodb mode).

        The same dictionary goes to the FireWorks LaunchPad, the JobStore (MongoStore and
        GridFSStore), the derived stores and :meth:`Campaign.database`.

        Returns
        -------
        dict
            Timeouts and TLS options in pymongo's spelling (``tlsCAFile``, ...).

        Raises
        ------
        DatabaseError
            A TLS file is missing, or the key-password variable is not set; the message
            names the config field.
        """
        kwargs: dict[str, object] = {
            "serverSelectionTimeoutMS": self.server_selection_timeout_ms,
            "connectTimeoutMS": self.connect_timeout_ms,
        }
        if self.socket_timeout_ms is not None:
            kwargs["socketTimeoutMS"] = self.socket_timeout_ms
        if not self.tls:
            return kwargs
        kwargs["tls"] = True
        for field, option in (("tls_ca_file", "tlsCAFile"), ("tls_certificate_key_file", "tlsCertificateKeyFile")):
            path = getattr(self, field)
            if path is not None:
                if not path.is_file():
                    raise DatabaseError(f"mongodb mode: {field}: file {path} not found")
                kwargs[option] = str(path)
        if self.tls_certificate_key_file_password_env:
            password = os.environ.get(self.tls_certificate_key_file_password_env, "")
            if not password:
                raise DatabaseError(
                    f"mongodb mode: environment variable {self.tls_certificate_key_file_password_env} "
                    "(tls_certificate_key_file_password_env) is not set"
                )
            kwargs["tlsCertificateKeyFilePassword"] = password
        if self.tls_allow_invalid_hostnames:
            kwargs["tlsAllowInvalidHostnames"] = True
        return kwargs


def check_writable_path(path: Path, command: str) -> None:
    """Raise if this process can neither write ``path`` nor, if it does not exist yet, create it.

    ``os.access`` asks the kernel, so a read-only file system counts for every user, root
    included, and missing write permission for everyone but root.

    Parameters
    ----------
    path
        A folder or file that ``command`` writes.
    command
        The ``li-campaign`` command, for the message.

    Raises
    ------
    DatabaseError
        Naming ``path``, or its nearest existing parent folder if ``path`` does not exist.
    """
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not os.access(existing, os.W_OK):
        raise DatabaseError(
            f"{existing}: not writable (read-only file system or no write permission); "
            f"`li-campaign {command}` writes there. Nothing was changed"
        )


class Campaign:
    """A campaign directory: its database config, files and stores.

    Parameters
    ----------
    root
        The campaign directory (``./campaign`` by default). It holds ``campaign.yaml``
        (the database config chosen at ``li-campaign init``), models, launch folders and,
        in embedded mode, the databases.

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

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        cfg_file = self.root / CAMPAIGN_CONFIG
        if not cfg_file.is_file():
            raise DatabaseError(
                f"{self.root}: not an initialised campaign directory (no {CAMPAIGN_CONFIG}); run `li-campaign init`"
            )
        self.config = DbConfig.from_file(cfg_file, allow_empty=False)
        if self.mode == "embedded":
            from li_campaign.db.stores import check_collection_file

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
            from li_campaign.db.stores import SafeMontyStore

            return SafeMontyStore(
                collection,
                database_path=self._montydb_path(),
                database_name=MONTYDB_DATABASE,
                storage="sqlite",
                key=key,
            )
        from maggma.stores import MongoStore

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
            from montydb import MontyClient

            return MontyClient(self._montydb_path())[MONTYDB_DATABASE]
        import pymongo

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
        from li_campaign.db.retry import RetryPolicy
        from li_campaign.db.stores import LargeDataJobStore

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
