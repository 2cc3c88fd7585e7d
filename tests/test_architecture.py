"""The import contracts of pyproject.toml ([tool.importlinter]): no cycles, and the layers hold.

``lint-imports`` (import-linter, on grimp) builds the import graph of ``li_campaign``,
function-local and TYPE_CHECKING imports included, and checks two contracts: no import cycle
between sibling packages or modules at any depth, and the layer order (each layer imports only
the layers below it). Its report names every import that breaks a contract.

A function-local import is there only to defer a heavy import (torch, pymatgen, fireworks, ...)
and says why in a comment; every other import belongs at the top of its module.
"""

from __future__ import annotations

import ast
import io
import os
import subprocess
import sys
import tokenize
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


def _uncommented_local_imports(path: Path) -> list[str]:
    """``path:line: import`` for each import inside a function with no comment saying why it is there.

    The comment is on the import's own line(s) or on the line above; one comment line above a
    group of consecutive imports (blank lines between them allowed) covers the whole group.
    """
    source = path.read_text()
    lines = source.splitlines()
    commented = {tok.start[0] for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}
    imports = [
        node
        for function in ast.walk(ast.parse(source))
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(function)
        if isinstance(node, (ast.Import, ast.ImportFrom))
    ]
    import_lines = {line for node in imports for line in range(node.lineno, node.end_lineno + 1)}
    missing = []
    for node in imports:
        if commented & set(range(node.lineno, node.end_lineno + 1)):
            continue
        line = node.lineno - 1
        while line in import_lines or (line > 0 and not lines[line - 1].strip()):
            line -= 1
        if line < 1 or not lines[line - 1].lstrip().startswith("#"):
            missing.append(f"{path}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return missing


def test_function_local_imports_say_why():
    # a function-local import defers a heavy import (or breaks a cycle) and says so; the rest belong at the top
    package = Path(li_campaign.__file__).resolve().parent
    missing = [entry for path in sorted(package.rglob("*.py")) for entry in _uncommented_local_imports(path)]
    assert not missing, "function-local imports without a comment saying why (move them to the top, or say why not):\n" + "\n".join(missing)
