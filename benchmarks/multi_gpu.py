"""Multi-GPU node: fan-out throughput with one pinned worker per GPU, and DDP training time.

Measured in one run, side by side, on the real campaign machinery:

1. **training**: nequip-train of the same model on the same Morse-labelled frames for the
   same epochs, on one device and with data-parallel training on ``--train-devices`` devices
   (nequip's SimpleDDPStrategy; :func:`li_campaign.mlip.ddp.trainer_devices`). The batch
   size is per device, so the DDP run takes fewer, larger steps per epoch.
2. **fan-out**: a packed fan-out of MD (ASE Langevin) and relaxation (BFGS) jobs with the
   trained model, run twice in fresh embedded campaigns by ``run_workers``: one worker pinned
   to one GPU, then one worker pinned to each selected GPU (``--gpus``). Every firework must
   be launched exactly once, each worker must see only its GPU, and the relaxed energies of the
   two runs are compared.

With ``--gpus 0`` (or on a machine without GPUs) it runs degenerate, on the CPU: training on
one process vs ``--train-devices`` gloo processes, and the fan-out on one vs ``--cpu-workers``
CPU workers. The last two lines are the headline ratios:
``fan-out N-worker/1-worker throughput: <ratio>`` and ``training 1-device/N-device wall time: <ratio>``.

Examples
--------
``python -m benchmarks.multi_gpu --gpus auto``   (a 2-GPU node; about 10 minutes)
``OMP_NUM_THREADS=1 python -m benchmarks.multi_gpu --gpus 0 --frames 8 --epochs 1 --n-md 2 --n-relax 2 --md-steps 5 --reps 1 --pack-size 2``   (CPU smoke run)
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from jobflow import Flow

from benchmarks.multi_gpu_jobs import md_run, relax_run
from li_campaign.core.hashing import file_sha256
from li_campaign.db.config import Campaign, DbConfig
from li_campaign.launch.gpus import select_gpus, visible_gpus
from li_campaign.db.launchpad import initialise_launchpad, open_launchpad
from li_campaign.launch.runner import run_workers
from li_campaign.launch.submit import submit_flow
from li_campaign.execution.packing import pack_jobs
from li_campaign.mlip import nequip_cli
from li_campaign.mlip.nequip_config import nequip_config
from li_campaign.schemas.spec import MlipSpec

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def visible(gpus: list[str]):
    """Let this process (and the nequip-train it starts) see only ``gpus`` (none: the CPU)."""
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES")
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = before


def labelled_frames(n: int, work: Path) -> dict[str, Path]:
    """``n`` rattled, strained 16-atom bcc Li cells labelled with the Morse engine; train/val/test files."""
    from ase.build import bulk
    from ase.calculators.singlepoint import SinglePointCalculator

    from li_campaign.dft.engines import label_atoms
    from li_campaign.mlip.dataset import write_extxyz
    from li_campaign.schemas.spec import DftSpec

    dft = DftSpec(engine="morse", morse={"epsilon_eV": 0.1, "r0_A": 3.4, "rho0": 4.0})
    rng = np.random.default_rng(0)
    frames = []
    for i in range(n):
        atoms = bulk("Li", "bcc", a=3.44 * (1 + 0.02 * rng.uniform(-1, 1)), cubic=True).repeat(2)
        atoms.rattle(0.05, seed=i)
        label = label_atoms(atoms, dft)
        atoms.calc = SinglePointCalculator(atoms, energy=label.energy, forces=label.forces, stress=label.stress)
        frames.append(atoms)
    n_val = max(1, n // 8)
    parts = {"train": frames[: n - 2 * n_val], "val": frames[n - 2 * n_val : n - n_val], "test": frames[n - n_val :]}
    return {name: write_extxyz(part, work / f"{name}.extxyz") for name, part in parts.items()}


def train(files: dict[str, Path], mlip: MlipSpec, accelerator: str, work: Path) -> tuple[Path, float]:
    """Run nequip-train with the campaign's config; the best checkpoint and the wall time."""
    config = nequip_config(mlip, files)
    config["trainer"]["accelerator"] = accelerator
    work.mkdir(parents=True)
    path = work / "nequip.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    start = time.perf_counter()
    checkpoint = nequip_cli.train(path, work / "train")
    return checkpoint, time.perf_counter() - start


