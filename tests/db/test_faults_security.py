"""No credential in the repository, a log line, a stored document, a launch folder or a FireWorks spec."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "tests" / "data" / "pipeline_morse.yaml"
CLI = str(Path(sys.executable).with_name("li-campaign"))
# a URI with user and password, as a literal (split here so that this file does not hold one)
CREDENTIAL_URI = re.compile("mongodb" + r"(\+srv)?://[^\s/:@'\"<>]+:[^\s/@'\"<>]+@")

pytestmark = pytest.mark.faults


def test_no_credential_shaped_uri_in_the_repository():
    files = subprocess.run(
        ["git", "grep", "--untracked", "-I", "-l", "-E", CREDENTIAL_URI.pattern], cwd=REPO, capture_output=True, text=True
    )
    assert files.returncode == 1, f"credential-shaped MongoDB URIs in: {files.stdout}"  # 1: no match


@pytest.mark.slow
@pytest.mark.long
def test_a_campaign_run_with_secrets_in_the_environment_stores_and_logs_none(tmp_path):
    password, token = secrets.token_hex(12), secrets.token_hex(12)
    root = tmp_path / "campaign"
    env = dict(
        os.environ,
        LI_CAMPAIGN_DIR=str(root),
        LI_CAMPAIGN_MONGODB_URI="mongodb://analyst" + ":" + password + "@db.example.org:27017/?authSource=admin",
        UNRELATED_SERVICE_TOKEN=token,
        OMP_NUM_THREADS="1",
    )
    logs = []
    for args in (
        ["init"],
        ["submit", str(SPEC)],
        ["run", "-n", "2", "--max-jobs", "4", "--no-progress"],  # a partial campaign: structures and labels
        ["status"],
        ["db", "check"],
        ["db", "verify"],
    ):
        proc = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode in (0, 1), proc.stdout + proc.stderr
        logs.append(proc.stdout + proc.stderr)
    launches = list((root / "launches").glob("launcher_*"))
    assert len(launches) == 4 and all((d / "FW.json").is_file() for d in launches)

    leaks = []
    for secret in (password, token):
        if any(secret in log for log in logs):
            leaks.append(f"CLI output holds {secret[:4]}…")
        for path in root.rglob("*"):  # stores (LaunchPad file, montydb sqlite), configs, launch folders, logs
            if path.is_file() and secret.encode() in path.read_bytes():
                leaks.append(str(path.relative_to(root)))
    assert leaks == []
