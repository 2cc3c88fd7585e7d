"""The embedded LaunchPad and the local runner, with real FireWorks and real stores."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from jobflow import Flow

from li_campaign.core.errors import DatabaseError, InputError
from li_campaign.db.launchpad import open_launchpad
from li_campaign.launch.runner import run_workers
from li_campaign.launch.status import campaign_status
from li_campaign.launch.submit import submit_flow
from tests.db.jobs_for_tests import add, die, fail, fan, threads


def _outputs(campaign):
    store = campaign.job_store()
    store.connect()
    return store


def test_dynamic_flow_runs_with_two_workers(campaign):
    first = fan(4)
    last = add(first.output, 100)
    submit_flow(campaign, Flow([first, last]), "hash-a")
    summary = run_workers(campaign, n_workers=2, progress=False)
    assert summary.fizzled == []
    assert summary.states == {"COMPLETED": 8}  # fan + 4 adds + total (replacement) + last
    store = _outputs(campaign)
    assert store.get_output(last.uuid) == 1 + 2 + 3 + 4 + 100
    # every firework ran exactly once
    with open_launchpad(campaign, write=False) as lp:
        assert lp.launches.count_documents({}) == 8


def test_a_launch_that_runs_alone_gets_every_core(campaign, monkeypatch):
    """Two ready jobs run one thread each; a job that can only start once they end (and nothing else
    runs or is ready, like the fit after the labels) gets both workers' cores."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # the runner's own setting caps the grant
    a, b = threads(), threads()
    lone = threads(a.output, b.output)
    submit_flow(campaign, Flow([a, b, lone]), "hash-threads")
    summary = run_workers(campaign, n_workers=2, progress=False, poll_s=0.05)
    assert summary.fizzled == []
    store = _outputs(campaign)
    assert sorted([store.get_output(a.uuid), store.get_output(b.uuid)]) == ["1", "1"]
    assert store.get_output(lone.uuid) == "2"
    logs = sorted(p.read_text() for p in (campaign.root / "launches").glob("*/worker.log"))
    assert sum("OMP_NUM_THREADS=2" in log for log in logs) == 1
    assert sum("OMP_NUM_THREADS=1" in log for log in logs) == 2


def test_the_runners_own_thread_setting_caps_a_lone_launch():
    from li_campaign.launch.runner import lone_launch_threads

    assert lone_launch_threads(2, 0) == 2 and lone_launch_threads(2, 1) == 1
    assert lone_launch_threads(2, 0, "1") == 1  # `make test`: the cores are shared, no grant
    assert lone_launch_threads(4, 0, "2") == 2 and lone_launch_threads(2, 0, "8") == 2
    assert lone_launch_threads(2, 0, "") == 2


def test_state_survives_in_a_new_process(campaign):
    submit_flow(campaign, Flow([add(1, 2)]), "hash-b")
    run_workers(campaign, progress=False)
    code = (
        "from li_campaign.db.config import Campaign;from li_campaign.launch.status import campaign_status;"
        f"import json;print(json.dumps(campaign_status(Campaign({str(campaign.root)!r}))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["states"] == {"COMPLETED": 1}


def test_same_spec_twice_is_refused_and_nothing_added(campaign):
    submit_flow(campaign, Flow([add(1, 2)]), "hash-c")
    with pytest.raises(InputError, match="already submitted"):
        submit_flow(campaign, Flow([add(1, 2)]), "hash-c")
    assert campaign_status(campaign)["n_fireworks"] == 1


def test_failed_job_is_reported_and_children_wait(campaign):
    bad = fail("SCF did not converge")
    child = add(bad.output, 1)
    submit_flow(campaign, Flow([bad, child]), "hash-d")
    summary = run_workers(campaign, progress=False)
    assert len(summary.fizzled) == 1
    status = campaign_status(campaign)
    assert status["states"] == {"FIZZLED": 1, "WAITING": 1}
    assert "SCF did not converge" in status["failed"][0]["reason"]


@pytest.mark.faults
def test_killed_worker_fizzles_with_a_reason_and_keeps_other_results(campaign):
    ok = add(2, 3)
    submit_flow(campaign, Flow([ok, die()]), "hash-e")
    summary = run_workers(campaign, n_workers=2, progress=False)
    assert summary.states == {"COMPLETED": 1, "FIZZLED": 1}
    reason = campaign_status(campaign)["failed"][0]["reason"]
    assert "exited with code -9" in reason
    assert _outputs(campaign).get_output(ok.uuid) == 5


def test_exception_inside_launchpad_block_writes_nothing(campaign):
    before = campaign.fireworks_db_file.read_text()
    with pytest.raises(RuntimeError, match="^boom$"):
        with open_launchpad(campaign) as lp:
            lp.fireworks.insert_one({"fw_id": 999, "state": "READY"})
            raise RuntimeError("boom")
    assert campaign.fireworks_db_file.read_text() == before


def test_unreadable_launchpad_file_is_a_clear_error(campaign):
    campaign.fireworks_db_file.write_text("{not json")
    with pytest.raises(DatabaseError, match="cannot read the LaunchPad file"):
        with open_launchpad(campaign):
            pass
