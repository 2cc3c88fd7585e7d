"""Job packing: many small calculations run in one jobflow job, i.e. one FireWorks launch.

A fan-out of sub-second calculations costs far more in launches (a worker process, a
LaunchPad round trip, a JobStore write each) than in computing. :func:`pack_jobs` turns
ordinary jobs made by Makers into a few *pack* jobs; each runs its members in turn with
:func:`run_pack` and writes one :class:`~li_campaign.schemas.packing.PackDoc` holding every
member's document, stored as the member job would have stored it. Downstream jobs use
``pack.output.results[i]`` (returned by :func:`pack_jobs`) where they would have used the
member's ``job.output``; builders expand packs into one derived document per calculation.

Examples
--------
>>> from jobflow import job
>>> @job
... def square(x):
...     return x * x
>>> packs, refs = pack_jobs([square(i) for i in range(6)], size=4, name="squares")
>>> [pack.name for pack in packs]
['squares 1/2 (3 calculations)', 'squares 2/2 (3 calculations)']
>>> refs[4].uuid == packs[1].uuid, refs[4].attributes
(True, (('a', 'results'), ('i', 1)))
"""

from __future__ import annotations

import logging
import math
import types
from copy import deepcopy
from functools import partial
from time import perf_counter
from typing import TYPE_CHECKING, Any, TypedDict

from jobflow import Job, JobConfig, Response

from li_campaign.execution.reuse import calculation
from li_campaign.schemas.packing import MemberFailure, PackDoc, result_doc_type, serialize_result

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from jobflow import OutputReference

    from li_campaign.batched.dispatch import BatchDispatcher

logger = logging.getLogger(__name__)


class PackMember(TypedDict):
    """What a pack keeps of one member job (all of it serializes with monty)."""

    name: str
    uuid: str
    function: Callable[..., Any]
    args: Sequence[Any]
    kwargs: dict[str, Any]


def pack_jobs(
    jobs: Sequence[Job], size: int, name: str, batched: bool = False
) -> tuple[list[Job], list[OutputReference]]:
    """Group independent jobs into pack jobs of at most ``size`` members.

    Parameters
    ----------
    jobs
        Jobs made by Makers or ``@job`` functions; none may use another's output. Their
        inputs may reference any other job, which then becomes a parent of the pack.
    size
        Most members per pack; the packs are as even as possible. With ``size <= 1``
        nothing is packed.
    name
        Name of the packs: ``"<name> k/n (m calculations)"``; members keep their own names.
    batched
        Batch the members' model calls on GPU workers (:func:`run_pack`); for calculations
        with a deployed model that load it with ``load_model``.

    Returns
    -------
    packs
        The jobs to put in the flow (``jobs`` themselves when nothing is packed).
    outputs
        For each input job, in order, the reference to use in place of ``job.output``.

    Raises
    ------
    ValueError
        If members use each other's outputs, have different FireWorks settings
        (``config.manager_config``), or store their whole output in an additional store.
    """
    jobs = list(jobs)
    if size <= 1 or not jobs:
        return jobs, [job.output for job in jobs]
    _check_independent(jobs)
    groups = _split(jobs, size)
    packs = [
        _pack(group, f"{name} {k}/{len(groups)} ({_calculations(len(group))})", batched) for k, group in enumerate(groups, 1)
    ]
    outputs = [pack.output.results[i] for pack, group in zip(packs, groups) for i in range(len(group))]
    return packs, outputs


def run_pack(members: Sequence[PackMember], batched: bool = False) -> PackDoc:
    """Run each member; a member that raises is recorded and the rest still run.

    Parameters
    ----------
    members
        The members, their references already resolved by jobflow.
    batched
        On a worker where :func:`~li_campaign.batched.executor.use_batched` holds (a GPU, or
        ``LI_CAMPAIGN_EXECUTOR=batched``), run the members together through a
        :class:`~li_campaign.batched.dispatch.BatchDispatcher`: their model calls are
        evaluated in batches. Otherwise (CPU workers, ``LI_CAMPAIGN_EXECUTOR=one-by-one``)
        one after another through ASE. ``execution`` in the result records which.

    Returns
    -------
    PackDoc
        One result per member (None where it failed), failures, wall times.

    Raises
    ------
    RuntimeError
        If every member failed (the pack job fails, and its reason lists the members).
    """
    start = perf_counter()
    results, walls, failures = [], [], []
    dispatcher = _dispatcher() if batched and members else None
    if dispatcher is None:
        outcomes = [_run_member(member) for member in members]
    else:
        outcomes = []
        for outcome in dispatcher.run([partial(_run_member, member) for member in members]):
            if outcome.error is not None:  # not an Exception (those _run_member records): e.g. SystemExit
                raise outcome.error
            outcomes.append(outcome.result)
    for result, wall, failure in outcomes:
        results.append(serialize_result(result))
        walls.append(wall)
        if failure is not None:
            failures.append(failure)
    if members and len(failures) == len(members):
        reasons = "; ".join(f"{f.name} ({f.uuid}): {f.error_type}: {f.message}" for f in failures[:5])
        raise RuntimeError(f"all {len(members)} members of the pack failed: {reasons}")
    return PackDoc(
        member_names=[member["name"] for member in members],
        member_uuids=[member["uuid"] for member in members],
        results=results,
        result_doc_types=[result_doc_type(result) for result in results],
        failures=failures,
        member_wall_s=walls,
        wall_s=perf_counter() - start,
        execution=dispatcher.record() if dispatcher is not None else {"executor": "one-by-one"},
    )


