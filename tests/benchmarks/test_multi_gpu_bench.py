"""Smoke run of benchmarks/multi_gpu.py in its CPU (``--gpus 0``) mode, with tiny settings."""

from __future__ import annotations

import re

import pytest

from benchmarks.multi_gpu import main
from tests.conftest import REPO


@pytest.mark.slow
@pytest.mark.long
def test_multi_gpu_benchmark_runs_on_the_cpu_and_prints_its_ratios(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    main(["--gpus", "0", "--frames", "8", "--epochs", "1", "--n-md", "2", "--n-relax", "2", "--md-steps", "5",
          "--relax-steps", "20", "--reps", "1", "--pack-size", "2", "--dir", str(tmp_path)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("multi-GPU benchmark, CPU (degenerate mode)")
    one, two = [line.split() for line in lines if line.startswith(("one-worker", "n-workers"))]
    assert (one[1], one[2], two[1], two[2]) == ("1", "2", "2", "2")  # workers; launches = 2 packs, each once
    assert lines[-3] == "max |dE| between the runs: relax 0.00e+00 eV, MD 0.00e+00 eV"  # same results on the CPU
    # the ratios are those of the printed measurements, within the rounding of the printed digits
    # (wall s and training s to 0.05, calcs/s to 0.0005, ratios to 0.005): calcs/s = 4 calculations / wall s
    rates = {}
    for row in (one, two):
        wall, rates[row[0]] = float(row[3]), float(row[4])
        assert rates[row[0]] == pytest.approx(4 / wall, abs=5e-4 + 4 * 0.05 / (wall - 0.05) ** 2)
    ratio = rates["n-workers"] / rates["one-worker"]
    assert lines[-2].startswith("fan-out N-worker/1-worker throughput: ")
    rounding = 5e-4 / rates["n-workers"] + 5e-4 / rates["one-worker"]
    assert float(lines[-2].split()[-1]) == pytest.approx(ratio, abs=5e-3 + ratio * rounding)
    (training,) = [line for line in lines if line.startswith("training (8 frames, 1 epochs")]
    t_one, t_ddp = map(float, re.search(r"1 cpu ([0-9.]+) s, 2 cpus \(DDP\) ([0-9.]+) s", training).groups())
    assert lines[-1].startswith("training 1-device/N-device wall time: ")
    ratio = t_one / t_ddp
    assert float(lines[-1].split()[-1]) == pytest.approx(ratio, abs=5e-3 + ratio * (0.05 / t_one + 0.05 / t_ddp))
