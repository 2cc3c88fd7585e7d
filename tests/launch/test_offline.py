"""Offline rockets: a compute node that cannot reach the LaunchPad still runs its job.

The firework is reserved and its launch folder written by FireWorks' own queue-launcher
code (``setup_offline_job``, as ``qlaunch -r`` does), the worker runs with the LaunchPad
file moved away, and ``recover_offline`` (via :func:`recover_finished`) reads the result
back. FireWorks' offline rocket calls ``monty.io.zopen`` without a mode, which current
monty rejects: the worker's ``patch_fireworks_zopen`` is what makes this run at all.
"""

from __future__ import annotations

import json
from contextlib import chdir
import subprocess
import sys

from fireworks import FWorker
from fireworks.queue.queue_launcher import setup_offline_job
from jobflow import Flow

from li_campaign.db.launchpad import open_launchpad
from li_campaign.launch.queue import recover_finished
from li_campaign.launch.staging import StagedOutputs
from li_campaign.launch.submit import submit_flow
from tests.db.jobs_for_tests import add


def test_offline_worker_runs_without_the_launchpad(campaign, tmp_path):
    first = add(1, 2)
    second = add(first.output, 10)
    submit_flow(campaign, Flow([first, second]), "offline-test")
    launch_dir = tmp_path / "launch"
    launch_dir.mkdir()
    with open_launchpad(campaign) as lp:
        fw, launch_id = lp.reserve_fw(FWorker(name="node-without-db"), str(launch_dir))
        lp.set_reservation_id(launch_id, "4242")  # as qlaunch does after sbatch
        with chdir(launch_dir):
            setup_offline_job(lp, fw, launch_id)

    hidden = campaign.fireworks_db_file.with_suffix(".away")
    campaign.fireworks_db_file.rename(hidden)  # the compute node cannot reach the LaunchPad
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "li_campaign.launch.worker", "singleshot", "--offline", "--fw_id", str(fw.fw_id),
             "--campaign-dir", str(campaign.root)],
            cwd=launch_dir, capture_output=True, text=True, timeout=300,
        )
        assert not campaign.fireworks_db_file.exists(), "the worker must not create or open the LaunchPad"
    finally:
        hidden.rename(campaign.fireworks_db_file)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((launch_dir / "FW_offline.json").read_text())["state"] == "COMPLETED"

    with open_launchpad(campaign) as lp, StagedOutputs(campaign) as outputs:
        assert lp.get_fw_by_id(fw.fw_id).state == "RESERVED"  # nothing known until recovered
        assert recover_finished(lp, outputs) == 1
        assert lp.get_fw_by_id(fw.fw_id).state == "COMPLETED"
        (child_id,) = lp.get_wf_by_fw_id(fw.fw_id).links[fw.fw_id]
        assert lp.get_fw_by_id(child_id).state == "READY"  # the child is unblocked
        assert recover_finished(lp, outputs) == 0  # recovering twice changes nothing
    store = campaign.job_store()
    store.connect()
    assert store.get_output(first.uuid) == 3
    assert store.count({"uuid": first.uuid}) == 1
