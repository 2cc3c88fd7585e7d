"""benchmarks/compare_reports.py: every numeric leaf compared, run-specific fields skipped."""

from __future__ import annotations

import json

from benchmarks.compare_reports import RUN_FIELDS, differences, main


def test_differences_name_each_leaf_beyond_the_tolerance_and_skip_run_fields():
    a = {"facets": [{"facet": "100", "E": 0.3}, {"facet": "110", "E": 0.2}], "model": {"sha256": "aa", "mae": 1.0}}
    b = {"facets": [{"facet": "100", "E": 0.3 + 5e-7}, {"facet": "110", "E": 0.25}], "model": {"sha256": "bb", "mae": 1.0},
         "extra": [1]}  # fmt: skip
    lines, largest = differences(a, b, 1e-6, RUN_FIELDS)
    assert sorted(lines) == ["facets[1].E: 0.2 != 0.25 (|Δ| = 0.05)", "only in second: extra[0] = 1"]
    assert abs(largest - 0.05) < 1e-12
    assert differences(a, a, 0.0, RUN_FIELDS) == ([], 0.0)
    assert differences({"x": True}, {"x": False}, 1.0, RUN_FIELDS)[0] == ["x: True != False"]  # booleans are not numbers


def test_main_exits_one_on_a_difference(tmp_path, capsys):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps({"gamma": [0.45, 0.49]}))
    second.write_text(json.dumps({"gamma": [0.45, 0.49]}))
    assert main([str(first), str(second)]) == 0
    second.write_text(json.dumps({"gamma": [0.45, 0.50]}))
    assert main([str(first), str(second)]) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith("1 differences over 2 leaves")
