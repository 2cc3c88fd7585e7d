"""Smoke run of benchmarks/embedded_launchpad.py with a tiny LaunchPad: its table has every column."""

from __future__ import annotations

import sys

from benchmarks.embedded_launchpad import main


def test_embedded_launchpad_benchmark_measures_a_tiny_campaign(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["embedded_launchpad.py", "--sizes", "20", "--jobs", "1", "--workers", "1",
                                      "--repeats", "1", "--bytes-per-fw", "5000"])  # fmt: skip
    main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("# date ") and "CPUs" in lines[0] and lines[-1].startswith("# load average after")
    (row,) = [line.split() for line in lines if line.strip() and not line.startswith("#") and "fireworks" not in line]
    n, size_mb, write_s, read_s, wall_s, per_hour = row
    assert n == "20" and 0.05 < float(size_mb) < 0.25  # 20 fireworks of about 5 kB
    assert 0 < float(read_s) and 0 < float(write_s)
    # one job in the run's wall time; the table rounds the wall time to 0.01 s and the rate to 1 job/hour
    wall = float(wall_s)
    assert 3600 / (wall + 0.005) - 0.5 <= float(per_hour) <= 3600 / max(wall - 0.005, 1e-9) + 0.5
