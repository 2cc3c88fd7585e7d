"""Staged workers: jobs run from inputs written into their launch folder and open no database.

Every worker process of these tests runs with ``tests/db/no_database/sitecustomize.py``: an
audit hook refuses it any open under the campaign's ``db/`` folder, any sqlite connection and
any socket connection, and logs what it opened in the campaign. A staged worker must finish
its job under it; an ordinary worker, the control, fails. The stores, LaunchPad and launch
folders are real (embedded mode).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from contextlib import chdir
from pathlib import Path

import pytest
from fireworks import FWorker
from fireworks.queue.queue_launcher import setup_offline_job
from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter
from jobflow import Flow

from li_campaign.core.errors import InputError
from li_campaign.db.launchpad import open_launchpad
from li_campaign.launch.queue import launch_nodes_to_queue, launch_to_queue, load_fworker, load_qadapter
from li_campaign.launch.recover import recover_campaign
from li_campaign.launch.runner import local_worker_name, run_workers
from li_campaign.db.settings import DATA_STORE
from li_campaign.launch.staging import (
    OUTPUTS_FILE,
    STAGED_DIR,
    StagedOutputs,
    stage_firework,
    write_staged_inputs,
)
from li_campaign.launch.submit import submit_flow
from li_campaign.execution.packing import pack_jobs
from tests.db.jobs_for_tests import add, fan, total
from tests.db.no_database_audit import (
    REPO,
    assert_every_job_once,
    assert_no_database_opened,
    job_store,
    launchpad_docs,
    no_database_env,
    worker_logs,
)
from tests.db.staged_jobs import OVERSIZED_N, grow, oversized, partial_then_die, peek, routed


@pytest.fixture
def no_database(campaign, tmp_path, monkeypatch) -> Path:
    """Hide the campaign's database from every worker process started from here; yield the log folder."""
    log_dir = tmp_path / "worker_audit"
    for name, value in no_database_env(campaign, log_dir).items():
        monkeypatch.setenv(name, value)
    return log_dir


def test_staged_workers_run_dynamic_flows_packs_and_large_data_without_the_database(campaign, no_database):
    first = fan(3)  # replaced by 3 adds and a total while it runs
    packs, refs = pack_jobs([add(first.output, i) for i in range(4)], size=2, name="adds")
    summed = total(refs)
    big = oversized(OVERSIZED_N)  # over 8 MiB: the JobStore's guard moves its list to the large-data store
    trajectory = routed(50)  # jobflow's own routing, @job(data="trajectory")
    seen = peek(big.uuid, big.output["n"])  # reads the store while it runs
    grown = grow(5)  # adds a job to the flow while it runs
    submit_flow(campaign, Flow([first, *packs, summed, big, trajectory, seen, grown]), "staged")

    summary = run_workers(campaign, n_workers=2, progress=False, staged=True)

    assert summary.fizzled == []
    fws, launches = assert_every_job_once(campaign)
    assert len(fws) == 14  # fan, its 3 adds, total, jobflow's store_inputs; 2 packs, total, oversized, routed, peek, grow, its add
    assert_no_database_opened(no_database, launches)
    store = job_store(campaign)
    assert store.get_output(first.uuid) == 6
    assert store.get_output(summed.uuid) == 6 + 7 + 8 + 9
    assert store.get_output(seen.uuid) == OVERSIZED_N
    assert store.query_one({"name": "add", "output": 15}) is not None  # the job grow added
    values = store.get_output(big.uuid, load=True)["values"]
    assert len(values) == OVERSIZED_N and values[-1] == 0.5 * (OVERSIZED_N - 1)
    assert store.get_output(trajectory.uuid, load=True)["trajectory"][-1] == [49.0, 50.0]
    raw = {doc["uuid"]: doc["output"] for doc in store.docs_store.query({"uuid": {"$in": [big.uuid, trajectory.uuid]}})}
    blobs = list(store.additional_stores[DATA_STORE].query({}, properties=["blob_uuid", "job_uuid"]))
    assert sorted(blob["blob_uuid"] for blob in blobs) == sorted(
        [raw[big.uuid]["values"]["blob_uuid"], raw[trajectory.uuid]["trajectory"]["blob_uuid"]]
    )


