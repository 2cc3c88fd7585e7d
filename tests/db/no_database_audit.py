"""Helpers of the staged-worker tests: hide the database from worker processes and check what they did.

Worker processes started with :func:`no_database_env` load ``tests/db/no_database/sitecustomize.py``,
whose audit hook refuses them every open under the campaign's ``db/`` folder, every sqlite and
every socket connection, and logs the files they open in the campaign.
"""

from __future__ import annotations

import os
from pathlib import Path

from li_campaign.db.launchpad import open_launchpad
from li_campaign.launch.staging import INPUTS_FILE, STAGED_DIR, launch_is_staged

REPO = Path(__file__).resolve().parents[2]
NO_DATABASE_SITE = Path(__file__).with_name("no_database")


def no_database_env(campaign, log_dir: Path) -> dict[str, str]:
    """Variables that hide ``campaign``'s database from worker processes and log what they open."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join(filter(None, [str(NO_DATABASE_SITE), str(REPO), os.environ.get("PYTHONPATH")]))
    return {
        "PYTHONPATH": path,
        "LI_CAMPAIGN_TEST_NO_DATABASE": str(log_dir),
        "LI_CAMPAIGN_TEST_HIDDEN": str(campaign.embedded_dir),
        "LI_CAMPAIGN_TEST_WATCH": str(campaign.root),
    }


def worker_logs(log_dir: Path, children: bool = False) -> list[str]:
    """The audit logs of the worker processes (one per process); with ``children``, also of the processes they started."""
    logs = [path.read_text() for path in sorted(log_dir.glob("worker-*.log"))]
    return logs if children else [log for log in logs if " li_campaign.launch.worker " in log.split("\n", 1)[0]]


def job_store(campaign):
    """The campaign's JobStore, connected."""
    store = campaign.job_store()
    store.connect()
    return store


def launchpad_docs(campaign) -> tuple[list[dict], list[dict]]:
    """Every firework and every launch of the campaign."""
    with open_launchpad(campaign, write=False) as lp:
        return list(lp.fireworks.find({})), list(lp.launches.find({}))


def job_key(fw: dict) -> tuple[str, int]:
    """(uuid, index) of the jobflow job a firework runs."""
    job = fw["spec"]["_tasks"][0]["job"]
    return job["uuid"], job["index"]


def assert_every_job_once(campaign) -> tuple[list[dict], list[dict]]:
    """Every firework COMPLETED in one launch, and its output stored exactly once; return fireworks, launches."""
    fws, launches = launchpad_docs(campaign)
    assert {fw["state"] for fw in fws} == {"COMPLETED"}, [(fw["name"], fw["state"]) for fw in fws]
    assert sorted(len(fw["launches"]) for fw in fws) == [1] * len(fws)
    assert len(launches) == len(fws)
    docs = list(job_store(campaign).docs_store.query({}, properties=["uuid", "index"]))
    keys = [(doc["uuid"], doc["index"]) for doc in docs]
    assert len(keys) == len(set(keys)) == len(fws)
    assert set(keys) == {job_key(fw) for fw in fws}
    return fws, launches


def assert_no_database_opened(log_dir: Path, launches: list[dict]) -> None:
    """One audit log per launch, each staged launch's inputs opened by exactly one, nothing refused to any."""
    logs = worker_logs(log_dir)
    assert len(logs) == len(launches), logs
    denied = [line for log in worker_logs(log_dir, children=True) for line in log.splitlines() if line.startswith("denied")]
    assert denied == []
    for launch in launches:
        assert launch_is_staged(launch), launch["launch_dir"]
        inputs = Path(launch["launch_dir"]) / STAGED_DIR / INPUTS_FILE
        assert sum(f"open {inputs}\n" in log for log in logs) == 1, inputs
