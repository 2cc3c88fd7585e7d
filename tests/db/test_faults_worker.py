"""Walltime: SIGTERM to a whole `li-campaign run` (runner and workers, as a batch system's time limit
sends it); the next run recovers and finishes every job, each stored exactly once."""

from __future__ import annotations

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
from tests.db.jobs_for_tests import add

pytestmark = pytest.mark.faults

CLI = str(Path(sys.executable).with_name("li-campaign"))


def test_walltime_sigterm_then_rerun_completes_every_job_once(campaign, tmp_path):
    marker = tmp_path / "started"
    quick = add(1, 2)
    slow = slow_first_time(str(marker))
    after = child(slow.output)
    submit_flow(campaign, Flow([quick, slow, after]), "walltime")
    run = subprocess.Popen([CLI, "run", "-n", "2", "--no-progress"], start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        if marker.exists():
            break
        time.sleep(0.1)
    assert marker.exists()
    os.killpg(run.pid, signal.SIGTERM)  # the time limit: every process of the job gets SIGTERM
    assert run.wait(timeout=60) != 0

    again = subprocess.run([CLI, "run", "-n", "2", "--no-progress"], capture_output=True, text=True)
    assert again.returncode == 0, again.stdout + again.stderr
    with open_launchpad(campaign, write=False) as lp:
        assert {fw["state"] for fw in lp.fireworks.find({})} == {"COMPLETED"}
        slow_fw = lp.fireworks.find_one({"name": slow.name})
        states = [lp.launches.find_one({"launch_id": i})["state"] for i in slow_fw["launches"] + slow_fw["archived_launches"]]
    assert "COMPLETED" in states
    store = campaign.job_store()
    store.connect()
    for job in (quick, slow, after):
        assert store.count({"uuid": job.uuid}) == 1
    assert store.get_output(after.uuid) == "second run, then the child"