def test_launch_stages_each_batch_job_and_reads_its_outputs_back(campaign, no_database, fake_slurm):
    """``li-campaign launch`` with a staged worker file: the scripts run the worker ``--staged``, each
    batch job (run here with bash, as a node would) opens no database, and each round reads the
    finished jobs back, the dynamic flow's new jobs included."""
    first = fan(2)
    last = add(first.output, 100)
    submit_flow(campaign, Flow([first, last]), "staged-queue")
    worker = FWorker(name="cluster-staged", env={"staged": True})
    qadapter = CommonAdapter(q_type="SLURM", queue="cpu", nodes=1, ntasks=1, walltime="01:00:00", job_name="li",
                             pre_rocket=None, post_rocket=None)
    rounds = []
    for _ in range(8):
        summary = launch_to_queue(campaign, worker, qadapter, max_queued=5, once=True, log=rounds.append)
        if summary.reason_stopped == "no job left for this worker":
            break
        for job_id in fake_slurm["alive"]:  # started, as FireWorks' rocket marks it: the next round reads it as RUNNING
            offline = Path(fake_slurm["scripts"][job_id]).with_name("FW_offline.json")
            offline.write_text(json.dumps({**json.loads(offline.read_text()), "started_on": "2026-12-04T00:00:00+00:00"}))
        launch_to_queue(campaign, worker, qadapter, max_queued=5, once=True, log=rounds.append)
        for job_id in sorted(fake_slurm["alive"]):
            script = fake_slurm["scripts"][job_id]
            assert " --staged " in Path(script).read_text()
            batch = subprocess.run(["bash", script], cwd=Path(script).parent, capture_output=True, text=True, timeout=300)
            assert batch.returncode == 0, batch.stdout + batch.stderr
            fake_slurm["alive"].discard(job_id)
    assert summary.reason_stopped == "no job left for this worker", rounds
    assert summary.not_staged == []
    fws, launches = assert_every_job_once(campaign)
    assert len(fws) == 6  # fan, its 2 adds, total and jobflow's store_inputs; last
    assert_no_database_opened(no_database, launches)
    assert job_store(campaign).get_output(last.uuid) == 1 + 2 + 100


def test_node_jobs_cannot_be_staged(campaign):
    worker = FWorker(name="cluster-gpu", category="gpu", env={"staged": True})
    qadapter = load_qadapter(REPO / "launchers" / "qadapter_slurm_gpu_node.yaml")
    with pytest.raises(InputError, match="--per-node: a node job runs `li-campaign run`"):
        launch_nodes_to_queue(campaign, worker, qadapter, once=True)


def test_a_worker_file_with_a_wrong_staged_value_is_refused_naming_it(tmp_path):
    path = tmp_path / "fworker.yaml"
    path.write_text("name: x\ncategory: cpu\nquery: '{}'\nenv: {staged: 'yes'}\n")
    with pytest.raises(InputError, match=re.escape(f"{path}: env.staged must be true or false, not 'yes'")):
        load_fworker(path)
    for template in ("fworker_cpu.yaml", "fworker_gpu.yaml"):  # the templates choose, ordinary by default
        assert load_fworker(REPO / "launchers" / template).env == {"staged": False}


def test_a_worker_that_is_not_staged_is_refused_the_database(campaign, no_database):
    """The control: the audit hook really keeps an ordinary worker (which opens the JobStore) away."""
    submit_flow(campaign, Flow([add(1, 2)]), "control")
    summary = run_workers(campaign, progress=False)
    assert len(summary.fizzled) == 1
    (log,) = worker_logs(no_database)
    assert f"denied open {campaign.embedded_dir}" in log
    assert list(job_store(campaign).docs_store.query({})) == []


def test_a_job_whose_inputs_cannot_be_staged_fails_with_the_reason(campaign, no_database):
    parent = routed(2)
    orphan = add(parent.output["no_such_key"], 1)  # its input does not exist
    fine = add(2, 3)
    submit_flow(campaign, Flow([parent, orphan, fine]), "unresolvable")
    summary = run_workers(campaign, progress=False, staged=True)
    assert len(summary.fizzled) == 1 and "inputs not staged" in summary.fizzled[0]
    with open_launchpad(campaign, write=False) as lp:
        fw = lp.fireworks.find_one({"spec._tasks.job.uuid": orphan.uuid})
        launch = lp.launches.find_one({"fw_id": fw["fw_id"]})
    assert fw["state"] == "FIZZLED"
    assert "cannot stage its inputs: KeyError: 'no_such_key'" in launch["action"]["stored_data"]["_message"]
    assert job_store(campaign).get_output(fine.uuid) == 5


