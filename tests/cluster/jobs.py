"""Jobs for the worker-kill test (worker processes import them from ``tests.cluster.jobs``)."""

from __future__ import annotations

import time
from pathlib import Path

from jobflow import job


@job
def slow_first_time(marker: str) -> str:
    """Hang on the first run (the test kills it there); return at once when run again."""
    path = Path(marker)
    if not path.exists():
        path.write_text("started")
        time.sleep(600)
    return "second run"


@job
def child(text: str) -> str:
    """Depend on the killed job's output."""
    return f"{text}, then the child"
