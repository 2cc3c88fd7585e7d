"""``li-campaign launch --per-node`` on a real SLURM: node jobs with one pinned worker per GPU.

The test cluster has no GPU, so the node template's ``gres`` is dropped and ``pre_rocket``
announces two fake GPUs (``CUDA_VISIBLE_DEVICES=0,1``), as SLURM does for ``--gres=gpu:2``.
Two node jobs run at once on the one test node, side by side on one campaign.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jobflow import Flow

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def node_launchers(tmp_path: Path) -> tuple[Path, Path]:
    """launchers/fworker_gpu.yaml and qadapter_slurm_gpu_node.yaml, edited for the test cluster."""
    fworker = yaml.safe_load((REPO / "launchers" / "fworker_gpu.yaml").read_text())
    qadapter = yaml.safe_load((REPO / "launchers" / "qadapter_slurm_gpu_node.yaml").read_text())
    for key in ("account", "gres", "mem"):
        qadapter.pop(key)
    qadapter.update(queue="debug", cpus_per_task=1, walltime="00:20:00",
                    pre_rocket="export OMP_NUM_THREADS=1 CUDA_VISIBLE_DEVICES=0,1")
    paths = tmp_path / "fworker_gpu.yaml", tmp_path / "qadapter_gpu_node.yaml"
    paths[0].write_text(yaml.safe_dump(fworker))
    paths[1].write_text(yaml.safe_dump(qadapter))
    return paths


def test_node_jobs_pull_the_gpu_jobs_with_pinned_workers_each_job_once(slurm, campaign, tmp_path):
    from li_campaign.db.launchpad import open_launchpad
    from li_campaign.launch.queue import NODE_JOBS, reservation_id
    from li_campaign.launch.submit import submit_flow
    from li_campaign.execution.resources import CPU, GPU, run_on
    from tests.db.jobs_for_gpus import seen_gpus
    from tests.db.jobs_for_tests import add

    probes = [run_on(seen_gpus(i), GPU) for i in range(6)]
    submit_flow(campaign, Flow([*probes, run_on(add(1, 2), CPU)]), "per-node")
    fworker, qadapter = node_launchers(tmp_path)
    env = dict(os.environ, **slurm, LI_CAMPAIGN_DIR=str(campaign.root), OMP_NUM_THREADS="1")
    exe = Path(sys.executable).with_name("li-campaign")
    launch = subprocess.run(
        [str(exe), "launch", "--per-node", "--fworker", str(fworker), "--qadapter", str(qadapter),
         "--sleep", "1", "--max-queued", "2", "--timeout", "600"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert launch.returncode == 0, launch.stdout + launch.stderr
    assert "stopped: no job left for this worker" in launch.stdout, launch.stdout

    with open_launchpad(campaign, write=False) as lp:
        fws = list(lp.fireworks.find({}))
        launches = list(lp.launches.find({}))
        node_jobs = {doc["job_id"] for doc in lp.db[NODE_JOBS].find({})}
    assert sorted(fw["state"] for fw in fws if fw["spec"]["_category"] == GPU) == ["COMPLETED"] * 6
    assert [fw["state"] for fw in fws if fw["spec"]["_category"] == CPU] == ["READY"]  # left to the cpu queue
    assert sorted(launch["fw_id"] for launch in launches) == sorted(fw["fw_id"] for fw in fws if fw["state"] == "COMPLETED")
    assert 1 <= len(node_jobs) <= 2
    for item in launches:  # each ran in one of our node jobs, on one pinned GPU
        assert reservation_id(item) in node_jobs and item["fworker"]["env"]["batch_job"] == reservation_id(item)
        assert item["fworker"]["env"]["gpus"] in {"0", "1"} and item["fworker"]["name"].startswith("li-campaign-local@")
    store = campaign.job_store()
    store.connect()
    seen = [store.get_output(job.uuid)["cuda_visible_devices"] for job in probes]
    assert set(seen) <= {"0", "1"}, seen
