"""Local workers: run a campaign's fireworks on this machine until nothing is ready.

FireWorks has no pool that is safe on the embedded (mongomock file) LaunchPad:
``rlaunch multi`` loses all state there, and two online ``rlaunch`` processes run every
firework twice. This runner does what ``qlaunch -r`` + ``rlaunch --offline`` +
``lpad recover_offline`` do on a cluster, with local processes as the "queue": under the
lock it reserves fireworks and writes their launch folders; the workers
(:mod:`li_campaign.launch.worker`) run them in parallel without touching the LaunchPad; under
the lock again it recovers each finished launch, which also applies jobflow's dynamic
additions and detours.

On CPUs with several workers each worker runs single-threaded (``OMP_NUM_THREADS=1``), except a
launch that starts while no other launch runs and nothing else is ready: no other work can become
ready before it ends, so it gets every worker's core (:func:`lone_launch_threads`; the NequIP fit
between the labels and the fan-out is such a launch) and holds all the slots until it ends.

On a GPU node (``gpus=``, ``li-campaign run --gpus auto``) each worker is pinned to its own
GPU with ``CUDA_VISIBLE_DEVICES`` (:mod:`li_campaign.launch.gpus`); a firework that asks for
several GPUs (``spec._n_gpus``, :func:`li_campaign.execution.resources.use_gpus`) gets that many.
Every launch records its host, GPUs and batch job in ``launch.fworker.env``. Runners on
several nodes (one per node, ``li-campaign launch --per-node``) share a campaign: each is
named after its host, recovers only its own host's stale launches and holds a lock of its
own; the launches of a runner inside a batch job carry the job id as their reservation id,
so ``li-campaign status`` / ``recover`` find them lost through the queue when the job dies.

With ``staged=True`` (``li-campaign run --staged``) the workers open no database: each job's
inputs are resolved and written into its launch folder when it is reserved, and its outputs are
inserted into the JobStore when it is read back (:mod:`li_campaign.launch.staging`).
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from li_campaign.core.errors import DatabaseError
from li_campaign.launch.gpus import WORKER_DEVICE_ORDER, select_gpus, visible_gpus
from li_campaign.db.launchpad import open_launchpad
from li_campaign.execution.resources import N_GPUS_KEY

if TYPE_CHECKING:
    from fireworks import LaunchPad

    from li_campaign.db.config import Campaign
    from li_campaign.launch.staging import StagedOutputs

_ACTIVE = ("RESERVED", "RUNNING")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")  # BLAS, OpenMP and torch threads
LOCAL_WORKER = "li-campaign-local"  # the worker name of runners before it carried the host
STALE_REASON = "the `li-campaign run` that started this job is no longer running"


def this_host() -> str:
    """This machine's host name (what ``hostname`` prints)."""
    return platform.node() or "localhost"


def local_worker_name(host: str | None = None) -> str:
    """The FireWorks worker name of ``li-campaign run`` on ``host``: ``li-campaign-local@<host>``."""
    return f"{LOCAL_WORKER}@{host or this_host()}"


def batch_job_id() -> str | None:
    """The id of the SLURM / PBS job this process runs in (``None`` outside a batch job)."""
    return os.environ.get("SLURM_JOB_ID") or os.environ.get("PBS_JOBID") or None


def local_launch_query(host: str | None = None, batch_job: str | None = None) -> dict:
    """The launches that the runner of ``host`` (in ``batch_job``, or outside any) owns.

    Outside a batch job the legacy host-less name counts too. Launches of runners inside
    other batch jobs carry those jobs' ids as reservation ids and are the queue's business
    (:func:`li_campaign.launch.queue.find_lost_launches`).
    """
    if batch_job:
        return {"fworker.name": local_worker_name(host), "state_history.reservation_id": str(batch_job)}
    return {
        "fworker.name": {"$in": [local_worker_name(host), LOCAL_WORKER]},
        "state_history.reservation_id": {"$exists": False},
    }


