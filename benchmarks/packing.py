"""Per-calculation overhead of FireWorks launches, without and with job packing.

Builds ``--n`` tiny real calculations (DFT labels of rattled 2-atom bcc Li cells with the
analytic Morse engine, :class:`~li_campaign.dft.jobs.LabelFrameMaker`) and runs them twice
through the real embedded campaign machinery (``Campaign.create``, ``submit_flow``,
``run_workers``), each in a fresh campaign directory:

* **unpacked**: one job, i.e. one FireWorks launch, per calculation;
* **packed**: ``pack_jobs(..., size=--pack-size)``, one launch per pack.

For each it reports the wall time (submission + running until every result is stored)
per calculation and the overhead per calculation,
``overhead = workers * wall / n - compute``: the worker time a calculation costs beyond its
own computing (``compute`` is the mean in-process time of a calculation, from the
``member_wall_s`` of the packed run's PackDocs). The last line is
``packing speedup: <unpacked overhead / packed overhead>``.

Examples
--------
``.venv/bin/python benchmarks/packing.py --n 50 --pack-size 25``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jobflow import Flow, Job, JobStore
from pymatgen.core import Structure

from li_campaign.core.lithium import bcc_li_conventional
from li_campaign.db.config import Campaign, DbConfig
from li_campaign.db.launchpad import initialise_launchpad
from li_campaign.launch.runner import run_workers
from li_campaign.launch.submit import submit_flow
from li_campaign.dft.jobs import LabelFrameMaker
from li_campaign.execution.packing import pack_jobs
from li_campaign.schemas.spec import DftSpec


@dataclass
class Variant:
    """What one run (unpacked or packed) measured."""

    name: str
    n_calcs: int
    n_launches: int
    submit_s: float
    run_s: float
    store: JobStore

    @property
    def wall_per_calc_s(self) -> float:
        """Wall time (submission + run) per calculation."""
        return (self.submit_s + self.run_s) / self.n_calcs

    def summary(self) -> str:
        """One line: launches, submission and run time."""
        return f"{self.name + ':':<10}{self.n_launches} launches, submit {self.submit_s:.1f} s, run {self.run_s:.1f} s"


def rattled_cells(n: int, seed: int = 0) -> list[Structure]:
    """Return ``n`` 2-atom bcc Li cells (a = 3.44 Å) with random displacements (std 0.05 Å)."""
    rng = np.random.default_rng(seed)
    cell = bcc_li_conventional(3.44)
    return [
        Structure(cell.lattice, cell.species, cell.cart_coords + rng.normal(0, 0.05, (2, 3)), coords_are_cartesian=True)
        for _ in range(n)
    ]


def label_jobs(cells: list[Structure]) -> list[Job]:
    """One Morse-labelling job per cell."""
    maker = LabelFrameMaker(dft=DftSpec(engine="morse"), campaign="bench", spec_hash="0" * 64)
    return [maker.make(cell, f"bench:bulk_rattle:{i}", "bulk_rattle", f"rattled {i}") for i, cell in enumerate(cells)]


def run_variant(name: str, jobs: list[Job], root: Path, n_calcs: int, workers: int) -> Variant:
    """Submit ``jobs`` to a fresh embedded campaign under ``root`` and run them with local workers."""
    campaign = Campaign.create(root / name, DbConfig())
    initialise_launchpad(campaign)
    start = time.perf_counter()
    submit_flow(campaign, Flow(jobs, name=name), f"bench-{name}")
    submitted = time.perf_counter()
    summary = run_workers(campaign, n_workers=workers, progress=False)
    done = time.perf_counter()
    if summary.fizzled or summary.states != {"COMPLETED": len(jobs)}:
        raise RuntimeError(f"{name}: not every job completed: {summary.states} {summary.fizzled[:3]}")
    store = campaign.job_store()
    store.connect()
    return Variant(name, n_calcs, summary.launched, submitted - start, done - submitted, store)


def compute_per_calc_s(packed: Variant) -> float:
    """Mean in-process time of one calculation, from the packs' ``member_wall_s``."""
    docs = packed.store.query({"output.doc_type": "pack"}, ["output.member_wall_s"])
    walls = [wall for doc in docs for wall in doc["output"]["member_wall_s"]]
    if len(walls) != packed.n_calcs:
        raise RuntimeError(f"expected {packed.n_calcs} member wall times, found {len(walls)}")
    return statistics.fmean(walls)


def count_results(variant: Variant) -> int:
    """Number of training-frame results stored, unpacked or inside packs."""
    single = variant.store.count({"output.doc_type": "training_frame"})
    packs = variant.store.query({"output.doc_type": "pack"}, ["output.result_doc_types"])
    return single + sum(doc["output"]["result_doc_types"].count("training_frame") for doc in packs)


def machine() -> str:
    """One line describing this machine."""
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} CPUs ({model}), {platform.platform()}, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> None:
    """Run both variants and print the table; the last line is the overhead speedup."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="number of calculations (default 1000)")
    parser.add_argument("--pack-size", type=int, default=100, help="calculations per pack (default 100)")
    parser.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    parser.add_argument("--dir", type=Path, default=None, help="where to create the campaigns (default: a temp dir)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="Some jobs are not connected")

    cells = rattled_cells(args.n)
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="packing-bench-") as tmp:
        root = Path(tmp)
        print(f"{args.n} Morse labels of rattled 2-atom bcc Li cells, {args.workers} workers; {machine()}", flush=True)
        packs, _ = pack_jobs(label_jobs(cells), args.pack_size, "labels")
        packed = run_variant("packed", packs, root, args.n, args.workers)
        print(packed.summary(), flush=True)
        unpacked = run_variant("unpacked", label_jobs(cells), root, args.n, args.workers)
        print(unpacked.summary(), flush=True)
        for variant in (packed, unpacked):
            if count_results(variant) != args.n:
                raise RuntimeError(f"{variant.name}: {count_results(variant)} results stored, expected {args.n}")
        compute = compute_per_calc_s(packed)

    def overhead(variant: Variant) -> float:
        return args.workers * variant.wall_per_calc_s - compute

    print(f"compute per calculation (in-process mean): {1000 * compute:.1f} ms")
    print(f"{'variant':<10}{'launches':>10}{'wall/calc (ms)':>16}{'overhead/calc (ms)':>20}")
    for variant in (unpacked, packed):
        wall_ms, overhead_ms = 1000 * variant.wall_per_calc_s, 1000 * overhead(variant)
        print(f"{variant.name:<10}{variant.n_launches:>10}{wall_ms:>16.1f}{overhead_ms:>20.1f}")
    wall_ratio = unpacked.wall_per_calc_s / packed.wall_per_calc_s
    print(f"wall-time speedup (unpacked/packed wall per calculation): {wall_ratio:.1f}")
    print("overhead = workers x wall per calculation - compute per calculation; speedup = unpacked/packed overhead")
    print(f"packing speedup: {overhead(unpacked) / overhead(packed):.1f}")


if __name__ == "__main__":
    main()