@dataclass
class FanOut:
    """One run of the fan-out."""

    name: str
    n_workers: int
    run_s: float
    results: list[dict]
    launches: int

    @property
    def calcs_per_s(self) -> float:
        """Calculations finished per second of wall time."""
        return len(self.results) / self.run_s

    @property
    def atom_steps_per_s(self) -> float:
        """Atom-steps (MD steps or optimizer steps, times atoms) per second of wall time."""
        return sum(r["atom_steps"] for r in self.results) / self.run_s

    def line(self) -> str:
        """One summary line."""
        seen = sorted({str(r["cuda_visible_devices"]) or "\"\"" for r in self.results})
        return (f"{self.name:<12}{self.n_workers:>8}{self.launches:>10}{self.run_s:>10.1f}{self.calcs_per_s:>12.3f}"
                f"{self.atom_steps_per_s:>16.0f}   {','.join(seen)}")


def fanout_jobs(model: Path, sha: str, args) -> list:
    """Packed MD and relaxation jobs with the model (same seeds in every run)."""
    jobs = [md_run(str(model), sha, seed, args.reps, args.md_steps) for seed in range(args.n_md)]
    jobs += [relax_run(str(model), sha, seed, args.reps, args.relax_steps) for seed in range(args.n_relax)]
    packs, _ = pack_jobs(jobs, args.pack_size, "fan-out")
    return packs


def run_fanout(name: str, model: Path, sha: str, args, root: Path, gpus: list[str], cpu_workers: int) -> FanOut:
    """Submit the fan-out to a fresh campaign and run it with workers pinned to ``gpus`` (or CPU workers)."""
    campaign = Campaign.create(root / name, DbConfig())
    initialise_launchpad(campaign)
    submit_flow(campaign, Flow(fanout_jobs(model, sha, args)), f"bench-{name}")
    start = time.perf_counter()
    if gpus:
        with visible(gpus):  # as a batch system announces an allocation
            summary = run_workers(campaign, gpus="auto", progress=False)
    else:
        summary = run_workers(campaign, n_workers=cpu_workers, gpus="0", progress=False)
    run_s = time.perf_counter() - start
    if summary.fizzled or set(summary.states) != {"COMPLETED"}:
        from li_campaign.launch.status import campaign_status

        reasons = [item["reason"][-400:] for item in campaign_status(campaign)["failed"][:2]]
        raise RuntimeError(f"{name}: not every job completed: {summary.states}; {reasons}")
    with open_launchpad(campaign, write=False) as lp:
        fw_ids = [launch["fw_id"] for launch in lp.launches.find({}, {"fw_id": 1})]
        n_fws = lp.fireworks.count_documents({})
    if sorted(fw_ids) != sorted(set(fw_ids)) or len(fw_ids) != n_fws:
        raise RuntimeError(f"{name}: {len(fw_ids)} launches for {n_fws} fireworks: a job ran twice or not at all")
    store = campaign.job_store()
    store.connect()
    results = [r for doc in store.query({"output.doc_type": "pack"}, ["output.results"]) for r in doc["output"]["results"]]
    seen = {r["cuda_visible_devices"] for r in results}
    if gpus and not seen <= set(gpus):
        raise RuntimeError(f"{name}: a worker saw CUDA_VISIBLE_DEVICES outside one pinned GPU: {sorted(map(str, seen))}")
    return FanOut(name, len(gpus) or cpu_workers, run_s, results, len(fw_ids))


def max_energy_difference(a: FanOut, b: FanOut, kind: str) -> float:
    """Largest |ΔE| (eV) between the two runs' results of ``kind`` with the same seed."""
    first = {r["seed"]: r["energy_eV"] for r in a.results if r["kind"] == kind}
    second = {r["seed"]: r["energy_eV"] for r in b.results if r["kind"] == kind}
    return max((abs(first[s] - second[s]) for s in first), default=0.0)


