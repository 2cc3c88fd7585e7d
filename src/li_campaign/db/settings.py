"""Database settings (``db_config/*.yaml``, ``campaign.yaml``): the two modes and how to reach each.

The settings only; :class:`~li_campaign.db.config.Campaign` (``db.config``) builds the stores
from them, and the stores and the retry policy read them without importing the campaign.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from li_campaign.core.errors import DatabaseError, InputError
from li_campaign.core.textfiles import read_utf8

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


def redact_uri(uri: str) -> str:
    """Return a MongoDB URI with any ``user:password@`` removed."""
    return re.sub(r"//[^@/]*@", "//***@", uri)
