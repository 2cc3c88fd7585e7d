"""Local workers: run a campaign's fireworks on this machine until nothing is ready.

FireWorks has no pool that is safe on the embedded (mongomock file) LaunchPad:
``rlaunch multi`` loses all state there, and two online ``rlaunch`` processes run every
firework twice. This runner does what ``qlaunch -r`` + ``rlaunch --offline`` +
``lpad recover_offline`` do on a cluster, with local processes as the "queue": under the
lock it reserves fireworks and writes their launch folders; the workers
(:mod:`li_campaign.db.worker`) run them in parallel without touching the LaunchPad; under
the lock again it recovers each finished launch, which also applies jobflow's dynamic
additions and detours.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from li_campaign.core.errors import DatabaseError

if TYPE_CHECKING:
    from fireworks import LaunchPad

    from li_campaign.db.config import Campaign

_ACTIVE = ("RESERVED", "RUNNING")
LOCAL_WORKER = "li-campaign-local"
STALE_REASON = "the `li-campaign run` that started this job is no longer running"


@dataclass
class _Launch:
    launch_id: int
    fw_id: int
    name: str
    launch_dir: Path
    process: subprocess.Popen | None = None  # set when the worker is started, outside the lock


@dataclass
class RunSummary:
    """What a call to :func:`run_workers` did."""

    launched: int = 0
    completed: int = 0
    fizzled: list[str] = field(default_factory=list)
    states: dict[str, int] = field(default_factory=dict)


def _fw_states(lp: LaunchPad) -> dict[str, int]:
    return dict(Counter(doc["state"] for doc in lp.fireworks.find({}, {"state": 1})))


def _setup_offline_launch(lp: LaunchPad, fw, launch_id: int, launch_dir: Path) -> None:
    """Write FW.json / FW_offline.json as ``qlaunch -r`` does for an offline rocket."""
    fw.to_file(str(launch_dir / "FW.json"))
    (launch_dir / "FW_offline.json").write_text(json.dumps({"launch_id": launch_id}))
    lp.add_offline_run(launch_id, fw.fw_id, fw.name)


def _fail_launch(lp: LaunchPad, launch_id: int, reason: str) -> None:
    from fireworks import FWAction

    action = FWAction(stored_data={"_message": reason, "_exception": {"_stacktrace": reason}})
    lp.complete_launch(launch_id, action, state="FIZZLED")
    lp.offline_runs.update_one({"launch_id": launch_id}, {"$set": {"completed": True}})


def _recover(lp: LaunchPad, launch: _Launch) -> str:
    """Read back a finished launch; a worker that died without a result fizzles the firework."""
    lp.recover_offline(launch.launch_id, ignore_errors=True)
    state = lp.fireworks.find_one({"fw_id": launch.fw_id}, {"state": 1})["state"]
    if state in _ACTIVE:
        code = launch.process.returncode
        _fail_launch(
            lp,
            launch.launch_id,
            f"worker for fw {launch.fw_id} ({launch.name}) exited with code {code} without a result; "
            f"see {launch.launch_dir / 'worker.log'}",
        )
        state = "FIZZLED"
    return state


def recover_stale_launches(lp: LaunchPad) -> list[int]:
    """Recover local launches left reserved or running by a runner that was killed; rerun lost ones.

    Returns
    -------
    list[int]
        fw_ids that were put back to READY.
    """
    rerun = []
    for run in list(lp.offline_runs.find({"completed": False, "deprecated": {"$ne": True}})):
        launch_id, fw_id = run["launch_id"], run["fw_id"]
        if not lp.launches.find_one({"launch_id": launch_id, "fworker.name": LOCAL_WORKER}, {"_id": 1}):
            continue  # a batch-queue launch: li_campaign.db.queue looks after it
        lp.recover_offline(launch_id, ignore_errors=True)
        fw = lp.fireworks.find_one({"fw_id": fw_id}, {"state": 1})
        if fw and fw["state"] in _ACTIVE:
            _fail_launch(lp, launch_id, STALE_REASON)
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
) -> RunSummary:
    """Run ready fireworks with ``n_workers`` local processes until none is ready or running.

    Parameters
    ----------
    campaign
        The campaign to run.
    n_workers
        Parallel worker processes (each single-threaded when more than one).
    max_launches
        Stop starting new launches after this many (``None``: no limit).
    poll_s
        Seconds between checks of the running workers.
    progress
        Show a progress bar (tqdm) of completed fireworks.
    """
    from fireworks.core.fworker import FWorker
    from tqdm import tqdm

    from li_campaign.db.launchpad import open_launchpad

    if n_workers < 1:
        raise ValueError("n_workers must be >= 1")
    fworker = FWorker(name=LOCAL_WORKER)
    env = dict(os.environ, LI_CAMPAIGN_DIR=str(campaign.root))
    if n_workers > 1:
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    summary = RunSummary()
    running: dict[int, _Launch] = {}
    bar = tqdm(total=0, unit="job", desc="campaign", disable=not progress, dynamic_ncols=True)
    run_lock = RunnerLock(campaign)
    with run_lock:
        with open_launchpad(campaign) as lp:
            recover_stale_launches(lp)
        try:
            while True:
                finished = [launch for launch in running.values() if launch.process.poll() is not None]
                to_start: list[_Launch] = []
                with open_launchpad(campaign) as lp:
                    for launch in finished:
                        state = _recover(lp, launch)
                        del running[launch.launch_id]
                        if state == "COMPLETED":
                            summary.completed += 1
                        else:
                            summary.fizzled.append(f"fw {launch.fw_id} {launch.name}: {state}")
                    while len(running) + len(to_start) < n_workers and (
                        max_launches is None or summary.launched < max_launches
                    ):
                        launch_dir = _new_launch_dir(campaign)
                        fw, launch_id = lp.reserve_fw(fworker, str(launch_dir))
                        if fw is None:
                            launch_dir.rmdir()
                            break
                        _setup_offline_launch(lp, fw, launch_id, launch_dir)
                        to_start.append(_Launch(launch_id, fw.fw_id, fw.name, launch_dir))
                        summary.launched += 1
                    states = _fw_states(lp)
                for launch in to_start:
                    log = open(launch.launch_dir / "worker.log", "w")  # noqa: SIM115 - closed with the process
                    launch.process = subprocess.Popen(
                        [sys.executable, "-m", "li_campaign.db.worker", str(launch.launch_dir), "--campaign-dir", str(campaign.root)],
                        cwd=launch.launch_dir,
                        env=env,
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
    """One ``li-campaign run`` per campaign directory at a time (held for the whole run)."""

    def __init__(self, campaign: Campaign):
        self.path = campaign.root / "run.lock"
        self.handle = None

    def __enter__(self) -> RunnerLock:
        import fcntl

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
        import fcntl

        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