def main(argv: list[str] | None = None) -> None:
    """Train on 1 and N devices, run the fan-out on 1 and N workers; print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpus", default="auto", help="GPUs for the N-worker run: auto, N or ids (0: CPU mode)")
    parser.add_argument("--train-devices", type=int, default=2, help="devices of the DDP training run (default 2)")
    parser.add_argument("--cpu-workers", type=int, default=2, help="CPU mode: workers of the N-worker run (default 2)")
    parser.add_argument("--frames", type=int, default=64, help="training frames, 16 atoms each (default 64)")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    parser.add_argument("--batch-size", type=int, default=4, help="training batch size per device (default 4)")
    parser.add_argument("--n-md", type=int, default=32, help="MD runs in the fan-out (default 32)")
    parser.add_argument("--n-relax", type=int, default=32, help="relaxations in the fan-out (default 32)")
    parser.add_argument("--md-steps", type=int, default=200, help="MD steps per run (default 200)")
    parser.add_argument("--relax-steps", type=int, default=100, help="most optimizer steps per relaxation (default 100)")
    parser.add_argument("--reps", type=int, default=3, help="cubic bcc cell repeats: 2 reps^3 atoms (default 3: 54 atoms)")
    parser.add_argument("--pack-size", type=int, default=4, help="calculations per pack (default 4)")
    parser.add_argument("--dir", type=Path, default=None, help="where to work (default: a temp dir)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="Some jobs are not connected")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))  # workers import the jobs

    gpus = select_gpus(args.gpus, visible_gpus())
    mode = f"GPUs {','.join(gpus)}" if gpus else "CPU (degenerate mode)"
    if gpus and len(gpus) < args.train_devices:
        raise SystemExit(f"--train-devices {args.train_devices} needs that many GPUs; {len(gpus)} selected")
    print(f"multi-GPU benchmark, {mode}; host {platform.node()}, {os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d')}", flush=True)
    if gpus:
        import torch

        with visible(gpus):
            print(f"GPUs: {[torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]}", flush=True)

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="multi-gpu-bench-") as tmp:
        root = Path(tmp)
        files = labelled_frames(args.frames, root)
        mlip = MlipSpec(max_epochs=args.epochs, batch_size=args.batch_size)
        accelerator = "gpu" if gpus else "cpu"
        with visible(gpus[:1]):
            checkpoint, t_one = train(files, mlip, accelerator, root / "train-1")
        n_dev = args.train_devices
        with visible(gpus[:n_dev]):
            _, t_ddp = train(files, mlip.model_copy(update={"n_gpus": n_dev}), accelerator, root / f"train-{n_dev}")
        print(f"training ({args.frames} frames, {args.epochs} epochs, batch {args.batch_size} per device): "
              f"1 {accelerator} {t_one:.1f} s, {n_dev} {accelerator}s (DDP) {t_ddp:.1f} s", flush=True)

        model = nequip_cli.package(checkpoint, root / "model.nequip.zip")
        sha = file_sha256(model)
        n_calcs = args.n_md + args.n_relax
        print(f"fan-out: {args.n_md} MD x {args.md_steps} steps + {args.n_relax} relaxations of {2 * args.reps ** 3}-atom "
              f"cells, packs of {args.pack_size}", flush=True)
        single = run_fanout("one-worker", model, sha, args, root, gpus[:1], 1)
        multi = run_fanout("n-workers", model, sha, args, root, gpus, args.cpu_workers)
        for run in (single, multi):
            if len(run.results) != n_calcs:
                raise RuntimeError(f"{run.name}: {len(run.results)} results, expected {n_calcs}")

    print(f"{'run':<12}{'workers':>8}{'launches':>10}{'wall s':>10}{'calcs/s':>12}{'atom-steps/s':>16}   CUDA_VISIBLE_DEVICES seen")
    for run in (single, multi):
        print(run.line())
    print(f"max |dE| between the runs: relax {max_energy_difference(single, multi, 'relax'):.2e} eV, "
          f"MD {max_energy_difference(single, multi, 'md'):.2e} eV")
    print(f"fan-out N-worker/1-worker throughput: {multi.calcs_per_s / single.calcs_per_s:.2f}")
    print(f"training 1-device/N-device wall time: {t_one / t_ddp:.2f}")


if __name__ == "__main__":
    main()
