"""Database outages: retried with backoff, then the job fails with a clear message; nothing half-written."""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3

import pytest
from jobflow import Flow
from maggma.stores import MemoryStore
from pymongo.errors import AutoReconnect

from li_campaign.core.errors import DatabaseError
from li_campaign.db.config import Campaign, DbConfig
from li_campaign.db.launchpad import open_launchpad
from li_campaign.db.retry import RetryPolicy, with_retries
from li_campaign.launch.runner import run_workers
from li_campaign.launch.status import campaign_status
from li_campaign.db.stores import LargeDataJobStore
from li_campaign.launch.submit import submit_flow
from tests.db.jobs_for_tests import add

pytestmark = pytest.mark.faults

SECRET = "pw-" + "0a1b2c"
URI = "mongodb://bob" + f":{SECRET}@127.0.0.1:1/?authSource=admin"  # nothing listens on port 1


def test_transient_errors_are_retried_with_doubling_delays():
    calls, waits = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise AutoReconnect("connection reset")
        return "stored"

    result = with_retries(flaky, "write", RetryPolicy(attempts=5, base_delay_s=0.5), sleep=waits.append)
    assert result == "stored" and len(calls) == 3 and waits == [0.5, 1.0]


def test_a_lasting_outage_fails_with_attempts_and_a_redacted_error():
    def down():
        raise AutoReconnect(f"{URI}: connection refused")

    waits = []
    with pytest.raises(DatabaseError, match=re.escape("JobStore write of job 'x': gave up after 3 attempt(s)")) as info:
        with_retries(down, "JobStore write of job 'x'", RetryPolicy(attempts=3, base_delay_s=2.0), sleep=waits.append)
    message = str(info.value)
    assert "JobStore write of job 'x': gave up after 3 attempt(s)" in message and "AutoReconnect" in message
    assert SECRET not in message and "//***@" in message
    assert waits == [2.0, 4.0]


def test_other_errors_are_not_retried():
    waits = []
    with pytest.raises(ValueError, match="invalid literal for int"):
        with_retries(lambda: int("x"), "parse", RetryPolicy(attempts=4), sleep=waits.append)
    assert waits == []


def test_policy_from_environment_then_config(monkeypatch):
    config = DbConfig(retry_attempts=7, retry_base_delay_s=0.25)
    assert RetryPolicy.from_env(config) == RetryPolicy(attempts=7, base_delay_s=0.25)
    monkeypatch.setenv("LI_CAMPAIGN_DB_RETRIES", "2")
    assert RetryPolicy.from_env(config) == RetryPolicy(attempts=2, base_delay_s=0.25)
    monkeypatch.setenv("LI_CAMPAIGN_DB_RETRY_DELAY_S", "soon")
    with pytest.raises(DatabaseError, match="LI_CAMPAIGN_DB_RETRY_DELAY_S"):
        RetryPolicy.from_env(config)


class FlakyStore(MemoryStore):
    """A docs store whose first ``failures`` writes hit a dropped connection."""

    failures = 1

    def update(self, docs, key=None):
        if FlakyStore.failures:
            FlakyStore.failures -= 1
            raise AutoReconnect("primary stepped down")
        super().update(docs, key=key)


def test_a_write_during_a_failover_is_stored_exactly_once():
    FlakyStore.failures = 2
    store = LargeDataJobStore(FlakyStore(), {"data": MemoryStore()}, retry=RetryPolicy(attempts=3, base_delay_s=0))
    store.connect()
    store.update({"uuid": "u1", "index": 1, "name": "add", "output": 5})
    assert store.count({"uuid": "u1"}) == 1 and store.get_output("u1") == 5


def test_unreachable_mongodb_fails_the_write_after_retries(tmp_path, monkeypatch):
    monkeypatch.setenv("LI_CAMPAIGN_MONGODB_URI", URI)
    monkeypatch.setenv("LI_CAMPAIGN_DB_RETRIES", "2")
    monkeypatch.setenv("LI_CAMPAIGN_DB_RETRY_DELAY_S", "0")
    campaign = Campaign.create(tmp_path / "c", DbConfig(mode="mongodb", server_selection_timeout_ms=100))
    store = campaign.job_store()
    store.connect()
    with pytest.raises(DatabaseError, match=re.escape("JobStore write of the output of job 'add' (u1): gave up after 2")) as info:
        store.update({"uuid": "u1", "index": 1, "name": "add", "output": 5})
    message = str(info.value)
    assert "JobStore write of the output of job 'add' (u1): gave up after 2 attempt(s)" in message
    assert "ServerSelectionTimeoutError" in message and SECRET not in message


def test_locked_jobstore_fails_the_job_clearly_and_a_rerun_stores_it_once(campaign, monkeypatch):
    monkeypatch.setenv("LI_CAMPAIGN_DB_RETRIES", "2")
    monkeypatch.setenv("LI_CAMPAIGN_DB_RETRY_DELAY_S", "0.1")
    first = add(1, 1)
    submit_flow(campaign, Flow([first]), "db-outage-1")
    assert run_workers(campaign, progress=False).completed == 1  # creates the outputs sqlite file
    collection = campaign.montydb_dir / "li_campaign" / "outputs.collection"
    holder = sqlite3.connect(collection, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the JobStore's write lock
    try:
        job = add(2, 3)
        submit_flow(campaign, Flow([job]), "db-outage-2")
        summary = run_workers(campaign, progress=False)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert summary.states == {"COMPLETED": 1, "FIZZLED": 1}
    (failed,) = campaign_status(campaign)["failed"]
    assert "gave up after 2 attempt(s)" in failed["reason"] and "database is locked" in failed["reason"]
    store = campaign.job_store()
    store.connect()
    assert store.count({"uuid": job.uuid}) == 0  # nothing half-written

    with open_launchpad(campaign) as lp:
        lp.rerun_fw(failed["fw_id"])
    assert run_workers(campaign, progress=False).states == {"COMPLETED": 2}
    assert store.count({"uuid": job.uuid}) == 1 and store.get_output(job.uuid) == 5


def test_launchpad_lock_held_too_long_is_a_clear_error(campaign, monkeypatch):
    monkeypatch.setenv("LI_CAMPAIGN_LOCK_TIMEOUT_S", "0.3")
    with open(campaign.lock_file, "a") as other:  # another open file: as another process would hold it
        fcntl.flock(other, fcntl.LOCK_EX)
        with pytest.raises(DatabaseError, match="fireworks.lock: the embedded LaunchPad is locked by another process"):
            with open_launchpad(campaign):
                pass
        fcntl.flock(other, fcntl.LOCK_UN)


def test_failed_launchpad_write_keeps_the_old_file(campaign, monkeypatch):
    monkeypatch.setenv("LI_CAMPAIGN_DB_RETRIES", "2")
    monkeypatch.setenv("LI_CAMPAIGN_DB_RETRY_DELAY_S", "0")
    submit_flow(campaign, Flow([add(1, 2)]), "disk-full")
    before = campaign.fireworks_db_file.read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch, pytest.raises(DatabaseError, match="LaunchPad: gave up after 2 .*No space left"):
        patch.setattr(os, "fsync", disk_full)
        submit_flow(campaign, Flow([add(3, 4)]), "disk-full-2")
    assert campaign.fireworks_db_file.read_bytes() == before
    assert not list(campaign.embedded_dir.glob(".fireworks.*.tmp"))
    assert campaign_status(campaign)["n_fireworks"] == 1  # the old file loads; the failed submission added nothing
