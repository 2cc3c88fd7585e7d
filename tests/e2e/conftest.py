"""The Morse e2e campaign, run once per test session and shared by every e2e module."""

from __future__ import annotations

import json
import os

import pytest

from tests.e2e.helpers import SPEC, li


@pytest.fixture(scope="session")
def finished(tmp_path_factory) -> dict:
    """Run tests/data/e2e_morse.yaml through the real CLI (init, submit, run, build, report --json).

    Tests read its stores and report; a test that adds work to the campaign must do it in a
    copy of ``root`` (``shutil.copytree``), so that every test sees the same finished campaign.
    """
    root = tmp_path_factory.mktemp("e2e") / "campaign"
    env = dict(os.environ, LI_CAMPAIGN_DIR=str(root))
    li(env, "init")
    li(env, "submit", str(SPEC))
    run = li(env, "run", "--workers", "2", "--no-progress", check=False)
    build = li(env, "build")
    report = li(env, "report", "--json")
    return {"env": env, "root": root, "run": run, "build": build, "report": json.loads(report.stdout)}
