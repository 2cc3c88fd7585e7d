"""`li-campaign run --gpus/--category`: pinned workers on fake GPU ids, category filter, per-host runners.

Everything runs on the CPU: a worker pinned to "GPU 1" only gets CUDA_VISIBLE_DEVICES=1.
"""

from __future__ import annotations

import pytest
from jobflow import Flow

from li_campaign.core.errors import DatabaseError
from li_campaign.db.config import Campaign, DbConfig
from li_campaign.db.launchpad import initialise_launchpad, open_launchpad
from li_campaign.launch.runner import RunnerLock, local_worker_name, recover_stale_launches, run_workers
from li_campaign.launch.submit import submit_flow
from li_campaign.execution.packing import pack_jobs
from li_campaign.execution.resources import CPU, GPU, run_on, use_gpus
from tests.db.jobs_for_gpus import seen_gpus
from tests.db.jobs_for_tests import add
from tests.flows.jobs_for_packing import label_jobs

pytestmark = pytest.mark.filterwarnings("ignore:Some jobs are not connected")


def _fanout() -> Flow:
    """A packed fan-out of 6 Morse label calculations (2 packs) and 3 probes of what a worker sees."""
    packs, _ = pack_jobs(label_jobs(6), 3, "labels")
    return Flow([*packs, *(seen_gpus(i) for i in range(3))])


def _results(campaign: Campaign) -> tuple[dict, list[dict]]:
    """Energies and forces by frame id from the packs; the probes' outputs."""
    store = campaign.job_store()
    store.connect()
    frames = {}
    for doc in store.query({"output.doc_type": "pack"}, ["output.results"]):
        for frame in doc["output"]["results"]:
            frames[frame["frame_id"]] = (frame["energy_eV"], frame["forces_eV_A"])
    probes = [doc["output"] for doc in store.query({"output.i": {"$exists": True}}, ["output"])]
    return frames, probes


@pytest.mark.slow
def test_pinned_workers_take_each_job_once_see_one_gpu_each_and_match_one_worker(campaign, tmp_path):
    submit_flow(campaign, _fanout(), "pinned")
    summary = run_workers(campaign, gpus="0,1,2", progress=False)
    assert summary.gpus == ["0", "1", "2"] and summary.fizzled == []
    assert summary.states == {"COMPLETED": 5}
    with open_launchpad(campaign, write=False) as lp:
        launches = list(lp.launches.find({}, {"fw_id": 1, "fworker": 1, "launch_dir": 1}))
    assert sorted(launch["fw_id"] for launch in launches) == list(range(1, 6))  # each firework launched once
    for launch in launches:
        env = launch["fworker"]["env"]
        assert env["gpus"] in {"0", "1", "2"} and env["batch_job"] is None
        assert launch["fworker"]["name"] == local_worker_name()
        with open(f"{launch['launch_dir']}/worker.log") as log:
            assert f"CUDA_VISIBLE_DEVICES={env['gpus']}, " in log.readline()
    pinned_frames, probes = _results(campaign)
    assert sorted(p["i"] for p in probes) == [0, 1, 2]
    assert {p["cuda_visible_devices"] for p in probes} <= {"0", "1", "2"}  # one GPU each, never "0,1,2"

    single = Campaign.create(tmp_path / "one-worker", DbConfig())
    initialise_launchpad(single)
    submit_flow(single, _fanout(), "one")
    assert run_workers(single, n_workers=1, progress=False).states == {"COMPLETED": 5}
    one_frames, _ = _results(single)
    assert len(pinned_frames) == 6 and pinned_frames == one_frames  # bit-identical


def test_a_job_asking_for_two_gpus_gets_two_and_a_one_gpu_runner_leaves_it(campaign, monkeypatch):
    job = use_gpus(seen_gpus(0), 2)
    submit_flow(campaign, Flow([job]), "two-gpus")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5")  # a one-GPU allocation
    summary = run_workers(campaign, gpus="auto", progress=False)
    assert summary.launched == 0 and summary.states == {"READY": 1}
    assert summary.not_run == [f"fw 1 {job.name}: needs 2 GPUs, this runner has 1"]

    summary = run_workers(campaign, gpus="5,7", progress=False)
    assert summary.states == {"COMPLETED": 1}
    store = campaign.job_store()
    store.connect()
    assert store.get_output(job.uuid)["cuda_visible_devices"] == "5,7"