def test_a_job_killed_after_writing_part_of_its_outputs_is_rerun_and_stored_once(campaign, no_database, tmp_path):
    flaky = partial_then_die(str(tmp_path / "started"))
    child = add(1, 1)
    after = total([child.output, 0])
    submit_flow(campaign, Flow([flaky, child, after]), "partial")

    first = run_workers(campaign, progress=False, staged=True)
    assert len(first.fizzled) == 1 and "partial_then_die" in first.fizzled[0]  # killed: no result
    with open_launchpad(campaign, write=False) as lp:
        fw = lp.fireworks.find_one({"spec._tasks.job.uuid": flaky.uuid})
        (launch,) = lp.launches.find({"fw_id": fw["fw_id"]})
    partial = Path(launch["launch_dir"]) / STAGED_DIR / OUTPUTS_FILE
    assert '"partial"' in partial.read_text()  # the dead job's partial output is on disk ...
    assert job_store(campaign).docs_store.query_one({"uuid": flaky.uuid}) is None  # ... and not in the JobStore

    with open_launchpad(campaign) as lp:
        lp.rerun_fw(fw["fw_id"])
    second = run_workers(campaign, progress=False, staged=True)
    assert second.fizzled == []
    docs = list(job_store(campaign).docs_store.query({"uuid": flaky.uuid}))
    assert [doc["output"] for doc in docs] == ["complete"]
    assert job_store(campaign).get_output(after.uuid) == 2
    assert '"partial"' in partial.read_text()  # the first launch's folder is kept, not read


