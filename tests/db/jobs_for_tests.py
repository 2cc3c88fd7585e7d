"""Tiny jobflow jobs importable by worker processes (they must live in a module)."""

from __future__ import annotations

import os
import signal

from jobflow import Flow, Response, job


@job
def add(a: float, b: float) -> float:
    """Return a + b."""
    return a + b


@job
def total(values: list[float]) -> float:
    """Return the sum."""
    return sum(values)


@job
def fan(n: int) -> Response:
    """Replace itself by n add jobs and a total (a dynamic flow)."""
    jobs = [add(i, 1) for i in range(n)]
    summed = total([j.output for j in jobs])
    return Response(replace=Flow([*jobs, summed], output=summed.output))


@job
def threads(*after) -> str:
    """The OMP_NUM_THREADS its worker was started with (``after``: outputs to wait for)."""
    return os.environ.get("OMP_NUM_THREADS", "unset")


@job
def fail(message: str) -> None:
    """Raise, like a job whose calculation failed."""
    raise RuntimeError(message)


@job
def die() -> None:
    """Kill the worker process, like a node failure or walltime kill."""
    os.kill(os.getpid(), signal.SIGKILL)
