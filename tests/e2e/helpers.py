"""Helpers of the end-to-end tests: the repository root and the real `li-campaign` executable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "tests" / "data" / "e2e_morse.yaml"
"""The e2e campaign's spec: Morse labels, a tiny NequIP, (100), (110), (111) and a small bulk stage."""


def li(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the installed `li-campaign` executable; raise with its output if it fails and ``check``."""
    exe = Path(sys.executable).with_name("li-campaign")
    proc = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, cwd=REPO)
    if check and proc.returncode != 0:
        raise AssertionError(f"li-campaign {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def outputs_of(store, doc_type: str) -> list[dict]:
    """Every stored result of ``doc_type`` in a JobStore, as a job output or inside a pack (``dft.pack_size``)."""
    from li_campaign.builders.base import job_items, outputs_query

    docs = store.query(outputs_query(doc_type), properties=["uuid", "output"])
    return [item["output"] for doc in docs for item in job_items(doc, doc_type)]


def computed_outputs(store, doc_type: str, **fields) -> list[dict]:
    """Results of ``doc_type`` that were computed (not reused), packed or not, with ``fields`` equal."""
    from li_campaign.builders.base import job_items, outputs_query

    docs = store.query(outputs_query(doc_type), properties=["uuid", "output"])
    return [
        item["output"]
        for doc in docs
        for item in job_items(doc, doc_type)
        if not item["output"]["provenance"].get("reused_from") and all(item["output"].get(k) == v for k, v in fields.items())
    ]
