"""A tiny job for the soak test (worker processes import it from ``tests.db.soak_jobs``)."""

from __future__ import annotations

import time

from jobflow import job


@job
def nap(i: int, seconds: float) -> int:
    """Sleep a moment (so that kills land mid-job), then return ``i`` squared."""
    time.sleep(seconds)
    return i * i
