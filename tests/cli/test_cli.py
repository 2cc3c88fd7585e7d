"""The CLI: clear errors for bad input, db check in both modes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def li(env, *args):
    exe = Path(sys.executable).with_name("li-campaign")
    return subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, cwd=REPO)


def test_uninitialised_campaign_is_a_clear_error(cli_env):
    proc = li(cli_env, "status")
    assert proc.returncode == 2
    assert "not an initialised campaign directory" in proc.stderr and "li-campaign init" in proc.stderr


def test_bad_spec_names_the_field_and_stores_nothing(cli_env, tmp_path):
    assert li(cli_env, "init").returncode == 0
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: x\nfanout:\n  facets: ['100', '1x1']\n")
    proc = li(cli_env, "submit", str(spec))
    assert proc.returncode == 2
    assert "bad.yaml" in proc.stderr and "fanout.facets" in proc.stderr and "1x1" in proc.stderr
    status = li(cli_env, "status")
    assert "0 jobs" in status.stdout


def test_embedded_db_check(cli_env):
    li(cli_env, "init")
    proc = li(cli_env, "db", "check")
    assert proc.returncode == 0, proc.stderr
    assert "mode: embedded" in proc.stdout and "reachable: True" in proc.stdout


def test_init_twice_keeps_data(cli_env):
    li(cli_env, "init")
    again = li(cli_env, "init")
    assert again.returncode == 0 and "nothing reset" in again.stdout


def test_mongodb_mode_unreachable_is_clear_and_hides_password(cli_env, tmp_path):
    cli_env["LI_CAMPAIGN_MONGODB_URI"] = "mongodb://alice" + ":s3cret@127.0.0.1:1/?authSource=admin"
    config = tmp_path / "mongo.yaml"
    config.write_text((REPO / "db_config" / "mongodb.yaml").read_text().replace("5000", "300"))
    proc = li(cli_env, "init", "--db", str(config))
    assert proc.returncode == 2
    assert "mongodb database not reachable" in proc.stderr or "not reachable" in proc.stderr
    assert "s3cret" not in proc.stderr + proc.stdout


def test_mongodb_mode_without_uri_names_the_variable(cli_env, tmp_path):
    cli_env.pop("LI_CAMPAIGN_MONGODB_URI", None)
    proc = li(cli_env, "init", "--db", str(REPO / "db_config" / "mongodb.yaml"))
    assert proc.returncode == 2
    assert "LI_CAMPAIGN_MONGODB_URI is not set" in proc.stderr


def test_launch_with_bad_worker_files_names_the_file(cli_env, tmp_path):
    assert li(cli_env, "init").returncode == 0
    fworker = REPO / "launchers" / "fworker_cpu.yaml"
    missing = li(cli_env, "launch", "--fworker", str(tmp_path / "nope.yaml"), "--qadapter", str(fworker))
    assert missing.returncode == 2 and "nope.yaml: worker file not found" in missing.stderr
    lsf = tmp_path / "qadapter_lsf.yaml"
    lsf.write_text("_fw_name: CommonAdapter\n_fw_q_type: LoadSharingFacility\nqueue: x\n")
    unsupported = li(cli_env, "launch", "--fworker", str(fworker), "--qadapter", str(lsf))
    assert unsupported.returncode == 2
    assert "qadapter_lsf.yaml: _fw_q_type 'LoadSharingFacility' is not supported" in unsupported.stderr
    broken = tmp_path / "qadapter_broken.yaml"
    broken.write_text("_fw_name: CommonAdapter\n  queue: [\n")
    proc = li(cli_env, "launch", "--fworker", str(fworker), "--qadapter", str(broken))
    assert proc.returncode == 2 and "qadapter_broken.yaml: not a FireWorks queue adapter" in proc.stderr


def test_recover_and_status_with_nothing_lost(cli_env):
    assert li(cli_env, "init").returncode == 0
    assert "0 lost jobs set to run again" in li(cli_env, "recover").stdout
    assert "LOST" not in li(cli_env, "status").stdout
