"""Find and rerun jobs whose worker died: ``li-campaign status`` / ``li-campaign recover``.

A worker can die mid-job in two places:

* a batch job of ``li-campaign launch`` (``scancel``, walltime, node failure): its
  launch stays RESERVED/RUNNING while the queue no longer knows the job;
* a local worker of ``li-campaign run`` whose runner was killed: its launch stays
  active while no runner holds the campaign's run lock of that host. Only this host's
  runner can be asked, so only this host's launches are judged here; a runner inside a
  batch job (``launch --per-node``) gives its launches the job's id, so they are judged
  by the queue like the launches of single batch jobs.

Finished launches are read back first; a staged launch's outputs go into the JobStore then
(:mod:`li_campaign.launch.staging`). A lost launch has no result file. Recovery fizzles the launch with the reason
(kept in the firework's launch history) and puts the firework back to READY. FireWorks'
``detect_lostruns`` cannot see these launches in time: offline rockets ping only once an
hour (``PING_TIME_SECS``), so the queue and the run lock are asked instead.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from li_campaign.core.errors import DatabaseError
from li_campaign.db.launchpad import open_launchpad
from li_campaign.launch.queue import (
    ACTIVE_STATES,
    QUEUED,
    QueueSnapshot,
    find_lost_launches,
    launch_has_result,
    lost_record,
    recover_finished,
    recover_lost_launches,
)
from li_campaign.launch.runner import STALE_REASON, RunnerLock, local_launch_query, recover_stale_launches

if TYPE_CHECKING:
    from fireworks import LaunchPad

    from li_campaign.db.config import Campaign

QUEUE_TYPES = {"slurm": ("SLURM", "squeue"), "pbs": ("PBS", "qstat")}


def detect_queue(lp: LaunchPad, queue: str | None = None) -> str | None:
    """The FireWorks queue type to ask about batch jobs (``None``: no batch job is active).

    Parameters
    ----------
    queue
        ``"slurm"`` or ``"pbs"``; default: whichever of ``squeue`` / ``qstat`` is on PATH.
    """
    if not lp.launches.count_documents({"state": {"$in": list(ACTIVE_STATES)}, **QUEUED}):
        return None
    if queue is not None:
        return QUEUE_TYPES[queue][0]
    for q_type, command in QUEUE_TYPES.values():
        if shutil.which(command):
            return q_type
    raise DatabaseError(
        "batch jobs of `li-campaign launch` are active but neither squeue nor qstat is on PATH: "
        "run this on the cluster's login node, or pass --queue"
    )


def _runner_alive(campaign: Campaign) -> bool:
    return RunnerLock(campaign).held()


def _stale_local_launches(lp: LaunchPad) -> list[dict]:
    query = {"state": {"$in": list(ACTIVE_STATES)}, **local_launch_query()}
    launches = lp.launches.find(query, {"launch_id": 1, "fw_id": 1, "launch_dir": 1})
    return [lost_record(lp, launch, STALE_REASON) for launch in launches if not launch_has_result(launch["launch_dir"])]


def lost_launches(campaign: Campaign, lp: LaunchPad, queue: str | None = None) -> list[dict]:
    """Every launch whose worker is gone without a result (read-only)."""
    q_type = detect_queue(lp, queue)
    lost = find_lost_launches(lp, QueueSnapshot.take(q_type)) if q_type else []
    if not _runner_alive(campaign):
        lost += _stale_local_launches(lp)
    return lost


@dataclass
class RecoverySummary:
    """What :func:`recover_campaign` did."""

    completed: int = 0
    rerun: list[dict] = field(default_factory=list)


def recover_campaign(campaign: Campaign, queue: str | None = None) -> RecoverySummary:
    """Read back finished launches, then fizzle and rerun every lost one.

    Parameters
    ----------
    campaign
        The campaign.
    queue
        ``"slurm"`` or ``"pbs"`` (default: detected).
    """

    from li_campaign.launch.staging import StagedOutputs  # deferred: heavy (jobflow, maggma)

    summary = RecoverySummary()
    with open_launchpad(campaign) as lp, StagedOutputs(campaign) as outputs:
        q_type = detect_queue(lp, queue)
        snapshot = QueueSnapshot.take(q_type) if q_type else None  # before reading any result
        summary.completed += recover_finished(lp, outputs)
        lost = find_lost_launches(lp, snapshot) if snapshot else []
        recover_lost_launches(lp, lost)
        summary.rerun += lost
    if not _runner_alive(campaign):
        with RunnerLock(campaign), open_launchpad(campaign) as lp, StagedOutputs(campaign) as outputs:
            stale = _stale_local_launches(lp)
            rerun = set(recover_stale_launches(lp, outputs))
        summary.rerun += [item for item in stale if item["fw_id"] in rerun]
    return summary