def test_gpus_auto_on_a_cpu_only_machine_runs_one_worker_with_gpus_hidden(campaign, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr("li_campaign.launch.gpus._run_nvidia_smi", lambda: "")
    submit_flow(campaign, Flow([seen_gpus(0), seen_gpus(1)]), "cpu-only")
    summary = run_workers(campaign, gpus="auto", progress=False)
    assert summary.gpus == [] and summary.states == {"COMPLETED": 2}
    _, probes = _results(campaign)
    assert [p["cuda_visible_devices"] for p in probes] == ["", ""]
    assert len({p["pid"] for p in probes}) == 2  # one worker process per job, one at a time


def test_category_filter_runs_only_that_category(campaign):
    gpu_job, cpu_job, plain = run_on(add(1, 2), GPU), run_on(add(3, 4), CPU), add(5, 6)
    submit_flow(campaign, Flow([gpu_job, cpu_job, plain]), "categories")
    summary = run_workers(campaign, gpus="0", category=GPU, progress=False)
    assert summary.launched == 1
    with open_launchpad(campaign, write=False) as lp:
        states = [fw["state"] for fw in lp.fireworks.find({}, {"state": 1})]
        ran = lp.launches.find_one({})["fw_id"]
        assert lp.fireworks.find_one({"fw_id": ran})["spec"]["_category"] == GPU
    assert sorted(states) == ["COMPLETED", "READY", "READY"]
    assert run_workers(campaign, category=CPU, progress=False).launched == 1
    assert run_workers(campaign, progress=False).states == {"COMPLETED": 3}  # no category: everything


def test_runner_locks_are_per_host_and_per_batch_job(campaign):
    with RunnerLock(campaign, host="node-a"):
        with RunnerLock(campaign, host="node-b"), RunnerLock(campaign, host="node-a", batch_job="123"):
            pass
        with pytest.raises(DatabaseError, match="another `li-campaign run`"):
            with RunnerLock(campaign, host="node-a"):
                pass
    assert {p.name for p in campaign.root.glob("run-*.lock")} == {"run-node-a.lock", "run-node-b.lock", "run-node-a-123.lock"}


def _reserve_as(lp, name: str, launch_dir, reservation_id: str | None = None) -> int:
    """Reserve the next firework as worker ``name`` the way a runner does (offline launch)."""
    from fireworks import FWorker

    fw, launch_id = lp.reserve_fw(FWorker(name=name), str(launch_dir))
    lp.add_offline_run(launch_id, fw.fw_id, fw.name)
    if reservation_id:
        lp.set_reservation_id(launch_id, reservation_id)
    return fw.fw_id


def test_stale_recovery_takes_only_this_hosts_own_launches(campaign, tmp_path):
    submit_flow(campaign, Flow([add(1, 1), add(2, 2), add(3, 3), add(4, 4)]), "hosts")
    from li_campaign.launch.staging import StagedOutputs

    with open_launchpad(campaign) as lp, StagedOutputs(campaign) as outputs:
        other = _reserve_as(lp, "li-campaign-local@another-node", tmp_path)  # alive on its own node
        in_job = _reserve_as(lp, local_worker_name(), tmp_path, reservation_id="4242")  # a node job's: queue's business
        mine = _reserve_as(lp, local_worker_name(), tmp_path)
        legacy = _reserve_as(lp, "li-campaign-local", tmp_path)  # a runner from before the host was in the name
        assert sorted(recover_stale_launches(lp, outputs)) == sorted([mine, legacy])
        states = {fw["fw_id"]: fw["state"] for fw in lp.fireworks.find({}, {"fw_id": 1, "state": 1})}
        assert states[other] == states[in_job] == "RESERVED"
        assert states[mine] == states[legacy] == "READY"
        assert recover_stale_launches(lp, outputs, batch_job="999") == []  # another job's runner on this host
        assert recover_stale_launches(lp, outputs, batch_job="4242") == [in_job]  # a new runner of the same job


def test_cli_run_gpus_option(campaign):
    import subprocess
    import sys
    from pathlib import Path

    exe = [str(Path(sys.executable).with_name("li-campaign")), "--campaign-dir", str(campaign.root), "run", "--no-progress"]
    bad = subprocess.run([*exe, "--gpus", "0,0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--gpus '0,0': expected auto, a number, or distinct GPU ids" in bad.stderr + bad.stdout
    empty = subprocess.run([*exe, "--gpus", "0", "--category", "gpu"], capture_output=True, text=True)
    assert empty.returncode == 0, empty.stderr
    assert "workers pinned to GPUs: none (CPU workers)" in empty.stdout and "ran 0 jobs" in empty.stdout
