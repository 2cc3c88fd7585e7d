"""Compare two ``li-campaign report --json`` files number by number: are two campaigns' results the same?

Walks both JSON trees together and prints every numeric leaf whose values differ by more than ``--tol``
(absolute), every leaf present in one file only, and the largest difference; exits 1 if anything
differs. Fields that name a run rather than its results (``campaign_dir``, completion times, model
files and their hashes, wall times) are skipped: ``--skip`` adds more key names.

Used for "the same numbers after a refactor": ``make demo`` before and after, e.g.
``python benchmarks/compare_reports.py benchmarks/results/demo_2026-12-04_s29/report.json new/report.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator

RUN_FIELDS = frozenset(
    {"campaign_dir", "completed", "completed_at", "last_updated", "sha256", "model_sha256", "deployed_path",
     "package_path", "package_sha256", "path", "training_wall_time_s", "deploy_wall_time_s", "wall_time_s",
     "wall_s", "uuid", "code_version"}  # fmt: skip
)


def leaves(tree, path: str = "") -> Iterator[tuple[str, object]]:
    """Every leaf of a JSON tree with its path (``a.b[2].c``)."""
    if isinstance(tree, dict):
        for key in sorted(tree):
            yield from leaves(tree[key], f"{path}.{key}" if path else str(key))
    elif isinstance(tree, list):
        for i, item in enumerate(tree):
            yield from leaves(item, f"{path}[{i}]")
    else:
        yield path, tree


def differences(a, b, tol: float, skip: frozenset[str]) -> tuple[list[str], float]:
    """Lines naming each difference between trees ``a`` and ``b``, and the largest numeric one."""

    def kept(path: str) -> bool:
        return not any(part.split("[")[0] in skip for part in path.split("."))

    left, right = dict(leaves(a)), dict(leaves(b))
    lines, largest = [], 0.0
    for path in sorted(set(left) | set(right)):
        if not kept(path):
            continue
        if path not in right or path not in left:
            lines.append(f"only in {'first' if path in left else 'second'}: {path} = {left.get(path, right.get(path))!r}")
            continue
        x, y = left[path], right[path]
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y))
        if numbers:
            gap = abs(x - y) if math.isfinite(x) and math.isfinite(y) else (0.0 if x == y else math.inf)
            largest = max(largest, gap)
            if gap > tol:
                lines.append(f"{path}: {x!r} != {y!r} (|Δ| = {gap:.3g})")
        elif x != y:
            lines.append(f"{path}: {x!r} != {y!r}")
    return lines, largest


def main(argv: list[str] | None = None) -> int:
    """Print the differences of two report files; return 1 if there are any."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first")
    parser.add_argument("second")
    parser.add_argument("--tol", type=float, default=1e-6, help="largest absolute difference of equal numbers")
    parser.add_argument("--skip", nargs="*", default=[], help="more key names to leave out")
    args = parser.parse_args(argv)
    trees = [json.load(open(path)) for path in (args.first, args.second)]
    lines, largest = differences(*trees, args.tol, RUN_FIELDS | set(args.skip))
    for line in lines:
        print(line)
    n = sum(1 for path, _ in leaves(trees[0]))
    print(f"{len(lines)} differences over {n} leaves (tol {args.tol:g}); largest numeric |Δ| {largest:.3g}")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
