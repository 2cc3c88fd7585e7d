"""Jobs for the staged-worker tests (importable by worker processes)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from jobflow import CURRENT_JOB, Flow, JobConfig, Response, job

from tests.db.jobs_for_tests import add

#: Elements of :func:`oversized`'s list: over the JobStore's 8 MiB soft limit as one BSON document.
OVERSIZED_N = 700_000


@job
def oversized(n: int) -> dict:
    """An output whose list alone is over the 8 MiB limit: the JobStore moves it to the large-data store."""
    return {"values": [0.5 * i for i in range(n)], "n": n}


@job(data="trajectory")
def routed(n: int) -> dict:
    """An output whose ``trajectory`` jobflow routes to the large-data store (``@job(data=...)``)."""
    return {"trajectory": [[float(i), float(i + 1)] for i in range(n)], "n": n}


@job
def grow(n: int) -> Response:
    """Return ``n`` and add a job to the flow that adds 10 to it (jobflow's ``Response(addition=...)``)."""
    return Response(output=n, addition=Flow([add(n, 10)]))


@job(config=JobConfig(expose_store=True))
def peek(uuid: str, *after) -> int:
    """Read another job's output from the JobStore the job runs with (as reuse and the fit do)."""
    return len(CURRENT_JOB.store.get_output(uuid, load=True)["values"])


@job(config=JobConfig(expose_store=True))
def partial_then_die(marker: str) -> str:
    """First run: write a partial output document to the store, then die (SIGKILL); later runs: finish."""
    if not Path(marker).exists():
        Path(marker).write_text("started")
        current = CURRENT_JOB.job
        CURRENT_JOB.store.update({"uuid": current.uuid, "index": current.index, "output": "partial", "name": current.name})
        os.kill(os.getpid(), signal.SIGKILL)
    return "complete"
