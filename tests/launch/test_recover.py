"""A killed `li-campaign run` (runner and worker, SIGKILL): status reports, recover fixes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jobflow import Flow

from li_campaign.db.launchpad import open_launchpad
from li_campaign.launch.submit import submit_flow
from tests.cluster.jobs import child, slow_first_time

pytestmark = pytest.mark.faults


def li(*args, **kwargs):
    exe = Path(sys.executable).with_name("li-campaign")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, **kwargs)


def test_killed_runner_is_reported_recovered_and_nothing_is_stored_twice(campaign, tmp_path):
    marker = tmp_path / "started"
    first = slow_first_time(str(marker))
    second = child(first.output)
    submit_flow(campaign, Flow([first, second]), "recover-test")
    exe = Path(sys.executable).with_name("li-campaign")
    runner = subprocess.Popen([str(exe), "run", "-n", "1", "--no-progress"], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        if marker.exists():
            break
        time.sleep(0.1)
    assert marker.exists()
    os.killpg(runner.pid, signal.SIGKILL)  # the runner and its worker die mid-job
    runner.wait()

    status = json.loads(li("status", "--json").stdout)
    (lost,) = status["lost"]
    assert lost["name"] == first.name and "no longer running" in lost["reason"]
    recovered = li("recover")
    assert recovered.returncode == 0 and "1 lost jobs set to run again" in recovered.stdout, recovered
    assert json.loads(li("status", "--json").stdout)["lost"] == []

    assert li("run", "-n", "1", "--no-progress").returncode == 0
    with open_launchpad(campaign, write=False) as lp:
        assert {fw["state"] for fw in lp.fireworks.find({})} == {"COMPLETED"}
    store = campaign.job_store()
    store.connect()
    assert store.count({}) == 2  # one output per job: nothing lost, nothing twice
    assert store.get_output(second.uuid) == "second run, then the child"


def test_sigterm_to_the_runner_stops_its_workers_and_the_job_reruns_once(campaign, tmp_path):
    import psutil

    marker = tmp_path / "started"
    first = slow_first_time(str(marker))
    submit_flow(campaign, Flow([first]), "sigterm-test")
    exe = Path(sys.executable).with_name("li-campaign")
    runner = subprocess.Popen([str(exe), "run", "-n", "1", "--no-progress"], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        if marker.exists():
            break
        time.sleep(0.1)
    assert marker.exists()
    workers = psutil.Process(runner.pid).children(recursive=True)
    assert workers, "the runner started no worker"
    runner.send_signal(signal.SIGTERM)  # only the runner, as `kill` or a batch system's walltime does
    assert runner.wait(timeout=30) == 128 + signal.SIGTERM
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, f"workers outlived their runner: {[p.pid for p in alive]}"

    assert li("run", "-n", "1", "--no-progress").returncode == 0  # the stale launch is rerun
    with open_launchpad(campaign, write=False) as lp:
        assert [fw["state"] for fw in lp.fireworks.find({})] == ["COMPLETED"]
    store = campaign.job_store()
    store.connect()
    assert store.count({}) == 1
