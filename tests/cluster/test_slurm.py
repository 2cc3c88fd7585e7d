"""``li-campaign launch`` on a real SLURM: every job exactly once, kills recovered.

The queue adapters and workers are the templates in ``launchers/``, edited the way a user
edits them (partition, no account, one core per job).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from li_campaign.db.config import Campaign

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "tests" / "data" / "pipeline_morse.yaml"

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def li(env, *args, check=True, timeout=900):
    """Run the installed `li-campaign` executable."""
    exe = Path(sys.executable).with_name("li-campaign")
    proc = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, cwd=REPO, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"li-campaign {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def user_launchers(tmp_path: Path, kind: str, staged: bool = False) -> tuple[Path, Path]:
    """Copy launchers/{fworker,qadapter}_*_{kind} and edit them for the one-node test cluster (and staged jobs)."""
    fworker = yaml.safe_load((REPO / "launchers" / f"fworker_{kind}.yaml").read_text())
    fworker["name"] = f"test-{kind}"
    fworker["env"]["staged"] = staged
    qadapter = yaml.safe_load((REPO / "launchers" / f"qadapter_slurm_{kind}.yaml").read_text())
    for key in ("account", "ntasks_per_node", "gpus_per_task", "mem"):
        qadapter.pop(key, None)
    qadapter.update(queue="debug", nodes=1, ntasks=1, cpus_per_task=1, walltime="00:30:00",
                    pre_rocket="export OMP_NUM_THREADS=1")
    paths = tmp_path / f"fworker_{kind}.yaml", tmp_path / f"qadapter_{kind}.yaml"
    paths[0].write_text(yaml.safe_dump(fworker))
    paths[1].write_text(yaml.safe_dump(qadapter))
    return paths


def start_launcher(env, tmp_path, kind, *extra, staged=False):
    fworker, qadapter = user_launchers(tmp_path, kind, staged)
    exe = Path(sys.executable).with_name("li-campaign")
    log = open(tmp_path / f"launch_{kind}.log", "w")  # noqa: SIM115 - closed by the test
    cmd = [str(exe), "launch", "--fworker", str(fworker), "--qadapter", str(qadapter), "--sleep", "1",
           "--max-queued", "2", *extra]
    return subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT), log


def launchpad_docs(root: Path):
    from li_campaign.db.launchpad import open_launchpad

    with open_launchpad(Campaign(root), write=False) as lp:
        return list(lp.fireworks.find({})), list(lp.launches.find({}))


def job_outputs(root: Path) -> list[dict]:
    store = Campaign(root).job_store()
    store.connect()
    try:
        return list(store.query({}, properties=["uuid", "index", "name"]))
    finally:
        store.close()


@pytest.fixture
def slurm_env(slurm, tmp_path, campaign):
    """Environment for the CLI: the test SLURM, the test campaign, one thread per job."""
    import os

    return dict(os.environ, **slurm, LI_CAMPAIGN_DIR=str(campaign.root), OMP_NUM_THREADS="1")


def test_campaign_runs_on_slurm_every_job_once(slurm_env, campaign, tmp_path):
    from li_campaign.launch.queue import reservation_id

    li(slurm_env, "submit", str(SPEC))
    launchers = [start_launcher(slurm_env, tmp_path, kind, "--timeout", "1500") for kind in ("cpu", "gpu")]
    for proc, log in launchers:
        proc.wait(timeout=1800)
        log.close()
    logs = {kind: (tmp_path / f"launch_{kind}.log").read_text() for kind in ("cpu", "gpu")}
    fws, launches = launchpad_docs(campaign.root)
    states = {fw["state"] for fw in fws}
    assert states == {"COMPLETED"}, (states, logs, li(slurm_env, "status").stdout)
    # every job ran exactly once, on a worker of its category, through the batch queue
    assert sorted(len(fw["launches"]) for fw in fws) == [1] * len(fws)
    assert len(launches) == len(fws)
    by_fw = {launch["fw_id"]: launch for launch in launches}
    for fw in fws:
        launch = by_fw[fw["fw_id"]]
        assert launch["fworker"]["name"] == f"test-{fw['spec']['_category']}", fw["name"]
        assert reservation_id(launch), fw["name"]
    categories = {fw["spec"]["_category"] for fw in fws}
    assert categories == {"cpu", "gpu"}
    assert any(fw["name"].startswith("dft label") and fw["spec"]["_category"] == "cpu" for fw in fws)
    # every result is in the JobStore, once
    outputs = job_outputs(campaign.root)
    keys = [(doc["uuid"], doc["index"]) for doc in outputs]
    assert len(keys) == len(set(keys)) == len(fws)
    assert {job_uuid(fw) for fw in fws} == {doc["uuid"] for doc in outputs}
    for proc, _ in launchers:
        assert proc.returncode == 0, logs


def test_campaign_runs_staged_on_slurm_without_the_database(slurm_env, campaign, tmp_path):
    """Staged workers (``env: {staged: true}``): no batch job opens a database file or connection.

    Every batch job runs with the campaign's ``db/`` folder, sqlite and sockets refused and its
    opens logged (tests/db/no_database); the launchers on the login node use the database as usual.
    """
    from li_campaign.launch.queue import reservation_id
    from tests.db.no_database_audit import assert_every_job_once, assert_no_database_opened, no_database_env

    env = dict(slurm_env, **no_database_env(campaign, tmp_path / "batch_audit"))
    li(env, "submit", str(SPEC))
    launchers = [start_launcher(env, tmp_path, kind, "--timeout", "1500", staged=True) for kind in ("cpu", "gpu")]
    for proc, log in launchers:
        proc.wait(timeout=1800)
        log.close()
    logs = {kind: (tmp_path / f"launch_{kind}.log").read_text() for kind in ("cpu", "gpu")}
    for proc, _ in launchers:
        assert proc.returncode == 0, logs
    fws, launches = assert_every_job_once(campaign)
    assert all(reservation_id(launch) for launch in launches)  # every job ran as a batch job
    assert {fw["spec"]["_category"] for fw in fws} == {"cpu", "gpu"}
    assert_no_database_opened(tmp_path / "batch_audit", launches)
    assert "--staged" in next(campaign.launches_dir.glob("*/FW_submit.script")).read_text()
    store = Campaign(campaign.root).job_store()
    store.connect()
    assert len(list(store.query({}, load=True))) == len(fws)  # every output, large data loaded
    store.close()


@pytest.mark.faults
@pytest.mark.parametrize("staged", [False, True], ids=["ordinary", "staged"])
def test_killed_batch_job_is_reported_and_recovered(slurm_env, campaign, tmp_path, staged):
    """A batch job killed mid-run is LOST, rerun by `recover`, and every output is stored once (staged: the
    rerun's outputs, never the killed launch's folder)."""
    from jobflow import Flow

    from li_campaign.launch.submit import submit_flow
    from li_campaign.execution.resources import CPU, run_on
    from tests.cluster.jobs import child, slow_first_time

    marker = tmp_path / "started"
    first = slow_first_time(str(marker))
    second = child(first.output)
    submit_flow(campaign, run_on(Flow([first, second]), CPU), "kill-test")

    proc, log = start_launcher(slurm_env, tmp_path, "cpu", "--once", staged=staged)
    proc.wait(timeout=120)
    log.close()
    for _ in range(600):
        if marker.exists():
            break
        time.sleep(0.1)
    assert marker.exists(), (tmp_path / "launch_cpu.log").read_text()
    from li_campaign.launch.queue import reservation_id

    job_id = reservation_id(launchpad_docs(campaign.root)[1][0])
    subprocess.run(["scancel", "--signal=KILL", "--full", str(job_id)], env=slurm_env, check=True)
    for _ in range(300):
        if not subprocess.run(["squeue", "-h", "-j", str(job_id)], env=slurm_env, capture_output=True, text=True).stdout.strip():
            break
        time.sleep(0.1)

    status = json.loads(li(slurm_env, "status", "--json").stdout)
    assert [item["fw_id"] for item in status["lost"]] == [first_fw_id(campaign.root, first.uuid)]
    assert f"batch job {job_id} ended without a result" in status["lost"][0]["reason"]
    assert job_outputs(campaign.root) == []

    recovered = li(slurm_env, "recover")
    assert "1 lost jobs set to run again" in recovered.stdout
    assert json.loads(li(slurm_env, "status", "--json").stdout)["lost"] == []

    proc, log = start_launcher(slurm_env, tmp_path, "cpu", "--timeout", "300", staged=staged)
    proc.wait(timeout=400)
    log.close()
    fws, launches = launchpad_docs(campaign.root)
    assert {fw["state"] for fw in fws} == {"COMPLETED"}, (tmp_path / "launch_cpu.log").read_text()
    first_fw = next(fw for fw in fws if job_uuid(fw) == first.uuid)
    assert [launch["state"] for launch in sorted(launches, key=lambda x: x["launch_id"])
            if launch["fw_id"] == first_fw["fw_id"]] == ["FIZZLED", "COMPLETED"]
    outputs = job_outputs(campaign.root)
    assert sorted(doc["uuid"] for doc in outputs) == sorted([first.uuid, second.uuid])  # each once
    store = Campaign(campaign.root).job_store()
    store.connect()
    assert store.get_output(second.uuid) == "second run, then the child"
    store.close()


def job_uuid(fw: dict) -> str:
    """The uuid of the jobflow job a firework runs."""
    return fw["spec"]["_tasks"][0]["job"]["uuid"]


def first_fw_id(root: Path, uuid: str) -> int:
    fws, _ = launchpad_docs(root)
    return next(fw["fw_id"] for fw in fws if job_uuid(fw) == uuid)
