"""Shared fixtures: a real embedded campaign in a temporary directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.dft.vasp_data import vasp_data  # noqa: F401  (fixture for every module marked needs_vasp_data)

REPO = Path(__file__).resolve().parents[1]

SHARED_SCOPES = {
    "tests/cluster/": "tests/cluster",  # one SLURM cluster (and munged) per worker session: all on one worker
    "tests/e2e/test_campaign.py": "tests/e2e:finished",  # the modules that read the session's e2e campaign
    "tests/e2e/test_model_vs_teacher.py": "tests/e2e:finished",
    "tests/e2e/test_reuse_across_specs.py": "tests/e2e:finished",
    "tests/e2e/test_migrate_campaign.py": "tests/e2e:finished",
}
"""Test files that must share one pytest-xdist worker, by path prefix: the scope they run in."""

HEAVY_FIRST = ("tests/e2e/test_campaign.py", "tests/e2e/test_model_vs_teacher.py", "tests/e2e/test_reuse_across_specs.py",
               "tests/e2e/test_migrate_campaign.py", "tests/e2e/test_surfaces.py", "tests/e2e/test_allegro_campaign.py",
               "tests/cluster/")  # fmt: skip
"""Files whose campaigns take minutes (``--durations`` of ``.ci/run``), started first, longest first: with the
work handed out in collection order, a long scope started last would run alone at the end."""


def pytest_collection_modifyitems(config, items):
    """Put the :data:`HEAVY_FIRST` files first (in that order), every other test after them as collected."""

    def rank(item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return next((k for k, prefix in enumerate(HEAVY_FIRST) if path.startswith(prefix)), len(HEAVY_FIRST))

    items.sort(key=rank)  # stable: the order within each file (and of the other files) is kept


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """With ``-n N``: each test file runs whole on one worker, and the files of :data:`SHARED_SCOPES` together;
    the scopes are handed out in collection order (:func:`pytest_collection_modifyitems`: the longest first).

    Written here because xdist's ``--dist loadgroup`` does not keep ``xdist_group`` marks
    together under pytest 9 (checked: the tests of one group ran on both workers). A file's
    module-scoped fixtures then run once, as do the session fixtures that a scope shares
    (the e2e campaign of tests/e2e/conftest.py, the SLURM cluster of tests/cluster/conftest.py).
    """
    from xdist.scheduler import LoadFileScheduling

    class SharedScopeScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return next((scope for prefix, scope in SHARED_SCOPES.items() if path.startswith(prefix)), path)

    config.option.loadscopereorder = False  # hand out scopes in collection order: HEAVY_FIRST first
    return SharedScopeScheduling(config, log)


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