def _dispatcher() -> BatchDispatcher | None:
    """A dispatcher on this worker's device if the fan-out runs batched here (torch imported only then)."""
    # deferred: heavy (torch)
    from li_campaign.batched.dispatch import BatchDispatcher
    from li_campaign.batched.executor import use_batched, worker_device

    return BatchDispatcher(worker_device()) if use_batched() else None


def _run_member(member: PackMember) -> tuple[Any, float, MemberFailure | None]:
    """Return a member's result, its wall time and its failure (None if it succeeded)."""
    start = perf_counter()
    try:
        with calculation(member["uuid"]):  # a rerun pack finds its members' own results (execution.reuse)
            result = _unwrapped(member["function"])(*member["args"], **member["kwargs"])
        if isinstance(result, Response):
            raise TypeError("a packed job must return its document, not a jobflow Response")
    except Exception as exc:  # noqa: BLE001 - one failed calculation must not stop the pack
        logger.warning("pack member %s (%s) failed: %s", member["name"], member["uuid"], exc)
        failure = MemberFailure(name=member["name"], uuid=member["uuid"], error_type=type(exc).__name__, message=str(exc))
        return None, perf_counter() - start, failure
    return result, perf_counter() - start, None


def _unwrapped(function: Callable[..., Any]) -> Callable[..., Any]:
    """Return the undecorated function of a ``@job``, bound to its Maker (as ``Job.run`` does)."""
    original = getattr(function, "original", function)
    bound = getattr(function, "__self__", None)
    if bound is not None and not isinstance(bound, types.ModuleType):
        return types.MethodType(original, bound)
    return original


def _split(jobs: list[Job], size: int) -> list[list[Job]]:
    """Split ``jobs`` in order into the fewest groups of at most ``size``, sizes differing by at most one."""
    n_groups = math.ceil(len(jobs) / size)
    bounds = [k * len(jobs) // n_groups for k in range(n_groups + 1)]
    return [jobs[lo:hi] for lo, hi in zip(bounds, bounds[1:])]


def _calculations(n: int) -> str:
    """Return "1 calculation" or "n calculations"."""
    return f"{n} calculation" if n == 1 else f"{n} calculations"


def _check_independent(jobs: list[Job]) -> None:
    """Raise if a job uses the output of another job of the same list."""
    names = {job.uuid: job.name for job in jobs}
    for job in jobs:
        used = sorted(names[uuid] for uuid in set(job.input_uuids) & set(names))
        if used:
            raise ValueError(f"cannot pack job {job.name!r} with {used}: it uses their output")


def _pack(jobs: list[Job], name: str, batched: bool) -> Job:
    """Return one job that runs ``jobs`` with :func:`run_pack`."""
    members = [
        PackMember(name=job.name, uuid=job.uuid, function=job.function, args=job.function_args, kwargs=job.function_kwargs)
        for job in jobs
    ]
    config = JobConfig(manager_config=deepcopy(_manager_config(jobs)), expose_store=True)  # members may reuse results
    kwargs = {"batched": True} if batched else {}
    return Job(function=run_pack, function_args=(members,), function_kwargs=kwargs, name=name, config=config, **_store_kwargs(jobs))


def _manager_config(jobs: list[Job]) -> dict:
    """Return the FireWorks settings that all ``jobs`` share, raising if they differ."""
    configs = {repr(job.config.manager_config): job.config.manager_config for job in jobs}
    if len(configs) > 1:
        raise ValueError(f"cannot pack jobs with different FireWorks settings (config.manager_config): {list(configs)}")
    return next(iter(configs.values()))


def _store_kwargs(jobs: list[Job]) -> dict[str, Any]:
    """Merge the members' additional-store routing (e.g. ``data="images"``) into the pack's."""
    merged: dict[str, list] = {}
    for job in jobs:
        for store, keys in job._kwargs.items():
            if keys is True:
                raise ValueError(f"cannot pack job {job.name!r}: it stores its whole output in store {store!r}")
            for key in keys if isinstance(keys, list) else [keys]:
                if key not in merged.setdefault(store, []):
                    merged[store].append(key)
    return {store: keys[0] if len(keys) == 1 else keys for store, keys in merged.items()}
