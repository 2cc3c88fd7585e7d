"""Open the FireWorks LaunchPad of a campaign, safely in both database modes.

Embedded mode uses FireWorks' mongomock file. mongomock-persistence reads the whole file
when a client is created and writes the whole in-memory database back when the client is
garbage-collected, so two processes that overlap lose each other's changes (measured:
lost launches, fireworks run twice, silently dropped workflows). :func:`open_launchpad`
therefore

* holds one exclusive ``flock`` on ``<campaign>/db/fireworks.lock`` while the LaunchPad is
  open (the same lock a user takes with ``flock <lock> lpad ...``),
* detaches mongomock-persistence's write-at-exit finalizer, and
* writes the database back atomically (temporary file + ``os.replace``) only when the
  block finished without an exception, so a failing command stores nothing half-done
  and a reader never sees a truncated file. A write that fails (disk full, unwritable
  folder) is retried with backoff (:mod:`li_campaign.db.retry`) and then raises
  :class:`~li_campaign.core.errors.DatabaseError`; the old file stays as it was.

The lock is waited for up to ``$LI_CAMPAIGN_LOCK_TIMEOUT_S`` seconds (default 600), then
``DatabaseError`` names the lock file.
"""

from __future__ import annotations

import errno
import fcntl
import os
import tempfile
import time
from pathlib import Path
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING

from li_campaign.core.errors import DatabaseError
from li_campaign.db.settings import redact_uri

if TYPE_CHECKING:
    from fireworks import LaunchPad

    from li_campaign.db.config import Campaign


def _open_lock_file(campaign: Campaign, write: bool) -> tuple[IO[str], int]:
    """Open the lock file; return it and the ``flock`` operation to hold it with.

    A reader that may not write the lock file (read-only file system, no permission) opens
    it read-only and takes a shared lock, which still excludes every writer.
    """
    campaign.lock_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        return open(campaign.lock_file, "a"), fcntl.LOCK_EX  # noqa: SIM115
    except OSError as exc:
        if write or exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS) or not campaign.lock_file.is_file():
            raise DatabaseError(f"{campaign.lock_file}: cannot open the LaunchPad lock: {exc.strerror}") from None
        return open(campaign.lock_file), fcntl.LOCK_SH  # noqa: SIM115


@contextmanager
def campaign_lock(campaign: Campaign, timeout_s: float | None = None, write: bool = True) -> Iterator[None]:
    """Hold the campaign's LaunchPad lock (embedded mode), waiting up to ``timeout_s``.

    ``None`` waits ``$LI_CAMPAIGN_LOCK_TIMEOUT_S`` seconds (default 600). The lock is
    exclusive, or shared for a reader (``write=False``) that may not write the lock file
    (a read-only campaign directory).
    """
    if timeout_s is None:
        timeout_s = float(os.environ.get("LI_CAMPAIGN_LOCK_TIMEOUT_S", 600.0))
    handle, operation = _open_lock_file(campaign, write)
    with handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, operation | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DatabaseError(
                        f"{campaign.lock_file}: the embedded LaunchPad is locked by another process "
                        f"for more than {timeout_s:.0f} s"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_atomically(path: os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` complete or not at all (temporary file in its folder + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@contextmanager
def open_launchpad(campaign: Campaign, write: bool = True) -> Iterator[LaunchPad]:
    """Yield the campaign's LaunchPad; see the module docstring for the embedded-mode rules.

    Parameters
    ----------
    campaign
        The campaign whose LaunchPad to open.
    write
        Embedded mode: write changes back when the block succeeds. Read-only callers pass
        ``False``.
    """
    import fireworks.core.launchpad as fw_launchpad  # deferred: heavy (fireworks)

    if campaign.mode == "embedded":
        # deferred: heavy (mongomock); the embedded mode only
        import bson.json_util
        import mongomock.gridfs
        import mongomock_persistence

        mongomock.gridfs.enable_gridfs_integration()  # FireWorks' GridFS fallback on mongomock

        if not campaign.fireworks_db_file.is_file():
            raise DatabaseError(f"{campaign.fireworks_db_file}: embedded LaunchPad file missing; run `li-campaign init`")
        with campaign_lock(campaign, write=write):
            os.environ["MONGOMOCK_SERVERSTORE_FILE"] = str(campaign.fireworks_db_file)
            fw_launchpad.MongoClient = mongomock_persistence.MongoClient
            try:
                lp = fw_launchpad.LaunchPad(strm_lvl="ERROR")
            except ValueError as exc:  # json decoding of a damaged file
                raise DatabaseError(f"{campaign.fireworks_db_file}: cannot read the LaunchPad file: {exc}") from None
            server_store = lp.connection._store
            server_store._finalizer.detach()
            yield lp
            if write:
                from li_campaign.db.retry import with_retries  # deferred: heavy (pymongo)

                text = bson.json_util.dumps(server_store.to_dict())
                what = f"{campaign.fireworks_db_file}: writing the embedded LaunchPad"
                with_retries(lambda: write_atomically(campaign.fireworks_db_file, text), what)
    else:
        import pymongo  # deferred: heavy (pymongo); the MongoDB mode only

        fw_launchpad.MongoClient = pymongo.MongoClient
        cfg = campaign.config
        uri, client_kwargs = cfg.mongodb_uri(), cfg.mongoclient_kwargs()
        lp = None
        try:
            lp = fw_launchpad.LaunchPad(
                host=uri, uri_mode=True, name=cfg.launchpad_database, mongoclient_kwargs=client_kwargs, strm_lvl="ERROR"
            )
            lp.connection.admin.command("ping")
        except Exception as exc:  # ServerSelectionTimeoutError, OperationFailure (auth), ConfigurationError (URI, TLS)
            if lp is not None:
                lp.connection.close()
            raise DatabaseError(
                f"mongodb database not reachable ({redact_uri(uri)}): {type(exc).__name__}: "
                f"{redact_uri(str(exc))[:300]}"
            ) from None
        try:
            yield lp
        finally:
            lp.connection.close()


def is_initialised(lp: LaunchPad) -> bool:
    """True if the LaunchPad has FireWorks' id counters (``lpad reset`` was run)."""
    return lp.fw_id_assigner.find_one({}) is not None


def initialise_launchpad(campaign: Campaign) -> bool:
    """Create FireWorks' collections and id counters if they do not exist yet.

    Returns
    -------
    bool
        True if the LaunchPad was initialised now, False if it already was (nothing reset).
    """
    with open_launchpad(campaign) as lp:
        if is_initialised(lp):
            return False
        lp.reset("", require_password=False, max_reset_wo_password=0)
        return True
