"""Embedded LaunchPad: access time and jobs per hour against the number of fireworks.

Every access to the embedded LaunchPad (``li_campaign.db.launchpad.open_launchpad``) reads the
whole mongomock file and, for a writer, dumps it back, under the one campaign lock; the local
runner and ``li-campaign launch`` need such an access to reserve and to recover every job. For
campaigns of N fireworks this measures

* the LaunchPad file size;
* ``write access``: one ``open_launchpad(write=True)`` block with one query (load + dump), the
  median of ``--repeats``; ``read access``: the same with ``write=False`` (``li-campaign status``);
* ``jobs/hour``: ``--jobs`` jobs that compute nothing (``tests.db.jobs_for_tests.add``) submitted
  on top of the N fireworks and run by ``run_workers(n_workers=--workers)``, from submission to
  the last recovery. That is the most jobs per hour the embedded LaunchPad lets a campaign of that
  size run, whatever the number of workers (every reservation and recovery waits for the lock).

The N fireworks are one real finished job (submitted and run by ``run_workers``: a COMPLETED
firework with its offline launch and workflow), cloned N-1 times with new ids. Each clone's spec
is padded so that the file holds ``--bytes-per-fw`` bytes per firework; the default, 7 600, is
what real campaigns hold (the demo: 824 KB for 110 fireworks; issue 21: 42 MB for 5 500).

Usage: python benchmarks/embedded_launchpad.py [--sizes 100,1000,2500,5000,10000] > benchmarks/results/<file>.txt
(run from the repository root; workers import ``tests.db.jobs_for_tests``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import bson.json_util
import fireworks
import mongomock
from jobflow import Flow

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))

from li_campaign.db.config import Campaign, DbConfig  # noqa: E402
from li_campaign.db.launchpad import initialise_launchpad, open_launchpad  # noqa: E402
from li_campaign.launch.runner import run_workers  # noqa: E402
from li_campaign.launch.submit import submit_flow  # noqa: E402
from tests.db.jobs_for_tests import add  # noqa: E402


def machine() -> list[str]:
    """Header lines: date, host, CPUs, load, versions, commit."""
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO).stdout.strip()
    return [
        f"# date {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, host {platform.node()}, {os.cpu_count()} CPUs ({cpu})",
        f"# load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"# Python {platform.python_version()}, FireWorks {fireworks.__version__}, mongomock {mongomock.__version__}, "
        f"commit {commit}",
    ]


def fill(campaign: Campaign, n: int, bytes_per_fw: int) -> None:
    """Run one real job, then clone its firework, launch and workflow until the LaunchPad has ``n`` fireworks."""
    submit_flow(campaign, Flow([add(1, 2)]), "seed")
    run_workers(campaign, n_workers=1, progress=False)
    with open_launchpad(campaign) as lp:
        fw = lp.fireworks.find_one({"fw_id": 1}, {"_id": 0})
        launch = lp.launches.find_one({"launch_id": fw["launches"][0]}, {"_id": 0})
        wf = lp.workflows.find_one({"nodes": 1}, {"_id": 0})
        size = len(bson.json_util.dumps(fw)) + len(bson.json_util.dumps(launch)) + len(bson.json_util.dumps(wf))
        fw["spec"]["_benchmark_padding"] = "x" * max(0, bytes_per_fw - size)
        fws, launches, wfs = [], [], []
        for i in range(2, n + 1):
            (task,) = fw["spec"]["_tasks"]  # jobflow's one task, which carries the job
            tasks = [{**task, "job": {**task["job"], "uuid": str(uuid.uuid4())}}]
            fws.append({**fw, "fw_id": i, "launches": [i], "spec": {**fw["spec"], "_tasks": tasks}})
            launches.append({**launch, "launch_id": i, "fw_id": i})
            wfs.append({**wf, "nodes": [i], "links": {str(i): []}, "parent_links": {}, "fw_states": {str(i): "COMPLETED"},
                        "metadata": {**wf.get("metadata", {}), "spec_hash": f"clone-{i}"}})  # fmt: skip
        if fws:
            lp.fireworks.insert_many(fws)
            lp.launches.insert_many(launches)
            lp.workflows.insert_many(wfs)
        lp.fw_id_assigner.update_one({}, {"$set": {"next_fw_id": n + 1, "next_launch_id": n + 1}})


def access_s(campaign: Campaign, write: bool, repeats: int) -> float:
    """Median seconds of one LaunchPad block with one query."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        with open_launchpad(campaign, write=write) as lp:
            lp.fireworks.count_documents({"state": "READY"})
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def jobs_per_hour(campaign: Campaign, n_jobs: int, workers: int) -> tuple[float, float]:
    """Submit ``n_jobs`` independent jobs, run them; return (wall seconds, jobs per hour)."""
    start = time.perf_counter()
    submit_flow(campaign, Flow([add(i, 1) for i in range(n_jobs)]), "measured")
    summary = run_workers(campaign, n_workers=workers, progress=False)
    wall = time.perf_counter() - start
    if summary.completed != n_jobs:
        raise RuntimeError(f"{summary.completed} of {n_jobs} jobs completed: {summary.fizzled}")
    return wall, n_jobs / wall * 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,2500,5000,10000", help="numbers of fireworks, comma-separated")
    parser.add_argument("--jobs", type=int, default=6, help="jobs run per size for jobs/hour")
    parser.add_argument("--workers", type=int, default=2, help="local workers (run_workers)")
    parser.add_argument("--repeats", type=int, default=3, help="accesses timed per size (median)")
    parser.add_argument("--bytes-per-fw", type=int, default=7600, help="LaunchPad bytes per firework (padding)")
    args = parser.parse_args()
    for line in machine():
        print(line)
    print(f"# jobs {args.jobs}, workers {args.workers}, repeats {args.repeats}, bytes per firework {args.bytes_per_fw}")
    print(f"{'fireworks':>9} {'file_MB':>8} {'write_access_s':>14} {'read_access_s':>13} {'run_wall_s':>10} {'jobs_per_hour':>13}")
    with tempfile.TemporaryDirectory(prefix="embedded_lp_") as tmp:
        for n in (int(x) for x in args.sizes.split(",")):
            campaign = Campaign.create(Path(tmp) / f"n{n}", DbConfig())
            initialise_launchpad(campaign)
            fill(campaign, n, args.bytes_per_fw)
            size_mb = campaign.fireworks_db_file.stat().st_size / 1e6
            write = access_s(campaign, True, args.repeats)
            read = access_s(campaign, False, args.repeats)
            wall, rate = jobs_per_hour(campaign, args.jobs, args.workers)
            print(f"{n:9d} {size_mb:8.1f} {write:14.3f} {read:13.3f} {wall:10.2f} {rate:13.0f}", flush=True)
    print(f"# load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
