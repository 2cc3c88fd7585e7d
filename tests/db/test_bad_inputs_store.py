"""Bad campaign state: a damaged montydb JobStore file, a damaged campaign.yaml, a read-only campaign.

Every case is refused with a message naming the file (and field), before anything is written:
every file of the campaign keeps its bytes and the stored documents their counts.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jobflow import Flow

from li_campaign.core.errors import DatabaseError, InputError
from li_campaign.db.config import CAMPAIGN_CONFIG, Campaign, DbConfig
from li_campaign.db.launchpad import open_launchpad
from li_campaign.launch.submit import submit_flow
from tests.db.jobs_for_tests import add

pytestmark = pytest.mark.faults

CLI = str(Path(sys.executable).with_name("li-campaign"))
WRITING_COMMANDS = (["init"], ["submit", "SPEC"], ["run", "--no-progress"], ["build"])
READING_COMMANDS = (["status"], ["report", "--json"])


def _store_some_data(campaign: Campaign) -> None:
    """A submitted workflow (LaunchPad), a job output (JobStore) and a training frame (derived store)."""
    submit_flow(campaign, Flow([add(1, 2)]), "stored")
    outputs = campaign.job_store()
    outputs.connect()
    outputs.update({"uuid": "job-1", "index": 1, "name": "add", "output": 3})
    frames = campaign.derived_store("training_frames")
    frames.connect()
    frames.update([{"frame_id": "frame-1", "energy_eV": -1.9}])


def _counts(campaign: Campaign) -> tuple[int, int]:
    """Fireworks on the LaunchPad and training frames in the derived store."""
    with open_launchpad(campaign, write=False) as lp:
        fireworks = lp.fireworks.count_documents({})
    frames = campaign.derived_store("training_frames")
    frames.connect()
    return fireworks, frames.count()


def _files(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, by relative path."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


def _argv(args: list[str], spec: Path) -> list[str]:
    return [CLI, *(str(spec) if arg == "SPEC" else arg for arg in args)]


def _run_all(argvs: list[list[str]], env: dict) -> list[tuple[int, str, str]]:
    """Run the commands side by side (none of them writes); return (exit code, stdout, stderr) of each."""
    procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for argv in argvs]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    return [(proc.returncode, out, err) for proc, (out, err) in zip(procs, outputs)]


def _errors(results: list[tuple[int, str, str]]) -> list[tuple[int, str]]:
    return [(code, stderr) for code, _, stderr in results]


@pytest.fixture
def spec(tmp_path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text("name: probe\n")
    return path


# ---------------------------------------------------------------- 1. damaged montydb collection file
def _outputs_file(campaign: Campaign) -> Path:
    return campaign.montydb_dir / "li_campaign" / "outputs.collection"


MALFORMED = r"sqlite: database disk image is malformed"
TRUNCATED = r"truncated: \d+ bytes is not a whole number of 4096-byte pages"
DAMAGE = {  # how the file is damaged -> the reason in the message
    "overwritten": (lambda data: bytes(range(256)) * (len(data) // 256), r"not an SQLite database: no SQLite header"),
    "cut mid-page": (lambda data: data[: len(data) // 2 + 100], TRUNCATED),
    "cut at a page": (lambda data: data[:4096], MALFORMED),
    "pages after the first overwritten": (lambda data: data[:4096] + b"\xa5" * (len(data) - 4096), MALFORMED),
    "emptied": (lambda data: b"", r"empty file"),
}


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_store_file_is_refused_by_name_and_left_as_is(campaign, how):
    _store_some_data(campaign)
    path = _outputs_file(campaign)
    damage, reason = DAMAGE[how]
    path.write_bytes(damage(path.read_bytes()))
    before = _files(campaign.root)
    message = rf"{re.escape(str(path))}: damaged embedded database file \({reason}\); it was left as it is"
    with pytest.raises(DatabaseError, match=message):
        Campaign(campaign.root)
    with pytest.raises(DatabaseError, match=message):
        Campaign.create(campaign.root, DbConfig())  # `li-campaign init` again
    assert _files(campaign.root) == before
    assert _counts(campaign) == (1, 1)


def test_every_command_refuses_a_damaged_store_file(campaign, cli_env, spec):
    _store_some_data(campaign)
    path = _outputs_file(campaign)
    path.write_bytes(b"\x00garbage" * 2048)  # e.g. a disk error or a copy over the file
    before = _files(campaign.root)
    commands = (*WRITING_COMMANDS, *READING_COMMANDS)
    expected = (
        f"error: {path}: damaged embedded database file (not an SQLite database: no SQLite header); "
        "it was left as it is. Restore it from a backup; li-campaign does not open a damaged file\n"
    )
    assert _errors(_run_all([_argv(args, spec) for args in commands], cli_env)) == [(2, expected)] * len(commands)
    assert _files(campaign.root) == before
    assert _counts(campaign) == (1, 1)


# ---------------------------------------------------------------------- 2. damaged campaign.yaml
INVALID = "invalid database config: "
CONFIGS = {  # campaign.yaml -> the message after "<file>: "
    "invalid YAML": (b"mode: [embedded\n", r"not valid YAML: while parsing a flow sequence\n.*line 1, column 7"),
    "wrong type": (b"mode: embedded\nretry_attempts: many\n", INVALID + "retry_attempts: Input should be a valid integer"),
    "wrong value": (b"mode: sqlite\n", INVALID + "mode: Input should be 'embedded' or 'mongodb'"),
    "unknown field": (b"mode: embedded\nretry_atempts: 3\n", INVALID + "retry_atempts: Extra inputs are not permitted"),
    "not a mapping": (b"- embedded\n", INVALID + "Input should be a valid dictionary"),
    "empty": (b"", r"empty database config \(not even `mode`\)"),
    "only a comment": (b"# mode: embedded\n", r"empty database config \(not even `mode`\)"),
    "latin-1": (
        b"mode: embedded\n# r\xe9glages\n",
        r"database config is not UTF-8 text: byte 0xe9 at offset 18 \(line 2, column 4\)",
    ),
}


@pytest.mark.parametrize("how", CONFIGS)
def test_damaged_campaign_config_is_refused_by_file_and_field(campaign, how):
    _store_some_data(campaign)
    cfg = campaign.root / CAMPAIGN_CONFIG
    text, message = CONFIGS[how]
    cfg.write_bytes(text)
    before = _files(campaign.root)
    with pytest.raises(InputError, match=rf"{re.escape(str(cfg))}: {message}"):
        Campaign(campaign.root)
    with pytest.raises(InputError, match=rf"{re.escape(str(cfg))}: {message}"):
        Campaign.create(campaign.root, DbConfig())  # `li-campaign init` does not rewrite it
    assert _files(campaign.root) == before
    assert _counts(campaign) == (1, 1)


def test_every_command_refuses_a_damaged_campaign_config(campaign, cli_env, spec):
    _store_some_data(campaign)
    cfg = campaign.root / CAMPAIGN_CONFIG
    cfg.write_text(cfg.read_text().replace("retry_attempts: 5", "retry_attempts: many"))
    before = _files(campaign.root)
    commands = (*WRITING_COMMANDS, *READING_COMMANDS)
    expected = (
        f"error: {cfg}: invalid database config: retry_attempts: Input should be a valid integer, "
        "unable to parse string as an integer\n"
    )
    assert _errors(_run_all([_argv(args, spec) for args in commands], cli_env)) == [(2, expected)] * len(commands)
    assert _files(campaign.root) == before
    assert _counts(campaign) == (1, 1)


# ------------------------------------------------------------------------ 5. read-only campaign
_READ_ONLY_BIND = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'


def _read_only(target: Path, argvs: list[list[str]], env: dict) -> list[tuple[int, str, str]]:
    """Run the commands while ``target`` and everything under it cannot be written, for real.

    A normal user gets ``chmod a-w`` (restored afterwards). Root, whom permissions do not
    stop, runs each command in a private mount namespace where ``target`` is bind-mounted
    read-only: its writes fail with EROFS, as on a read-only file system, and no other
    process sees the mount.

    Returns
    -------
    list
        (exit code, stdout, stderr) of each command.
    """
    if os.geteuid() != 0:
        modes = {path: path.stat().st_mode for path in [target, *target.rglob("*")]}
        for path, mode in modes.items():
            path.chmod(mode & ~0o222)
        try:
            return _run_all(argvs, env)
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
    unshare = ["unshare", "--mount", "--propagation", "private", "sh", "-c", _READ_ONLY_BIND, "sh", str(target)]
    return _run_all([[*unshare, *argv] for argv in argvs], env)


@pytest.fixture
def read_only_works(tmp_path):
    """Skip where no honest read-only view can be made (root without mount namespaces)."""
    folder = tmp_path / "probe"
    folder.mkdir()
    if os.geteuid() == 0:
        if shutil.which("unshare") is None:
            pytest.skip("running as root without unshare(1): cannot make a folder read-only for root")
        ((code, _, stderr),) = _read_only(folder, [["true"]], dict(os.environ))
        if code != 0:
            pytest.skip(f"running as root and cannot bind-mount read-only: {stderr.strip()}")
    ((code, _, stderr),) = _read_only(folder, [["touch", str(folder / "x")]], dict(os.environ))
    assert code != 0 and not (folder / "x").exists(), stderr  # the view really is read-only


@pytest.mark.parametrize("read_only", ["campaign directory", "db folder"])
def test_read_only_campaign_refuses_writing_commands_up_front(campaign, cli_env, spec, read_only_works, read_only):
    _store_some_data(campaign)
    target = campaign.root if read_only == "campaign directory" else campaign.embedded_dir
    before = _files(campaign.root)
    results = _read_only(target, [_argv(args, spec) for args in WRITING_COMMANDS], cli_env)
    assert _errors(results) == [
        (2, f"error: {target}: not writable (read-only file system or no write permission); "
            f"`li-campaign {args[0]}` writes there. Nothing was changed\n")
        for args in WRITING_COMMANDS
    ]
    assert _files(campaign.root) == before
    assert _counts(campaign) == (1, 1)


def test_read_only_campaign_status_works_and_report_names_the_folder(campaign, cli_env, read_only_works):
    _store_some_data(campaign)
    before = _files(campaign.root)
    (status_code, status_out, status_err), (report_code, _, report_err) = _read_only(
        campaign.root, [[CLI, "status", "--json"], [CLI, "report", "--json"]], cli_env
    )
    assert status_code == 0, status_err
    status = json.loads(status_out)
    assert status["n_fireworks"] == 1 and status["states"] == {"READY": 1}
    database = campaign.montydb_dir / "li_campaign"
    assert status["failed_calculations_error"].startswith(f"{database}: read-only folder; the embedded database")
    assert report_code == 2
    assert report_err.startswith(f"error: {database}: read-only folder;") and "Copy the campaign directory" in report_err
    assert _files(campaign.root) == before
