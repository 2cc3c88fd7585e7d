"""Shared fixtures: a real embedded campaign in a temporary directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.dft.vasp_data import vasp_data  # noqa: F401  (fixture for every module marked needs_vasp_data)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def campaign(tmp_path, monkeypatch):
    """An initialised embedded campaign (FireWorks mongomock file + montydb JobStore)."""
    from li_campaign.db.config import Campaign, DbConfig
    from li_campaign.db.launchpad import initialise_launchpad

    camp = Campaign.create(tmp_path / "campaign", DbConfig())
    initialise_launchpad(camp)
    monkeypatch.setenv("LI_CAMPAIGN_DIR", str(camp.root))
    # worker processes import test jobs from `tests.*`
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return camp


@pytest.fixture
def cli_env(tmp_path):
    """Environment for running the real `li-campaign` executable in a subprocess."""
    env = dict(os.environ)
    env["LI_CAMPAIGN_DIR"] = str(tmp_path / "campaign")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env
