"""A campaign spec that is not UTF-8 text (latin-1, UTF-16, binary) is refused naming the file and
the first bad byte's position; nothing is submitted."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from li_campaign.core.errors import InputError
from li_campaign.db.launchpad import open_launchpad
from li_campaign.schemas.spec import load_spec

pytestmark = pytest.mark.faults

CLI = str(Path(sys.executable).with_name("li-campaign"))

NOT_UTF8 = {  # spec bytes -> the message after "<file>: "
    "latin-1": (
        b"name: caf\xe9\n",
        "campaign spec is not UTF-8 text: byte 0xe9 at offset 9 (line 1, column 10): invalid continuation byte",
    ),
    "latin-1 in a comment": (
        b"name: x\nfanout:\n  facets: ['100']  # 90\xb0 steps\n",
        "campaign spec is not UTF-8 text: byte 0xb0 at offset 39 (line 3, column 24): invalid start byte",
    ),
    "UTF-16": (
        "name: x\n".encode("utf-16"),
        "campaign spec is not UTF-8 text: byte 0xff at offset 0 (line 1, column 1): invalid start byte",
    ),
    "binary": (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "campaign spec is not UTF-8 text: byte 0x89 at offset 0 (line 1, column 1): invalid start byte",
    ),
}


@pytest.mark.parametrize("how", NOT_UTF8)
def test_spec_that_is_not_utf8_is_refused_by_byte_position_and_submits_nothing(campaign, cli_env, tmp_path, how):
    data, message = NOT_UTF8[how]
    spec = tmp_path / "bad.yaml"
    spec.write_bytes(data)
    launchpad = hashlib.sha256(campaign.fireworks_db_file.read_bytes()).hexdigest()
    proc = subprocess.run([CLI, "submit", str(spec)], env=cli_env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr == f"error: {spec}: {message}; save the file as UTF-8\n"
    assert hashlib.sha256(campaign.fireworks_db_file.read_bytes()).hexdigest() == launchpad
    with open_launchpad(campaign, write=False) as lp:
        assert lp.workflows.count_documents({}) == 0
    assert spec.read_bytes() == data


def test_utf8_with_control_characters_is_refused_as_yaml_by_position(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_bytes(b"name: x\n\x00\x01binary")
    message = rf"(?s){re.escape(str(spec))}: not valid YAML: unacceptable character #x0000.*position 8"
    with pytest.raises(InputError, match=message):
        load_spec(spec)


def test_a_utf8_spec_with_non_ascii_text_is_accepted(tmp_path):
    spec = tmp_path / "ok.yaml"
    spec.write_text("name: ok  # café, 90° steps\n", encoding="utf-8")
    assert load_spec(spec).name == "ok"
