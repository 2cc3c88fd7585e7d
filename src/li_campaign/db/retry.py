"""Retry database operations with exponential backoff, then fail with one clear message.

A worker that writes its result while the database is briefly away (a MongoDB failover, a
network blip, an sqlite file locked by another process, a full or unwritable disk) should
wait and try again, not lose the calculation; a database that stays away should fail the
job with a message that says what was tried, for how long, and what the last error was
(credentials redacted), so ``li-campaign status`` shows it and ``li-campaign recover`` /
``rerun`` can run it again later.

The policy comes from the environment first, then from the campaign's database config
(``retry_attempts``, ``retry_base_delay_s`` in ``db_config/*.yaml``), then the defaults:

``LI_CAMPAIGN_DB_RETRIES``
    Attempts in all (default 5; 1 means no retry).
``LI_CAMPAIGN_DB_RETRY_DELAY_S``
    Delay before the second attempt (default 1 s); each further delay doubles, up to
    :attr:`RetryPolicy.max_delay_s` (60 s). With the defaults a write is given up after
    1 + 2 + 4 + 8 = 15 s of waiting plus the attempts' own timeouts.

Only errors that can pass are retried (:data:`TRANSIENT`); a programming error or a
document that is too large fails at once. Written here: pymongo retries one operation
once at most, and neither maggma nor jobflow retries.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from pymongo.errors import ConnectionFailure, NotPrimaryError

from li_campaign.core.errors import DatabaseError
from li_campaign.db.settings import redact_uri

if TYPE_CHECKING:
    from li_campaign.db.settings import DbConfig

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Errors worth another attempt: pymongo connection loss (``AutoReconnect``,
#: ``ServerSelectionTimeoutError``, ``NetworkTimeout``), a failover in progress, sqlite's
#: "database is locked" / "disk I/O error" / "attempt to write a readonly database", and
#: operating-system errors of the files (disk full, permissions, NFS).
TRANSIENT: tuple[type[BaseException], ...] = (ConnectionFailure, NotPrimaryError, sqlite3.OperationalError, OSError)

ENV_ATTEMPTS = "LI_CAMPAIGN_DB_RETRIES"
ENV_DELAY = "LI_CAMPAIGN_DB_RETRY_DELAY_S"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry.

    Parameters
    ----------
    attempts
        Attempts in all (>= 1).
    base_delay_s
        Wait before the second attempt; doubled before each further one.
    max_delay_s
        Longest single wait.
    """

    attempts: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError(f"invalid retry policy {self}: attempts >= 1 and delays >= 0 needed")

    @classmethod
    def from_env(cls, config: DbConfig | None = None) -> RetryPolicy:
        """Return the policy of the environment, else of ``config``, else the defaults.

        Raises
        ------
        DatabaseError
            An environment variable is not a number (the message names it).
        """
        attempts = getattr(config, "retry_attempts", None) or cls.attempts
        delay = getattr(config, "retry_base_delay_s", None)
        delay = cls.base_delay_s if delay is None else delay
        try:
            attempts = int(os.environ.get(ENV_ATTEMPTS, attempts))
            delay = float(os.environ.get(ENV_DELAY, delay))
            return cls(attempts=attempts, base_delay_s=delay)
        except ValueError as exc:
            raise DatabaseError(f"{ENV_ATTEMPTS}/{ENV_DELAY}: {exc}") from None

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return min(self.base_delay_s * 2 ** (attempt - 1), self.max_delay_s)


def with_retries(
    operation: Callable[[], T],
    what: str,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``operation``; on a :data:`TRANSIENT` error wait and retry, as ``policy`` says.

    Parameters
    ----------
    operation
        The database operation (no arguments).
    what
        What it does, for messages, e.g. ``"JobStore write of job add (uuid …)"``.
    policy
        Default: :meth:`RetryPolicy.from_env`.
    sleep
        The wait (tests pass a recorder).

    Returns
    -------
    The operation's result.

    Raises
    ------
    DatabaseError
        After the last attempt failed: how many attempts, over how long, and the last
        error with any ``user:password@`` removed.
    """
    policy = policy or RetryPolicy.from_env()
    start = time.monotonic()
    attempt = 1
    while True:
        try:
            return operation()
        except TRANSIENT as exc:
            error = f"{type(exc).__name__}: {redact_uri(str(exc))[:300]}"
            if attempt >= policy.attempts:
                raise DatabaseError(
                    f"{what}: gave up after {policy.attempts} attempt(s) over {time.monotonic() - start:.1f} s; "
                    f"last error {error}. Run the job again when the database is back "
                    f"(more patience: {ENV_ATTEMPTS}, {ENV_DELAY})"
                ) from None
            wait = policy.delay(attempt)
            logger.warning(f"{what}: attempt {attempt} of {policy.attempts} failed ({error}); retrying in {wait:g} s")
            sleep(wait)
            attempt += 1
