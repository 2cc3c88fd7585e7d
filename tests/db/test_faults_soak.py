"""Soak test (slow, not in CI): hundreds of tiny jobs through `li-campaign run` while workers and
whole runs are SIGKILLed at random; every job must end COMPLETED exactly once.

Run it with ``LI_CAMPAIGN_SOAK=1 pytest -m slow tests/db/test_faults_soak.py -s``; the size is
``LI_CAMPAIGN_SOAK_JOBS`` (default 300) and the random seed ``LI_CAMPAIGN_SOAK_SEED`` (default 8).
The operator's part is done as a user would: after each run, fireworks that failed because
their worker was killed are set to run again (``lpad rerun_fws``), and the next
``li-campaign run`` recovers the launches of a killed run by itself.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from jobflow import Flow

from li_campaign.db.launchpad import open_launchpad
from li_campaign.launch.submit import submit_flow
from tests.db.soak_jobs import nap

pytestmark = [
    pytest.mark.slow,
    pytest.mark.faults,
    pytest.mark.skipif(os.environ.get("LI_CAMPAIGN_SOAK") != "1", reason="soak test: set LI_CAMPAIGN_SOAK=1"),
]

CLI = str(Path(sys.executable).with_name("li-campaign"))
WORKER_KILL = 0.02  # chance per 0.2 s that one running worker is SIGKILLed (about one every 10 s)
RUN_KILL = 0.005  # chance per 0.2 s that the whole run (runner and workers) is SIGKILLed (one every 40 s)


def _rerun_killed(campaign) -> int:
    """Set fireworks whose worker was SIGKILLed to run again; return how many."""
    with open_launchpad(campaign) as lp:
        fizzled = [fw["fw_id"] for fw in lp.fireworks.find({"state": "FIZZLED"}, {"fw_id": 1})]
        for fw_id in fizzled:
            lp.rerun_fw(fw_id)
    return len(fizzled)


def test_random_kills_end_with_every_job_completed_exactly_once(campaign):
    n_jobs = int(os.environ.get("LI_CAMPAIGN_SOAK_JOBS", 300))
    rng = random.Random(int(os.environ.get("LI_CAMPAIGN_SOAK_SEED", 8)))
    jobs = [nap(i, rng.uniform(0.1, 0.6)) for i in range(n_jobs)]
    submit_flow(campaign, Flow(jobs), "soak")
    kills = {"worker": 0, "run": 0}
    rounds, reruns, start = 0, 0, time.monotonic()
    while True:
        with open_launchpad(campaign, write=False) as lp:
            left = lp.fireworks.count_documents({"state": {"$ne": "COMPLETED"}})
        if not left:
            break
        rounds += 1
        assert rounds <= 200, f"not done after 200 rounds: {left} jobs left"
        run = subprocess.Popen([CLI, "run", "-n", "3", "--no-progress"], start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while run.poll() is None:
            time.sleep(0.2)
            if rng.random() < WORKER_KILL:
                try:
                    workers = psutil.Process(run.pid).children(recursive=True)
                    if workers:
                        rng.choice(workers).send_signal(signal.SIGKILL)
                        kills["worker"] += 1
                except psutil.NoSuchProcess:  # the run or the worker ended meanwhile
                    pass
            elif rng.random() < RUN_KILL:
                os.killpg(run.pid, signal.SIGKILL)  # the whole run dies: its launches are recovered next round
                kills["run"] += 1
        run.wait()
        reruns += _rerun_killed(campaign)

    with open_launchpad(campaign, write=False) as lp:
        fireworks = list(lp.fireworks.find({}, {"fw_id": 1, "state": 1, "launches": 1, "archived_launches": 1}))
        completed = {
            fw["fw_id"]: lp.launches.count_documents(
                {"launch_id": {"$in": fw["launches"] + fw.get("archived_launches", [])}, "state": "COMPLETED"}
            )
            for fw in fireworks
        }
        n_launches = lp.launches.count_documents({})
    assert len(fireworks) == n_jobs and {fw["state"] for fw in fireworks} == {"COMPLETED"}
    assert set(completed.values()) == {1}  # one COMPLETED launch per job
    store = campaign.job_store()
    store.connect()
    assert store.count({}) == n_jobs
    for i, job in enumerate(jobs):
        (doc,) = store.query({"uuid": job.uuid}, properties=["output"])
        assert doc["output"] == i * i
    print(
        f"\nsoak: {n_jobs} jobs, {n_launches} launches, {rounds} runs, {kills['worker']} workers and "
        f"{kills['run']} whole runs SIGKILLed, {reruns} killed jobs rerun, {time.monotonic() - start:.0f} s"
    )