@dataclass
class _Launch:
    launch_id: int
    fw_id: int
    name: str
    launch_dir: Path
    gpus: list[str] = field(default_factory=list)  # pinned GPUs (empty: not pinned)
    threads: int = 1  # worker slots (CPU cores) this launch holds
    process: subprocess.Popen | None = None  # set when the worker is started, outside the lock


@dataclass
class RunSummary:
    """What a call to :func:`run_workers` did."""

    launched: int = 0
    completed: int = 0
    fizzled: list[str] = field(default_factory=list)
    states: dict[str, int] = field(default_factory=dict)
    gpus: list[str] | None = None  # the GPUs the workers were pinned to (None: not pinned)
    not_run: list[str] = field(default_factory=list)  # ready fireworks needing more GPUs than this runner has


def _fw_states(lp: LaunchPad) -> dict[str, int]:
    return dict(Counter(doc["state"] for doc in lp.fireworks.find({}, {"state": 1})))


def _setup_offline_launch(lp: LaunchPad, fw, launch_id: int, launch_dir: Path) -> None:
    """Write FW.json / FW_offline.json as ``qlaunch -r`` does for an offline rocket."""
    fw.to_file(str(launch_dir / "FW.json"))
    (launch_dir / "FW_offline.json").write_text(json.dumps({"launch_id": launch_id}))
    lp.add_offline_run(launch_id, fw.fw_id, fw.name)


def _recover(lp: LaunchPad, launch: _Launch, outputs: StagedOutputs) -> str:
    """Read back a finished launch; a worker that died without a result fizzles the firework.

    A launch that ``li-campaign recover`` already read back is not read again: FireWorks'
    ``recover_offline`` would apply its result (and jobflow's additions) a second time.
    """
    from li_campaign.launch.staging import fail_launch  # deferred: heavy (jobflow, maggma)

    run = lp.offline_runs.find_one({"launch_id": launch.launch_id}, {"completed": 1})
    if not (run and run.get("completed")):
        outputs.recover(lp, launch.launch_id)
    state = lp.fireworks.find_one({"fw_id": launch.fw_id}, {"state": 1})["state"]
    if state in _ACTIVE:
        code = launch.process.returncode
        fail_launch(
            lp,
            launch.launch_id,
            f"worker for fw {launch.fw_id} ({launch.name}) exited with code {code} without a result; "
            f"see {launch.launch_dir / 'worker.log'}",
        )
        state = "FIZZLED"
    return state


def recover_stale_launches(lp: LaunchPad, outputs: StagedOutputs, batch_job: str | None = None) -> list[int]:
    """Recover local launches left reserved or running by a runner that was killed; rerun lost ones.

    Only this host's (and, inside a batch job, this job's) launches: the caller holds the
    matching :class:`RunnerLock`, so no runner that owns them is alive. Finished launches
    are read back through ``outputs`` (staged ones insert their outputs first).

    Returns
    -------
    list[int]
        fw_ids that were put back to READY.
    """
    from li_campaign.launch.staging import fail_launch  # deferred: heavy (jobflow, maggma)

    rerun = []
    for run in list(lp.offline_runs.find({"completed": False, "deprecated": {"$ne": True}})):
        launch_id, fw_id = run["launch_id"], run["fw_id"]
        if not lp.launches.find_one({"launch_id": launch_id, **local_launch_query(batch_job=batch_job)}, {"_id": 1}):
            continue  # a batch-queue launch or another host's: li_campaign.launch.queue / that host looks after it
        outputs.recover(lp, launch_id)
        fw = lp.fireworks.find_one({"fw_id": fw_id}, {"state": 1})
        if fw and fw["state"] in _ACTIVE:
            fail_launch(lp, launch_id, STALE_REASON)
            lp.offline_runs.update_one({"launch_id": launch_id}, {"$set": {"deprecated": True}})
            lp.rerun_fw(fw_id)
            rerun.append(fw_id)
    return rerun


