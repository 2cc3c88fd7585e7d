"""Fixtures of the launch tests (runner, workers, queue, staging)."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter

from li_campaign.launch.queue import QueueSnapshot


@pytest.fixture
def fake_slurm(monkeypatch):
    """Submission records each script and returns ids 101, 102, ...; ``alive`` is what squeue lists."""
    state = {"scripts": {}, "alive": set()}

    def submit_to_queue(self, script_file):
        job_id = str(101 + len(state["scripts"]))
        state["scripts"][job_id] = os.path.abspath(script_file)
        state["alive"].add(job_id)
        return job_id

    monkeypatch.setattr(CommonAdapter, "submit_to_queue", submit_to_queue)
    monkeypatch.setattr(
        QueueSnapshot, "take", classmethod(lambda cls, q_type: cls(frozenset(state["alive"]), datetime.now(timezone.utc)))
    )
    return state
