"""The import contracts of pyproject.toml ([tool.importlinter]): no cycles, and the layers hold.

``lint-imports`` (import-linter, on grimp) builds the import graph of ``li_campaign``,
function-local and TYPE_CHECKING imports included, and checks two contracts: no import cycle
between sibling packages or modules at any depth, and the layer order (each layer imports only
the layers below it). Its report names every import that breaks a contract.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import li_campaign

ROOT = Path(__file__).resolve().parents[1]
LINT = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports('pyproject.toml', no_cache=True, no_logo=True))"


def test_the_import_contracts_are_kept():
    # the package checked is the one these tests import (this source tree, installed or on PYTHONPATH)
    src = str(Path(li_campaign.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-c", LINT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    report = run.stdout + run.stderr
    assert run.returncode == 0, f"import contracts broken:\n{report}"
    assert "2 kept, 0 broken" in report, report