def run_workers(
    campaign: Campaign,
    n_workers: int = 1,
    max_launches: int | None = None,
    poll_s: float = 0.2,
    progress: bool = True,
    gpus: str | None = None,
    category: str | None = None,
    staged: bool = False,
) -> RunSummary:
    """Run ready fireworks with ``n_workers`` local processes until none is ready or running.

    Parameters
    ----------
    campaign
        The campaign to run.
    n_workers
        Parallel worker processes, each single-threaded when more than one, except a launch
        that runs alone, which gets them all (:func:`lone_launch_threads`). Ignored when
        ``gpus`` selects GPUs: then there is one worker per GPU.
    max_launches
        Stop starting new launches after this many (``None``: no limit).
    poll_s
        Seconds between checks of the running workers.
    progress
        Show a progress bar (tqdm) of completed fireworks.
    gpus
        ``None``: no pinning. Else pin workers to GPUs (:func:`li_campaign.launch.gpus.select_gpus`):
        ``"auto"`` (every visible GPU), ``"N"`` or ``"0,2"``. When it selects none (a CPU-only
        machine, or ``"0"``) ``n_workers`` workers run with the GPUs hidden.
    category
        Only run fireworks of this FireWorks category (``"gpu"``, ``"cpu"``); ``None``: all.
    staged
        Run every job staged (:mod:`li_campaign.launch.staging`): its inputs are resolved and
        written into its launch folder under the lock, the worker opens no database (in
        mongodb mode the URI and key-password variables are not passed to it), and its outputs are inserted
        into the JobStore when it is read back. A job whose inputs cannot be staged fails
        with the reason.
    """
    from li_campaign.launch.staging import StagedOutputs  # deferred: heavy (jobflow, maggma)

    if n_workers < 1:
        raise ValueError("n_workers must be >= 1")
    pool = None if gpus is None else select_gpus(gpus, visible_gpus())
    n_slots = len(pool) if pool else n_workers
    identity = {"host": this_host(), "batch_job": batch_job_id()}
    env = dict(os.environ, LI_CAMPAIGN_DIR=str(campaign.root))
    if staged and campaign.mode == "mongodb":  # a staged worker has no business with the database's secrets
        for variable in (campaign.config.uri_env, campaign.config.tls_certificate_key_file_password_env):
            env.pop(variable or "", None)
    worker_args = ["--staged"] if staged else []
    threaded = not pool and n_workers > 1  # CPU workers share the cores one each
    if pool:
        threads = str(max(1, len(os.sched_getaffinity(0)) // n_slots))
        env.update({**WORKER_DEVICE_ORDER, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads})
    elif n_workers > 1:
        env.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    if pool == []:
        env["CUDA_VISIBLE_DEVICES"] = ""  # `--gpus 0`, or none visible: CPU workers
    free_gpus = list(pool or [])
    summary = RunSummary(gpus=pool)
    running: dict[int, _Launch] = {}
    bar = tqdm(total=0, unit="job", desc="campaign", disable=not progress, dynamic_ncols=True)
    run_lock = RunnerLock(campaign, batch_job=identity["batch_job"])
    _exit_on_sigterm()
    with run_lock:
        with open_launchpad(campaign) as lp, StagedOutputs(campaign) as outputs:
            recover_stale_launches(lp, outputs, identity["batch_job"])
        try:
            while True:
                finished = [launch for launch in running.values() if launch.process.poll() is not None]
                to_start: list[_Launch] = []
                nothing_ready = False
                with open_launchpad(campaign) as lp, StagedOutputs(campaign) as outputs:
                    for launch in finished:
                        state = _recover(lp, launch, outputs)
                        del running[launch.launch_id]
                        free_gpus.extend(launch.gpus)
                        if state == "COMPLETED":
                            summary.completed += 1
                        else:
                            summary.fizzled.append(f"fw {launch.fw_id} {launch.name}: {state}")
                    while (
                        sum(launch.threads for launch in running.values()) + len(to_start) < n_slots
                        and (not pool or free_gpus)
                        and (max_launches is None or summary.launched < max_launches)
                    ):
                        launch_dir = _new_launch_dir(campaign)
                        fworker = _slot_fworker(category, free_gpus if pool else None, identity)
                        fw, launch_id = lp.reserve_fw(fworker, str(launch_dir))
                        if fw is None:
                            launch_dir.rmdir()
                            nothing_ready = True
                            break
                        pinned = [free_gpus.pop(0) for _ in range(gpus_wanted(fw.spec))] if pool else []
                        _record_slot(lp, launch_id, pinned, identity)
                        if staged and not _stage(lp, outputs, fw, launch_id, launch_dir):
                            free_gpus.extend(pinned)
                            summary.fizzled.append(f"fw {fw.fw_id} {fw.name}: FIZZLED (inputs not staged)")
                            continue
                        _setup_offline_launch(lp, fw, launch_id, launch_dir)
                        to_start.append(_Launch(launch_id, fw.fw_id, fw.name, launch_dir, pinned))
                        summary.launched += 1
                    if threaded and nothing_ready and len(to_start) == 1:
                        to_start[0].threads = lone_launch_threads(n_slots, len(running), os.environ.get("OMP_NUM_THREADS"))
                    states = _fw_states(lp)
                    if not running and not to_start and pool:
                        summary.not_run = _too_big(lp, category, len(pool))
                for launch in to_start:
                    worker_env = dict(env, CUDA_VISIBLE_DEVICES=",".join(launch.gpus)) if launch.gpus else env
                    if launch.threads > 1:
                        worker_env = dict(worker_env, **dict.fromkeys(THREAD_VARIABLES, str(launch.threads)))
                    log = open(launch.launch_dir / "worker.log", "w")  # noqa: SIM115 - closed with the process
                    log.write(
                        f"li-campaign worker on {identity['host']}, batch job {identity['batch_job']}, "
                        f"CUDA_VISIBLE_DEVICES={worker_env.get('CUDA_VISIBLE_DEVICES', '(not set)')}, "
                        f"OMP_NUM_THREADS={worker_env.get('OMP_NUM_THREADS', '(not set)')}\n"
                    )
                    log.flush()
                    launch.process = subprocess.Popen(
                        [sys.executable, "-m", "li_campaign.launch.worker", str(launch.launch_dir),
                         "--campaign-dir", str(campaign.root), *worker_args],
                        cwd=launch.launch_dir,
                        env=worker_env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                    log.close()
                    running[launch.launch_id] = launch
                bar.total = sum(states.values())
                bar.n = states.get("COMPLETED", 0)
                bar.set_postfix(running=len(running), failed=states.get("FIZZLED", 0), refresh=False)
                bar.refresh()
                if not running:
                    break
                while running and all(launch.process.poll() is None for launch in running.values()):
                    time.sleep(poll_s)
        finally:
            for launch in running.values():  # interrupted: stop workers, leave them to stale recovery
                launch.process.terminate()
            bar.close()
    summary.states = states
    return summary


def _stage(lp: LaunchPad, outputs: StagedOutputs, fw, launch_id: int, launch_dir: Path) -> bool:
    """Stage a reserved firework's inputs into ``launch_dir``; fizzle it with the reason if that fails."""
    # deferred: heavy (jobflow, maggma)
    from li_campaign.launch.staging import StagingError, fail_launch, stage_firework, write_staged_inputs

    try:
        documents = stage_firework(lp, outputs.store(), fw, launch_id)
    except StagingError as exc:
        fail_launch(lp, launch_id, str(exc))
        return False
    write_staged_inputs(launch_dir, fw, documents)
    return True


def lone_launch_threads(n_slots: int, n_running: int, cap: str | None = None) -> int:
    """Threads of a launch that is the only one started in a round of reservations.

    With no other launch running, and (since it is the only one reserved) nothing else ready,
    no firework can become ready before it ends: it gets all ``n_slots`` cores instead of one
    core and ``n_slots - 1`` idle workers. Otherwise one thread, as every CPU worker.
    ``cap``: the runner's own ``OMP_NUM_THREADS``, if set, is a ceiling: someone else shares
    the cores (``make test`` runs two pytest processes of one thread each), and threads that
    outnumber the cores spin (a NEB pack ran 23 min instead of ~1 with 2 threads there).
    """
    threads = n_slots if n_running == 0 else 1
    return max(1, min(threads, int(cap))) if cap and cap.isdigit() else threads


def gpus_wanted(spec: dict) -> int:
    """How many GPUs a firework asks for (``spec._n_gpus``, default 1)."""
    return int(spec.get(N_GPUS_KEY, 1))


def _gpu_fit_query(n_free: int) -> dict:
    """Fireworks that need at most ``n_free`` GPUs."""
    key = f"spec.{N_GPUS_KEY}"
    return {"$or": [{key: {"$exists": False}}, {key: {"$lte": n_free}}]}


def _slot_fworker(category: str | None, free_gpus: list[str] | None, identity: dict):
    """The FireWorks worker that reserves for one free slot (of ``category``, fitting the free GPUs)."""
    from fireworks.core.fworker import FWorker  # deferred: heavy (fireworks)

    query = _gpu_fit_query(len(free_gpus)) if free_gpus is not None else None
    return FWorker(name=local_worker_name(identity["host"]), category=category or "", query=query)


def _record_slot(lp: LaunchPad, launch_id: int, gpus: list[str], identity: dict) -> None:
    """Record host, GPUs and batch job in ``launch.fworker.env``; a batch job's id becomes the reservation id."""
    lp.launches.update_one({"launch_id": launch_id}, {"$set": {"fworker.env": {**identity, "gpus": ",".join(gpus)}}})
    if identity["batch_job"]:
        lp.set_reservation_id(launch_id, identity["batch_job"])


def _too_big(lp: LaunchPad, category: str | None, n_gpus: int) -> list[str]:
    """Ready fireworks (of ``category``) that ask for more than ``n_gpus`` GPUs."""
    query = {"state": "READY", f"spec.{N_GPUS_KEY}": {"$gt": n_gpus}}
    if category:
        query["spec._category"] = category
    return [
        f"fw {fw['fw_id']} {fw['name']}: needs {fw['spec'][N_GPUS_KEY]} GPUs, this runner has {n_gpus}"
        for fw in lp.fireworks.find(query, {"fw_id": 1, "name": 1, "spec": 1})
    ]


def _exit_on_sigterm() -> None:
    """Turn SIGTERM (``kill``, a batch system's walltime) into ``SystemExit`` in the main thread.

    Python's default SIGTERM action ends the process at once, without ``finally`` blocks, so
    the workers would be orphaned and keep running launches that the next ``run`` reruns.
    With this handler :func:`run_workers` stops its workers first.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def _new_launch_dir(campaign: Campaign) -> Path:
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S")
    base = campaign.launches_dir / f"launcher_{stamp}"
    for i in range(10000):
        path = Path(f"{base}_{i:04d}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise DatabaseError(f"{campaign.launches_dir}: cannot create a new launch folder")


class RunnerLock:
    """One ``li-campaign run`` per campaign directory and host (and batch job) at a time.

    The lock file is ``run-<host>.lock`` (``run-<host>-<job id>.lock`` inside a batch job), so
    runners on several nodes, or in several batch jobs sharing a node, run side by side.
    """

    def __init__(self, campaign: Campaign, host: str | None = None, batch_job: str | None = None):
        suffix = f"-{batch_job}" if batch_job else ""
        self.path = campaign.root / f"run-{host or this_host()}{suffix}.lock"
        self.handle = None

    def __enter__(self) -> RunnerLock:
        self.handle = open(self.path, "a+")  # noqa: SIM115
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.seek(0)
            owner = self.handle.read().strip() or "?"
            self.handle.close()
            raise DatabaseError(
                f"{self.path}: another `li-campaign run` (pid {owner}) is running this campaign"
            ) from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(str(os.getpid()))
        self.handle.flush()
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()

    def held(self) -> bool:
        """Whether a runner holds this lock now; the lock file is neither created nor written.

        Readers (``li-campaign status``) ask this, so they also work in a campaign directory
        that they may not write.
        """
        try:
            handle = open(self.path)  # noqa: SIM115
        except FileNotFoundError:
            return False
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
