"""`li-campaign launch --per-node`: node jobs that each run `li-campaign run --gpus auto`.

The batch system is faked (``fake_slurm``, tests/launch/conftest.py): submission records the script
FireWorks wrote and returns a job id, and the queue snapshot lists the ids we say are alive. The node job itself is really
run, with `bash` on its script, as a node would.
"""

from __future__ import annotations

import os
import subprocess

from fireworks import FWorker
from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter
from jobflow import Flow

from li_campaign.db.launchpad import open_launchpad
from li_campaign.launch.queue import NODE_JOBS, QueueSnapshot, find_lost_launches, launch_nodes_to_queue, node_command
from li_campaign.launch.runner import local_worker_name
from li_campaign.launch.submit import submit_flow
from li_campaign.execution.resources import CPU, GPU, run_on
from tests.db.jobs_for_gpus import seen_gpus
from tests.db.jobs_for_tests import add


def _qadapter() -> CommonAdapter:
    return CommonAdapter(q_type="SLURM", queue="gpu", nodes=1, ntasks=1, gres="gpu:4", walltime="01:00:00",
                         job_name="li-node", pre_rocket=None, post_rocket=None)


def test_node_jobs_run_the_pinned_runner_and_stop_when_no_work_is_left(campaign, fake_slurm):
    gpu_jobs = [run_on(seen_gpus(i), GPU) for i in range(3)]
    submit_flow(campaign, Flow([*gpu_jobs, run_on(add(1, 2), CPU)]), "nodes")
    gpu_worker = FWorker(name="cluster-gpu", category=GPU)
    quiet = []

    summary = launch_nodes_to_queue(campaign, gpu_worker, _qadapter(), max_queued=2, once=True, log=quiet.append)
    assert summary.submitted == 2 and summary.reason_stopped == "--once"
    with open_launchpad(campaign, write=False) as lp:
        assert lp.launches.count_documents({}) == 0  # a node job reserves nothing up front
        assert sorted(doc["job_id"] for doc in lp.db[NODE_JOBS].find({})) == ["101", "102"]
    script = open(fake_slurm["scripts"]["101"]).read()
    assert "#SBATCH --gres=gpu:4" in script
    assert node_command(campaign, GPU) in script
    assert f"--campaign-dir {campaign.root} run --gpus auto --no-progress --category gpu" in script

    again = launch_nodes_to_queue(campaign, gpu_worker, _qadapter(), max_queued=2, once=True, log=quiet.append)
    assert again.submitted == 0  # both node jobs are still queued

    env = dict(os.environ, SLURM_JOB_ID="101", CUDA_VISIBLE_DEVICES="0,1")  # a node with two GPUs
    node = subprocess.run(["bash", fake_slurm["scripts"]["101"]], cwd=os.path.dirname(fake_slurm["scripts"]["101"]),
                          env=env, capture_output=True, text=True, timeout=600)
    assert node.returncode == 0, node.stdout + node.stderr
    assert "workers pinned to GPUs: 0,1" in node.stdout
    fake_slurm["alive"].clear()  # both node jobs have ended

    with open_launchpad(campaign, write=False) as lp:
        fws = {fw["fw_id"]: fw for fw in lp.fireworks.find({}, {"fw_id": 1, "state": 1, "spec._category": 1})}
        launches = list(lp.launches.find({}))
    assert sorted(fw["state"] for fw in fws.values() if fw["spec"]["_category"] == GPU) == ["COMPLETED"] * 3
    assert [fw["state"] for fw in fws.values() if fw["spec"]["_category"] == CPU] == ["READY"]  # not this node's
    assert len(launches) == 3 and len({launch["fw_id"] for launch in launches}) == 3
    for launch in launches:
        assert launch["fworker"]["name"] == local_worker_name()
        assert launch["fworker"]["env"]["batch_job"] == "101" and launch["fworker"]["env"]["gpus"] in {"0", "1"}
        assert [h["reservation_id"] for h in launch["state_history"] if "reservation_id" in h] == ["101"]

    final = launch_nodes_to_queue(campaign, gpu_worker, _qadapter(), max_queued=2, sleep_s=0, log=quiet.append)
    assert final.submitted == 0 and final.lost == [] and final.reason_stopped == "no job left for this worker"


def test_a_dead_node_jobs_running_launch_is_lost(campaign, fake_slurm):
    submit_flow(campaign, Flow([run_on(add(1, 2), GPU)]), "dead-node")
    with open_launchpad(campaign) as lp:
        fw, launch_id = lp.reserve_fw(FWorker(name=local_worker_name("gpu-node-7")), str(campaign.root))
        lp.add_offline_run(launch_id, fw.fw_id, fw.name)
        lp.set_reservation_id(launch_id, "555")  # what a runner inside batch job 555 does
        queue = QueueSnapshot.take("SLURM")  # job 555 is not in it: walltime, node failure
        (lost,) = find_lost_launches(lp, queue)
    assert lost["fw_id"] == fw.fw_id and "batch job 555 ended without a result" in lost["reason"]


def test_a_result_left_by_a_dead_node_runner_is_read_back(campaign, fake_slurm, tmp_path):
    import sys

    from li_campaign.launch.runner import _setup_offline_launch

    job = run_on(add(2, 3), GPU)
    submit_flow(campaign, Flow([job]), "orphan")
    launch_dir = tmp_path / "launch"
    launch_dir.mkdir()
    with open_launchpad(campaign) as lp:  # what a runner inside batch job 556 does ...
        fw, launch_id = lp.reserve_fw(FWorker(name=local_worker_name("gpu-node-8")), str(launch_dir))
        _setup_offline_launch(lp, fw, launch_id, launch_dir)
        lp.set_reservation_id(launch_id, "556")
    worker = subprocess.run([sys.executable, "-m", "li_campaign.launch.worker", str(launch_dir), "--campaign-dir",
                             str(campaign.root)], cwd=launch_dir, capture_output=True, text=True, timeout=300)
    assert worker.returncode == 0, worker.stderr  # ... its worker finished, then the node died before the read-back

    summary = launch_nodes_to_queue(campaign, FWorker(name="cluster-gpu", category=GPU), _qadapter(), once=True,
                                    log=lambda line: None)
    assert summary.completed == 1 and summary.lost == [] and summary.submitted == 0
    with open_launchpad(campaign, write=False) as lp:
        assert lp.fireworks.find_one({"fw_id": fw.fw_id})["state"] == "COMPLETED"