def run_staged_by_hand(campaign, fw_id: int, name: str) -> Path:
    """Reserve and stage one firework as a runner does, run its staged worker, leave it to recovery."""
    launch_dir = campaign.launches_dir / name
    launch_dir.mkdir()
    with open_launchpad(campaign) as lp, StagedOutputs(campaign) as outputs:
        fw, launch_id = lp.reserve_fw(FWorker(name=local_worker_name()), str(launch_dir), fw_id=fw_id)
        write_staged_inputs(launch_dir, fw, stage_firework(lp, outputs.store(), fw, launch_id))
        with chdir(launch_dir):
            setup_offline_job(lp, fw, launch_id)
    proc = subprocess.run(
        [sys.executable, "-m", "li_campaign.launch.worker", "--staged", str(launch_dir), "--campaign-dir", str(campaign.root)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return launch_dir


def fw_id_of(campaign, uuid: str) -> int:
    with open_launchpad(campaign, write=False) as lp:
        return lp.fireworks.find_one({"spec._tasks.job.uuid": uuid}, {"fw_id": 1})["fw_id"]


def store_state(campaign) -> tuple[list, list]:
    store = job_store(campaign)
    docs = sorted((d["uuid"], d["index"], repr(d["output"])) for d in store.docs_store.query({}))
    blobs = sorted((b["blob_uuid"], repr(b["data"])) for b in store.additional_stores[DATA_STORE].query({}))
    return docs, blobs


def test_recovering_a_staged_launch_twice_changes_nothing(campaign, no_database):
    trajectory = routed(20)
    after = total([trajectory.output["n"], 1])
    submit_flow(campaign, Flow([trajectory, after]), "twice")
    launch_dir = run_staged_by_hand(campaign, fw_id_of(campaign, trajectory.uuid), "by-hand")

    recover_campaign(campaign)  # no runner alive: read back as a stale local launch
    fws, launches = launchpad_docs(campaign)
    states = {fw["fw_id"]: fw["state"] for fw in fws}
    assert sorted(states.values()) == ["COMPLETED", "READY"]  # the child is unblocked
    once = store_state(campaign)
    assert len(once[0]) == 1 and len(once[1]) == 1  # the output and its large-data blob

    recover_campaign(campaign)
    with StagedOutputs(campaign) as outputs:
        assert outputs.insert(launch_dir, trajectory.uuid, 1) == 1  # inserting again by hand: the same keys
    assert store_state(campaign) == once
    fws_again, launches_again = launchpad_docs(campaign)
    assert {fw["fw_id"]: fw["state"] for fw in fws_again} == states
    assert len(launches_again) == len(launches)
    assert job_store(campaign).get_output(trajectory.uuid, load=True)["trajectory"][-1] == [19.0, 20.0]


def _truncate(path: Path) -> None:
    text = path.read_text()
    path.write_text(text[: len(text) // 2])


def _drop_blobs(path: Path) -> None:
    import bson.json_util

    data = bson.json_util.loads(path.read_text())
    path.write_text(bson.json_util.dumps({**data, "blobs": []}))


def _other_job(path: Path) -> None:
    import bson.json_util

    data = bson.json_util.loads(path.read_text())
    data["documents"][0]["uuid"] = "someone-else"
    path.write_text(bson.json_util.dumps(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_truncate, "staged outputs file unreadable"),
        (_drop_blobs, "referenced but not in the file"),
        (_other_job, "no output of job"),
        (Path.unlink, "staged outputs file missing"),
    ],
)
def test_corrupt_staged_outputs_fail_that_job_only_naming_the_file(campaign, no_database, damage, message):
    done = add(40, 2)
    submit_flow(campaign, Flow([done]), "stored-before")
    assert run_workers(campaign, progress=False, staged=True).fizzled == []
    trajectory = routed(20)
    after = total([trajectory.output["n"], 1])
    other = add(1, 1)
    submit_flow(campaign, Flow([trajectory, after, other]), "corrupt")
    launch_dir = run_staged_by_hand(campaign, fw_id_of(campaign, trajectory.uuid), "by-hand")
    outputs_file = launch_dir / STAGED_DIR / OUTPUTS_FILE
    before = store_state(campaign)
    damage(outputs_file)

    recover_campaign(campaign)

    with open_launchpad(campaign, write=False) as lp:
        fw = lp.fireworks.find_one({"spec._tasks.job.uuid": trajectory.uuid})
        launch = lp.launches.find_one({"fw_id": fw["fw_id"]})
    assert fw["state"] == "FIZZLED"
    reason = launch["action"]["stored_data"]["_message"]
    assert str(outputs_file) in reason and message in reason, reason
    assert store_state(campaign) == before  # nothing of it inserted, nothing stored before lost
    summary = run_workers(campaign, progress=False, staged=True)  # the rest of the campaign goes on
    assert summary.fizzled == []
    store = job_store(campaign)
    assert store.get_output(done.uuid) == 42 and store.get_output(other.uuid) == 2
    assert store.docs_store.query_one({"uuid": after.uuid}) is None  # its parent failed
    assert (launch_dir / "FW_offline.json").is_file()  # the launch folder is left for inspection


@pytest.mark.slow
@pytest.mark.long
def test_morse_campaign_runs_staged_through_the_cli(campaign, tmp_path):
    """``li-campaign run --staged`` on the pipeline Morse campaign: labels (a pack), the fit (it reads
    its frames from the store), the fan-out (replace), every job once, no worker touches the database.

    ``long``: 546 s on 2 cores (2026-12-04); CI runs the same campaign staged on SLURM (tests/cluster)."""
    log_dir = tmp_path / "worker_audit"
    env = dict(os.environ, **no_database_env(campaign, log_dir), LI_CAMPAIGN_DIR=str(campaign.root), OMP_NUM_THREADS="1")
    exe = Path(sys.executable).with_name("li-campaign")
    for args in (["submit", str(REPO / "tests" / "data" / "pipeline_morse.yaml")], ["run", "--staged", "-n", "2", "--no-progress"]):
        proc = subprocess.run([str(exe), *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=1800, check=False)
        assert proc.returncode == 0, (args, proc.stdout[-3000:], proc.stderr[-3000:])
    fws, launches = assert_every_job_once(campaign)
    assert_no_database_opened(log_dir, launches)
    names = " | ".join(fw["name"] for fw in fws)
    assert "fit nequip" in names and "dft label" in names, names
    store = job_store(campaign)
    docs = list(store.query({}, load=True))  # every large-data reference resolves
    assert len(docs) == len(fws)
    assert list(campaign.models_dir.glob("*")), "the staged fit deployed its model into the campaign"
