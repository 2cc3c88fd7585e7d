"""Smoke run of benchmarks/large_cell_diffusion.py on the CPU (``--untrained --small``): it prints what docs/benchmarks.md needs."""

from __future__ import annotations

import pytest

from benchmarks.large_cell_diffusion import main


def test_large_cell_benchmark_runs_on_the_cpu_and_its_ratio_is_that_of_its_rates(capsys):
    main(["--untrained", "--small", "--device", "cpu"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert "device cpu" in lines[0] and "(110): " in lines[2] and "adatoms 6.0 Å apart" in lines[2]
    header = lines[3].split()
    assert header == ["cell", "atoms", "steps", "wall_s", "atom_steps_per_s", "wall_s_per_ns", "ns_per_day"]
    slab, cube = (dict(zip(header, line.split())) for line in lines[4:6])
    assert slab["cell"] == "slab" and cube["cell"] == "bulk" and slab["steps"] == cube["steps"] == "10"
    assert abs(int(slab["atoms"]) - int(cube["atoms"])) < 0.2 * int(slab["atoms"])  # a bulk cell of about the same size
    for row in (slab, cube):  # the printed numbers agree with each other (4 significant digits)
        wall = float(row["wall_s"])
        assert float(row["atom_steps_per_s"]) == pytest.approx(int(row["atoms"]) * 10 / wall, rel=0.01)
        assert float(row["wall_s_per_ns"]) == pytest.approx(wall / (10 * 2.0e-6), rel=0.01)
    ratio = float(lines[6].split(":")[1].split()[0])
    assert ratio == pytest.approx(float(slab["atom_steps_per_s"]) / float(cube["atom_steps_per_s"]), rel=0.01)
    assert "(target >= 0.9)" in lines[6] and "wall time per ns" in lines[6]


def test_a_saved_cell_runs_as_the_built_one(capsys, tmp_path):
    """--save-cell writes the job's cell with its masks; --cell runs it without building (the GPU machine's way)."""
    path = tmp_path / "cell.extxyz"
    main(["--small", "--save-cell", str(path)])
    saved = capsys.readouterr().out.strip().splitlines()[-1]
    main(["--untrained", "--small", "--device", "cpu"])
    built = capsys.readouterr().out.strip().splitlines()[2]
    main(["--untrained", "--small", "--device", "cpu", "--cell", str(path)])
    loaded = capsys.readouterr().out.strip().splitlines()[2]
    assert loaded == built  # same atoms, slab cells, fixed atoms and adatoms
    atoms = built.split("(110): ")[1].split()[0]
    assert saved.startswith(f"wrote {path}: {atoms} atoms, ") and saved.endswith(" fixed")
