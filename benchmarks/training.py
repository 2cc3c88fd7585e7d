"""NequIP training speed: seconds per epoch on the GPU vs the CPU, demo and realistic sizes.

Runs the campaign's own training path (:func:`li_campaign.mlip.nequip_config.nequip_config` and
``nequip-train`` through :mod:`li_campaign.mlip.nequip_cli`) on Morse-labelled bcc Li frames
(ASE ``MorsePotential``, ±2 % strain, 0.05 Å rattle; labels only exercise the pipeline):

* **demo**: the tiny model (8.7 k parameters), 100 frames of 16 atoms (split 80/10/10), batch 4;
* **realistic**: the tutorial-size model (418 k parameters), 1000 frames of 54 atoms (800/100/100),
  batch 8 on the CPU and 8 on the GPU (same optimisation, so epochs are comparable).

Each is trained with ``mlip.device`` = ``cuda`` and ``cpu`` on the same machine; an epoch is
timed by a Lightning callback (``benchmarks/_epoch_timer.py``), the validation pass not included.
The first epoch carries warm-up, so the median of the later epochs is reported when there are any.
The last lines are ``<size> cpu/gpu s/epoch: <ratio>``.

Examples
--------
``python benchmarks/training.py``   (GPU machine, a few minutes)
``OMP_NUM_THREADS=1 python -m benchmarks.training --sizes demo --devices cpu --epochs 2 --frames 20``   (CPU)
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch
import yaml
from ase.calculators.morse import MorsePotential
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write

from benchmarks._common import MODELS, bcc, machine
from li_campaign.mlip import nequip_cli
from li_campaign.mlip.nequip_config import nequip_config

REPO = Path(__file__).resolve().parents[1]
SIZES = {"demo": ("tiny", (2, 2, 2), 100, 4), "realistic": ("tutorial", (3, 3, 3), 1000, 8)}
"""size → (model, cell repeats, frames, batch size)."""


def frames(reps: tuple[int, int, int], n: int) -> list:
    """Morse-labelled rattled, strained bcc Li cells."""
    rng = np.random.default_rng(0)
    morse = MorsePotential(epsilon=0.1, r0=3.0, rho0=4.0, rcut1=4.5, rcut2=5.0)
    out = []
    for i in range(n):
        atoms = bcc(reps, i, a=3.44 * (1 + 0.02 * rng.uniform(-1, 1)))
        atoms.calc = morse
        energy, forces, stress = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces, stress=stress)
        out.append(atoms)
    return out


def seconds_per_epoch(size: str, device: str, epochs: int, n_frames: int | None, work: Path) -> tuple[float, list[float]]:
    """Train one size on one device; return (s/epoch, all epoch times)."""
    model, reps, n, batch = SIZES[size]
    data = frames(reps, n_frames or n)
    cut = [int(0.8 * len(data)), int(0.9 * len(data))]
    files = {}
    for part, chunk in zip(("train", "val", "test"), np.split(np.arange(len(data)), cut)):
        files[part] = work / f"{size}_{part}.extxyz"
        write(files[part], [data[i] for i in chunk], format="extxyz")
    spec = MODELS[model].model_copy(update={"device": device, "max_epochs": epochs, "batch_size": batch})
    config = nequip_config(spec, files)
    config["run"] = ["train"]
    timer = work / f"{size}_{device}_epochs.txt"
    config["trainer"]["callbacks"].append({"_target_": "benchmarks._epoch_timer.EpochTimer", "path": str(timer)})
    path = work / f"{size}_{device}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    nequip_cli.train(path, work / f"{size}_{device}_run")
    times = [float(x) for x in timer.read_text().split()]
    return (statistics.median(times[1:]) if len(times) > 1 else times[0]), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--devices", nargs="+", default=["cuda", "cpu"], choices=["cuda", "cpu"])
    parser.add_argument("--epochs", type=int, default=3, help="epochs on the GPU")
    parser.add_argument("--cpu-epochs", type=int, default=2)
    parser.add_argument("--frames", type=int, default=None, help="override the frame count (quick runs)")
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    print(machine("cuda" if "cuda" in args.devices and torch.cuda.is_available() else "cpu"))
    results: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            for device in args.devices:
                epochs = args.epochs if device == "cuda" else args.cpu_epochs
                per_epoch, times = seconds_per_epoch(size, device, epochs, args.frames, Path(tmp))
                results[size, device] = per_epoch
                print(f"{size} ({SIZES[size][0]} model) on {device}: {per_epoch:.2f} s/epoch (epochs: {', '.join(f'{t:.2f}' for t in times)})", flush=True)
    for size in args.sizes:
        if (size, "cpu") in results and (size, "cuda") in results:
            print(f"{size} cpu/gpu s/epoch: {results[size, 'cpu'] / results[size, 'cuda']:.1f}")


if __name__ == "__main__":
    main()
