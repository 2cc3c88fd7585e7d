"""Keep a batch queue (SLURM, PBS) fed with a campaign's jobs: ``li-campaign launch``.

This is FireWorks' ``qlaunch -r rapidfire`` + ``lpad recover_offline`` as one loop that
takes the campaign's lock around every LaunchPad access, so the embedded (mongomock
file) LaunchPad stays consistent and a user never edits FireWorks internals. Each tick:

1. read the queue (which of our batch jobs still exist),
2. recover every finished offline launch of this worker (``recover_offline``), which
   also applies jobflow's dynamic additions and replacements,
3. submit reserved fireworks of this worker's category with FireWorks'
   ``launch_rocket_to_queue`` until ``max_queued`` of our jobs are queued or running.

Every batch job runs one firework *offline* (:mod:`li_campaign.launch.worker`): the compute
node only reads ``FW.json`` and writes ``FW_offline.json`` in its launch folder, so it
never needs to reach the LaunchPad. The JobStore must be reachable from the compute
nodes (the embedded database on a shared file system, or MongoDB), unless the worker file
asks for *staged* jobs (``env: {staged: true}``, :mod:`li_campaign.launch.staging`): then each
job's inputs are resolved and written into its launch folder when it is reserved, the batch
job opens no database, and the loop inserts its outputs into the JobStore when it reads the
launch back.

With ``per_node`` (``li-campaign launch --per-node``, :func:`launch_nodes_to_queue`) a batch
job is a whole node instead: it runs ``li-campaign run --gpus auto`` (:func:`node_command`),
which pulls jobs of its category under the lock with one worker pinned to each GPU of the
allocation until none is left. The launcher only keeps enough node jobs queued; it reserves
nothing (FireWorks' ``launch_rocket_to_queue(..., reserve=False)``).

A batch job that disappears from the queue without a result (``scancel``, walltime,
node failure) is *lost*: :func:`find_lost_launches` reports it (``li-campaign status``)
and :func:`recover_lost_launches` fizzles its launch and puts the firework back to
READY (``li-campaign recover``). Nothing stored is lost or stored twice: jobflow writes a
job's output once at its end, keyed by (uuid, index), so a rerun replaces it.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from li_campaign.core.errors import DatabaseError, InputError
from li_campaign.db.launchpad import open_launchpad
from li_campaign.launch.runner import LOCAL_WORKER

if TYPE_CHECKING:
    from fireworks import Firework, FWorker, LaunchPad
    from fireworks.queue.queue_adapter import QueueAdapterBase

    from li_campaign.db.config import Campaign
    from li_campaign.launch.staging import StagedOutputs

ACTIVE_STATES = ("RESERVED", "RUNNING")
QUEUED = {"state_history.reservation_id": {"$exists": True}}  # launches submitted to a batch queue
SUBMITTED_ON = "li_campaign_submitted_on"  # set on a launch once its batch job is in the queue
NODE_JOBS = "li_campaign_node_jobs"  # LaunchPad collection: node jobs of `launch --per-node`
_QUEUE_LIST_COMMANDS = {
    "SLURM": ["squeue", "-h", "-o", "%i"],
    "PBS": ["qstat"],
}


def load_fworker(path: str | os.PathLike) -> FWorker:
    """Read a FireWorks worker file (``launchers/*fworker*.yaml``), naming the file on error.

    ``env.staged`` (true or false, default false) chooses staged batch jobs (:mod:`li_campaign.launch.staging`).
    """
    # deferred: fireworks takes ~0.6 s to import; `li-campaign status` imports this module (via db.recover)
    from fireworks import FWorker

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: worker file not found (copy one from launchers/)")
    try:
        fworker = FWorker.from_file(str(path))
    except Exception as exc:
        raise InputError(f"{path}: not a FireWorks worker file ({type(exc).__name__}: {exc})") from None
    from li_campaign.launch.staging import STAGED_WORKER_KEY  # deferred: heavy (jobflow, maggma)

    staged = (fworker.env or {}).get(STAGED_WORKER_KEY, False)
    if not isinstance(staged, bool):
        raise InputError(f"{path}: env.{STAGED_WORKER_KEY} must be true or false, not {staged!r}")
    return fworker


def load_qadapter(path: str | os.PathLike) -> QueueAdapterBase:
    """Read a FireWorks queue-adapter file (``launchers/*qadapter*.yaml``), naming the file on error."""
    # deferred: fireworks takes ~0.6 s to import; `li-campaign status` imports this module (via db.recover)
    from fireworks.utilities.fw_serializers import load_object_from_file

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: queue adapter file not found (copy one from launchers/)")
    try:
        qadapter = load_object_from_file(str(path))
    except Exception as exc:
        raise InputError(f"{path}: not a FireWorks queue adapter ({type(exc).__name__}: {exc})") from None
    q_type = getattr(qadapter, "q_type", None)
    if q_type not in _QUEUE_LIST_COMMANDS:
        raise InputError(f"{path}: _fw_q_type {q_type!r} is not supported; use one of {sorted(_QUEUE_LIST_COMMANDS)}")
    return qadapter


def rocket_command(campaign: Campaign, staged: bool = False) -> str:
    """The command a batch job runs in its launch folder: one offline (or ``staged``) firework of ``campaign``."""
    return (
        f"{shlex.quote(sys.executable)} -m li_campaign.launch.worker singleshot --offline "
        f"{'--staged ' if staged else ''}--campaign-dir {shlex.quote(str(campaign.root))}"
    )


def node_command(campaign: Campaign, category: str | None) -> str:
    """The command a node job runs: ``li-campaign run`` with one worker per GPU of the allocation."""
    command = [str(Path(sys.executable).with_name("li-campaign")), "--campaign-dir", str(campaign.root),
               "run", "--gpus", "auto", "--no-progress"]
    if category:
        command += ["--category", category]
    return shlex.join(command)


@dataclass(frozen=True)
class QueueSnapshot:
    """The batch jobs a queue knows (pending or running) at one moment."""

    job_ids: frozenset[str]
    taken_at: datetime

    @classmethod
    def take(cls, q_type: str) -> QueueSnapshot:
        """Ask the batch system (``squeue`` / ``qstat``).

        Raises
        ------
        DatabaseError
            If the queue cannot be read (then nothing may be declared lost).
        """
        taken_at = datetime.now(timezone.utc)
        cmd = _QUEUE_LIST_COMMANDS[q_type]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DatabaseError(f"cannot read the {q_type} queue with `{' '.join(cmd)}`: {exc}") from None
        if proc.returncode != 0:
            raise DatabaseError(f"cannot read the {q_type} queue: `{' '.join(cmd)}` said {proc.stderr.strip()!r}")
        ids = set()
        for line in proc.stdout.splitlines():
            token = line.split()[0] if line.split() else ""
            if token and token[0].isdigit():
                ids.add(token.split(".")[0])
        return cls(frozenset(ids), taken_at)

    def lost(self, launch: dict) -> bool:
        """True if ``launch`` was submitted before the snapshot and its job is not in it."""
        submitted = _submitted_on(launch)
        return submitted is not None and submitted < self.taken_at and launch["reservation_id"].split(".")[0] not in self.job_ids


def _submitted_on(launch: dict) -> datetime | None:
    """When the batch job of a launch was submitted (our mark; else the reservation time)."""
    created = launch.get(SUBMITTED_ON)
    for entry in launch.get("state_history", []):
        if created is None and entry.get("reservation_id") is not None:
            created = entry["created_on"]
    if created is None:
        return None
    if isinstance(created, str):
        created = datetime.fromisoformat(created)
    return created if created.tzinfo else created.replace(tzinfo=timezone.utc)


def _pending_queue_launches(lp: LaunchPad, fworker_name: str | None = None) -> list[dict]:
    """Active offline launches submitted to a queue (they carry a reservation id)."""
    query = {"state": {"$in": list(ACTIVE_STATES)}, **QUEUED}
    if fworker_name is not None:
        query["fworker.name"] = fworker_name
    fields = {"launch_id": 1, "fw_id": 1, "state_history": 1, "launch_dir": 1, "fworker.name": 1, SUBMITTED_ON: 1}
    launches = list(lp.launches.find(query, fields))
    for launch in launches:
        launch["reservation_id"] = reservation_id(launch)
    return launches


def reservation_id(launch: dict) -> str | None:
    """The batch job id FireWorks recorded for a launch (in its RESERVED state history entry)."""
    for entry in launch.get("state_history", []):
        if entry.get("reservation_id") is not None:
            return str(entry["reservation_id"])
    return None


def recover_finished(lp: LaunchPad, outputs: StagedOutputs, fworker_name: str | None = None) -> int:
    """Read back every offline queue launch (of one worker) through ``outputs``; return how many completed."""
    completed = 0
    for launch in _pending_queue_launches(lp, fworker_name):
        run = lp.offline_runs.find_one({"launch_id": launch["launch_id"]}, {"completed": 1, "deprecated": 1})
        if not run or run.get("completed") or run.get("deprecated"):
            continue
        outputs.recover(lp, launch["launch_id"])
        if lp.offline_runs.find_one({"launch_id": launch["launch_id"]}, {"completed": 1}).get("completed"):
            completed += 1
    return completed


def launch_has_result(launch_dir: str) -> bool:
    """True if the offline rocket in ``launch_dir`` finished (its result awaits recovery)."""
    try:
        return "fwaction" in json.loads((Path(launch_dir) / "FW_offline.json").read_text())
    except (OSError, ValueError):
        return False


def find_lost_launches(lp: LaunchPad, queue: QueueSnapshot) -> list[dict]:
    """Queue launches that are still active here but whose batch job is gone.

    Take the ``queue`` snapshot *before* reading the launches: a job that ends after the
    snapshot has already written its result, which is seen here, and a job submitted after
    it (by another ``launch``) is not judged. Read-only.

    Returns
    -------
    list[dict]
        ``launch_id``, ``fw_id``, ``name``, ``reservation_id``, ``launch_dir`` and ``reason``.
    """
    return [
        lost_record(
            lp,
            launch,
            f"batch job {launch['reservation_id']} ended without a result "
            "(killed, walltime or node failure); see its .out/.error files in the launch folder",
        )
        for launch in _pending_queue_launches(lp)
        if queue.lost(launch) and not launch_has_result(launch["launch_dir"])
    ]


def lost_record(lp: LaunchPad, launch: dict, reason: str) -> dict:
    """What ``status`` and ``recover`` report about a lost launch."""
    fw = lp.fireworks.find_one({"fw_id": launch["fw_id"]}, {"name": 1})
    return {
        "launch_id": launch["launch_id"],
        "fw_id": launch["fw_id"],
        "name": fw["name"] if fw else "?",
        "reservation_id": launch.get("reservation_id"),
        "launch_dir": launch["launch_dir"],
        "reason": reason,
    }


def recover_lost_launches(lp: LaunchPad, lost: list[dict]) -> list[int]:
    """Fizzle each lost launch with its reason and put its firework back to READY.

    The offline run is marked deprecated, so a result file that appears later is ignored.

    Returns
    -------
    list[int]
        The fw_ids set to rerun.
    """
    # deferred: fireworks takes ~0.6 s to import; `li-campaign status` imports this module (via db.recover)
    from fireworks import FWAction

    rerun = []
    for item in lost:
        action = FWAction(stored_data={"_message": item["reason"], "_exception": {"_stacktrace": item["reason"]}})
        lp.complete_launch(item["launch_id"], action, state="FIZZLED")
        lp.offline_runs.update_one({"launch_id": item["launch_id"]}, {"$set": {"completed": True, "deprecated": True}})
        lp.rerun_fw(item["fw_id"])
        rerun.append(item["fw_id"])
    return rerun


def _work_may_come(lp: LaunchPad, fworker: FWorker) -> bool:
    """True if this worker has fireworks left that some running or ready firework may unblock.

    Unlike FireWorks' ``future_run_exists`` this also sees fireworks of this worker's
    category that wait on parents of *another* category (another worker's queue).
    """
    mine = lp.fireworks.count_documents({**fworker.query, "state": {"$in": ["READY", "WAITING"]}})
    alive = lp.fireworks.count_documents({"state": {"$in": ["READY", "RESERVED", "RUNNING"]}})
    return mine > 0 and alive > 0


@dataclass
class LaunchSummary:
    """What :func:`launch_to_queue` did."""

    submitted: int = 0
    completed: int = 0
    ticks: int = 0
    lost: list[dict] = field(default_factory=list)
    reason_stopped: str = ""
    not_staged: list[str] = field(default_factory=list)  # staged worker: jobs failed because their inputs could not be staged


class StagingLaunchPad:
    """The LaunchPad as FireWorks' queue launcher sees it for a staged worker.

    ``launch_rocket_to_queue`` reserves a firework, names its launch folder and writes
    ``FW.json`` from the reserved firework. Here the reservation also stages the job
    (:func:`li_campaign.launch.staging.stage_firework`: its references are resolved in the
    firework that FireWorks then writes), and naming the launch folder writes the staged
    inputs into it. A firework whose inputs cannot be staged is fizzled with the reason
    (listed in :attr:`failed`) and the next ready one is reserved. Everything else is the
    wrapped LaunchPad's.

    Parameters
    ----------
    lp
        The campaign's LaunchPad (the caller holds the campaign's lock).
    outputs
        Gives the campaign's JobStore.
    """

    def __init__(self, lp: LaunchPad, outputs: StagedOutputs):
        self._lp = lp
        self._outputs = outputs
        self._staged: dict[int, tuple[Firework, list[dict]]] = {}
        self.failed: list[str] = []

    def __getattr__(self, name: str):
        return getattr(self._lp, name)

    def reserve_fw(self, fworker: FWorker, launch_dir: str, **kwargs) -> tuple[Firework | None, int | None]:
        """Reserve a ready firework (as ``LaunchPad.reserve_fw``) and stage its job."""
        # deferred: db.staging imports jobflow and maggma (via db.stores, ~0.6 s); `li-campaign status` imports this module
        from li_campaign.launch.staging import StagingError, fail_launch, stage_firework

        while True:
            fw, launch_id = self._lp.reserve_fw(fworker, launch_dir, **kwargs)
            if fw is None:
                return fw, launch_id
            try:
                self._staged[launch_id] = (fw, stage_firework(self._lp, self._outputs.store(), fw, launch_id))
                return fw, launch_id
            except StagingError as exc:
                fail_launch(self._lp, launch_id, str(exc))
                self.failed.append(str(exc))
                if kwargs.get("fw_id") is not None:
                    return None, None

    def change_launch_dir(self, launch_id: int, launch_dir: str) -> None:
        """Set the launch folder (as ``LaunchPad.change_launch_dir``) and write the staged inputs into it."""
        from li_campaign.launch.staging import write_staged_inputs  # deferred: as in reserve_fw

        self._lp.change_launch_dir(launch_id, launch_dir)
        fw, documents = self._staged.pop(launch_id)
        write_staged_inputs(Path(launch_dir), fw, documents)


def _submit(lp: LaunchPad | StagingLaunchPad, fworker: FWorker, qadapter, launches_dir: Path) -> bool:
    """Reserve one ready firework and submit its batch job; False when none is ready."""
    # deferred: fireworks takes ~0.6 s to import; `li-campaign status` imports this module (via db.recover)
    from fireworks.queue.queue_launcher import launch_rocket_to_queue

    result = launch_rocket_to_queue(
        lp, fworker, qadapter, str(launches_dir), reserve=True, strm_lvl="ERROR", create_launcher_dir=True
    )
    if result is None:  # FireWorks' soft "nothing ready for this worker"
        return False
    if result:
        lp.launches.update_one(
            {"state_history.reservation_id": result, "state": {"$in": list(ACTIVE_STATES)}},
            {"$set": {SUBMITTED_ON: datetime.now(timezone.utc)}},
        )
        return True
    raise DatabaseError(
        f"submitting a batch job with `{qadapter.q_commands[qadapter.q_type]['submit_cmd']}` failed "
        f"(the error is printed above); the firework was put back to READY. Check the queue adapter "
        f"(partition, account, walltime) and {launches_dir}"
    )


def launch_to_queue(
    campaign: Campaign,
    fworker: FWorker,
    qadapter,
    max_queued: int = 20,
    sleep_s: float = 30.0,
    once: bool = False,
    timeout_s: float | None = None,
    log: Callable[[str], None] = print,
) -> LaunchSummary:
    """Feed the batch queue with this worker's fireworks until none is left to run.

    Parameters
    ----------
    campaign
        The campaign (embedded or MongoDB).
    fworker
        The FireWorks worker: its ``category`` selects which jobs (``cpu``: DFT; ``gpu``:
        MLIP training and fan-out; empty: all) go to this queue.
    qadapter
        The FireWorks queue adapter (``CommonAdapter``, SLURM or PBS). Its ``rocket_launch``
        is set here to :func:`rocket_command` (staged when the worker file says ``env: {staged: true}``:
        :mod:`li_campaign.launch.staging`; the batch jobs then open no database).
    max_queued
        At most this many of this worker's batch jobs queued or running at once.
    sleep_s
        Seconds between ticks.
    once
        One tick only (for a cron job or a loop of your own).
    timeout_s
        Stop after this many seconds even if work is left.
    log
        Where progress lines go.

    Returns
    -------
    LaunchSummary
        Counts; ``lost`` lists batch jobs that ended without a result (``li-campaign recover``).
    """

    from li_campaign.launch.staging import StagedOutputs, is_staged_worker  # deferred: heavy (jobflow, maggma)

    if max_queued < 1:
        raise InputError("max_queued must be >= 1")
    staged = is_staged_worker(fworker)
    qadapter["rocket_launch"] = rocket_command(campaign, staged=staged)
    campaign.launches_dir.mkdir(parents=True, exist_ok=True)
    summary = LaunchSummary()
    start = time.monotonic()
    while True:
        summary.ticks += 1
        with open_launchpad(campaign) as lp, StagedOutputs(campaign) as outputs:
            queue = QueueSnapshot.take(qadapter.q_type)  # under the lock: no submission can race it
            summary.completed += recover_finished(lp, outputs, fworker.name)
            summary.lost = find_lost_launches(lp, queue)
            lost_ids = {item["launch_id"] for item in summary.lost}
            mine = [lnch for lnch in _pending_queue_launches(lp, fworker.name) if lnch["launch_id"] not in lost_ids]
            submitter = StagingLaunchPad(lp, outputs) if staged else lp
            submitted = 0
            while len(mine) + submitted < max_queued and _submit(submitter, fworker, qadapter, campaign.launches_dir):
                submitted += 1
            summary.submitted += submitted
            not_staged = submitter.failed if staged else []
            summary.not_staged += not_staged
            work_left = len(mine) + submitted > 0 or _work_may_come(lp, fworker)
        log(
            f"tick {summary.ticks}: {summary.completed} completed, {len(mine) + submitted} in the queue "
            f"({submitted} new), {len(summary.lost)} lost"
        )
        for reason in not_staged:
            log(f"  failed, inputs not staged: {reason}")
        if not work_left:
            summary.reason_stopped = "no job left for this worker"
            break
        if once:
            summary.reason_stopped = "--once"
            break
        if not mine and not submitted and summary.lost:
            summary.reason_stopped = "only lost batch jobs are left: run `li-campaign recover`"
            break
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            summary.reason_stopped = f"timeout after {timeout_s:.0f} s"
            break
        time.sleep(sleep_s)
    return summary


def _submit_node(lp: LaunchPad, fworker: FWorker, qadapter, launches_dir: Path) -> str | None:
    """Submit one node job (nothing reserved); its batch job id, or None when nothing is ready."""
    # deferred: fireworks takes ~0.6 s to import; `li-campaign status` imports this module (via db.recover)
    from fireworks.queue.queue_launcher import launch_rocket_to_queue

    result = launch_rocket_to_queue(
        lp, fworker, qadapter, str(launches_dir), reserve=False, strm_lvl="ERROR", create_launcher_dir=True
    )
    if result is None:
        return None
    if result:
        lp.db[NODE_JOBS].insert_one(
            {"job_id": str(result).split(".")[0], "category": fworker.category, "ended": False,
             "submitted_on": datetime.now(timezone.utc)}
        )
        return str(result)
    raise DatabaseError(
        f"submitting a node job with `{qadapter.q_commands[qadapter.q_type]['submit_cmd']}` failed "
        f"(the error is printed above). Check the queue adapter (partition, account, gres) and {launches_dir}"
    )


def _live_node_jobs(lp: LaunchPad, category: str, queue: QueueSnapshot) -> int:
    """Node jobs of ``category`` still in the queue; the others are marked ended."""
    live = 0
    for node_job in lp.db[NODE_JOBS].find({"category": category, "ended": False}, {"job_id": 1}):
        if node_job["job_id"] in queue.job_ids:
            live += 1
        else:
            lp.db[NODE_JOBS].update_one({"_id": node_job["_id"]}, {"$set": {"ended": True}})
    return live


def _recover_orphans(lp: LaunchPad, outputs: StagedOutputs, queue: QueueSnapshot) -> int:
    """Read back finished launches whose node runner is gone (killed between the result and its read-back)."""
    recovered = 0
    for launch in _pending_queue_launches(lp):
        if launch["fworker"]["name"].startswith(LOCAL_WORKER) and queue.lost(launch) and launch_has_result(launch["launch_dir"]):
            outputs.recover(lp, launch["launch_id"])
            recovered += 1
    return recovered


def launch_nodes_to_queue(
    campaign: Campaign,
    fworker: FWorker,
    qadapter,
    max_queued: int = 4,
    sleep_s: float = 30.0,
    once: bool = False,
    timeout_s: float | None = None,
    log: Callable[[str], None] = print,
) -> LaunchSummary:
    """Keep node jobs queued that each run this worker's category with one worker per GPU.

    Each tick: read the queue, read back results of node runners that are gone, report
    lost launches, and submit node jobs while fewer than ``max_queued`` are queued or
    running and fewer than there are ready fireworks. It stops when no work can come.

    Parameters
    ----------
    campaign
        The campaign (embedded on a shared file system, or MongoDB).
    fworker
        Its ``category`` is the category the node runners pull (``--category``).
    qadapter
        The node job's queue adapter (``launchers/qadapter_slurm_gpu_node.yaml``): a whole
        node's GPUs. Its ``rocket_launch`` is set here to :func:`node_command`.
    max_queued, sleep_s, once, timeout_s, log
        As in :func:`launch_to_queue`; ``max_queued`` counts node jobs.
    """

    from li_campaign.launch.staging import StagedOutputs, is_staged_worker  # deferred: heavy (jobflow, maggma)

    if max_queued < 1:
        raise InputError("max_queued must be >= 1")
    if is_staged_worker(fworker):
        raise InputError(
            "--per-node: a node job runs `li-campaign run`, which reserves jobs and so opens the database on "
            "the node; a staged worker (env: {staged: true}) submits one batch job per job instead (no --per-node)"
        )
    qadapter["rocket_launch"] = node_command(campaign, fworker.category)
    campaign.launches_dir.mkdir(parents=True, exist_ok=True)
    summary = LaunchSummary()
    start = time.monotonic()
    while True:
        summary.ticks += 1
        with open_launchpad(campaign) as lp, StagedOutputs(campaign) as outputs:
            queue = QueueSnapshot.take(qadapter.q_type)
            summary.completed += _recover_orphans(lp, outputs, queue)
            summary.lost = find_lost_launches(lp, queue)
            live = _live_node_jobs(lp, fworker.category, queue)
            ready = lp.fireworks.count_documents({**fworker.query, "state": "READY"})
            submitted = 0
            while live + submitted < min(max_queued, ready) and _submit_node(lp, fworker, qadapter, campaign.launches_dir):
                submitted += 1
            summary.submitted += submitted
            work_left = live + submitted > 0 or _work_may_come(lp, fworker)
        log(f"tick {summary.ticks}: {live + submitted} node jobs in the queue ({submitted} new), "
            f"{ready} jobs ready, {len(summary.lost)} lost")
        if not work_left:
            summary.reason_stopped = "no job left for this worker"
            break
        if once:
            summary.reason_stopped = "--once"
            break
        if not live and not submitted and summary.lost and not ready:
            summary.reason_stopped = "only lost batch jobs are left: run `li-campaign recover`"
            break
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            summary.reason_stopped = f"timeout after {timeout_s:.0f} s"
            break
        time.sleep(sleep_s)
    return summary
