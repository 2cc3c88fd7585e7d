"""Speed of the large-cell adatom diffusion MD against the same model on one bulk cell of the same size.

In one run, with one loaded model: the wide slab of one facet with its adatoms, built as the job
builds it (:func:`li_campaign.kinetics.large_cell.build_cell`: bottom layers fixed, friction on the
mobile slab atoms only), and a cubic bcc Li cell with about as many atoms (every atom thermostatted,
none fixed), each run by the job's torch-sim engine (:func:`li_campaign.batched.langevin.langevin_frames`,
host copies of the positions every ``--sample-every`` steps as in the job) for ``--warmup`` steps,
then ``--steps`` timed steps. Printed: the machine, the model form chosen by
:func:`li_campaign.batched.loader.load_batched_model` (and why faster ones were rejected), atoms,
adatoms, wall time, atom-steps/s of both, their ratio (slab / bulk; target ≥ 0.9), the wall time per
simulated ns and ns/day of the slab, and the peak GPU memory.

Usage::

    # on a GPU worker, a deployed package (eager or torch.compile) and optionally a --target batch build
    python benchmarks/large_cell_diffusion.py --package model.nequip.zip [--compiled model_batch.nequip.pt2] \\
        [--no-compile] --a 3.43 --facet 110 --min-atoms 100000 --spacing-A 20 --steps 500
    # or the --target batch build alone (not checked against the eager model)
    python benchmarks/large_cell_diffusion.py --compiled model_batch.nequip.pt2 --a 3.43 --spacing-A 20
    # smoke test on a CPU: a tiny untrained NequIP and a tiny cell
    python benchmarks/large_cell_diffusion.py --untrained --small
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import datetime, timezone

import numpy as np
import torch
from ase import Atoms
from ase.build import bulk
from ase.io import read, write
from nequip.integrations.torchsim import NequIPTorchSimCalc

from li_campaign.batched import neighbors
from li_campaign.batched.langevin import langevin_frames
from li_campaign.batched.loader import load_batched_model, torchsim_calc
from li_campaign.core.hashing import file_sha256
from li_campaign.core.miller import parse_miller
from li_campaign.schemas.spec import LargeCellDiffusionSpec, MlipSpec


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--package", help="deployed .nequip.zip (eager; torch.compile is tried on CUDA)")
    model.add_argument("--untrained", action="store_true", help="a tiny untrained NequIP (smoke test)")
    parser.add_argument(
        "--compiled", help="a nequip-compile --target batch .nequip.pt2: with --package tried first, alone loaded as is"
    )
    parser.add_argument("--no-compile", action="store_true", help="with --package: do not try torch.compile (eager)")
    parser.add_argument("--a", type=float, default=3.43, help="lattice constant of the model (Å)")
    parser.add_argument("--facet", default="110")
    parser.add_argument("--min-atoms", type=int, default=100_000, help="fewest slab atoms")
    parser.add_argument("--spacing-A", type=float, default=20.0, help="adatom spacing: receptive field + margin (Å)")
    parser.add_argument("--temperature", type=float, default=300.0)
    parser.add_argument("--timestep-fs", type=float, default=2.0)
    parser.add_argument("--steps", type=int, default=500, help="timed steps of each cell")
    parser.add_argument("--warmup", type=int, default=20, help="steps before the timing (compile, allocator)")
    parser.add_argument("--sample-every", type=int, default=10, help="steps between host copies, as the job's sample_every")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--small", action="store_true", help="tiny cells and few steps (CPU smoke test)")
    cell = parser.add_mutually_exclusive_group()
    cell.add_argument("--save-cell", help="build the slab, write it (extxyz with its fixed and adatom masks) here, stop")
    cell.add_argument("--cell", help="a slab written by --save-cell, instead of building it (no pymatgen needed)")
    args = parser.parse_args(argv)
    if not (args.package or args.untrained or args.compiled or args.save_cell):
        parser.error("give --package, --compiled or --untrained")
    if args.small:
        args.min_atoms, args.spacing_A, args.steps, args.warmup, args.sample_every = 200, 6.0, 10, 2, 5
    return args


def _timed(model, atoms, friction: np.ndarray, fixed: np.ndarray, args: argparse.Namespace) -> float:
    """Wall time (s) of ``args.steps`` steps after ``args.warmup`` steps from the same start."""
    common = (args.temperature, args.timestep_fs)
    for _ in langevin_frames(model, atoms, friction, fixed, *common, args.warmup, args.warmup, 0):
        pass
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in langevin_frames(model, atoms, friction, fixed, *common, args.steps, args.sample_every, 1):
        pass  # each yield copies positions and velocities to the host, which waits for the GPU
    return time.perf_counter() - start


def _slab(args: argparse.Namespace, spec: LargeCellDiffusionSpec) -> tuple[Atoms, dict]:
    """The job's large cell, built (:func:`li_campaign.kinetics.large_cell.build_cell`) or read from ``--cell``."""
    if args.cell:
        slab = read(args.cell)
        return slab, {"n_slab_atoms": int(slab.info["n_slab_atoms"]), "supercell": tuple(map(int, slab.info["supercell"]))} | {
            "fixed": np.flatnonzero(slab.arrays["fixed"]),
            "adatoms": np.flatnonzero(slab.arrays["adatom"]),
        }
    # deferred: the slab builder needs pymatgen, which a GPU machine given a --cell file need not have
    from li_campaign.kinetics.large_cell import build_cell

    slab, layout = build_cell(args.a, parse_miller(args.facet), args.spacing_A, spec)
    slab.set_constraint()  # the engine holds the fixed atoms itself
    return slab, layout


def _save(slab: Atoms, layout: dict, path: str) -> None:
    """Write the cell with its fixed and adatom masks for ``--cell``."""
    slab.arrays["fixed"] = np.isin(np.arange(len(slab)), layout["fixed"])
    slab.arrays["adatom"] = np.isin(np.arange(len(slab)), layout["adatoms"])
    slab.info.update(n_slab_atoms=int(layout["n_slab_atoms"]), supercell=list(map(int, layout["supercell"])))
    write(path, slab, format="extxyz")
    print(f"wrote {path}: {len(slab)} atoms, {len(layout['adatoms'])} adatoms, {len(layout['fixed'])} fixed")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark with the command-line arguments ``argv`` (default: ``sys.argv[1:]``)."""
    args = _args(argv)
    spec = LargeCellDiffusionSpec(enabled=True, min_atoms=args.min_atoms, timestep_fs=args.timestep_fs)
    slab, layout = _slab(args, spec)
    if args.save_cell:
        _save(slab, layout, args.save_cell)
        return
    if args.untrained:
        # deferred: the untrained model's builder imports pymatgen (smoke tests run where it is installed)
        from li_campaign.mlip.untrained import untrained_nequip

        graph = untrained_nequip(MlipSpec(num_layers=1, num_features=8, radial_mlp_width=16), energy_scale=0.05).eval()
        model, record = torchsim_calc(graph, args.device), {"model_form": "untrained (smoke test)"}
    elif args.package:
        compiled = args.compiled
        chosen = load_batched_model(
            args.package, file_sha256(args.package), args.device, compiled, file_sha256(compiled) if compiled else None,
            use_torch_compile=False if args.no_compile else None,
        )
        model, record = chosen.model, chosen.record()
    else:  # the batch build alone: no eager model to check it against
        model = NequIPTorchSimCalc.from_compiled_model(
            args.compiled, device=args.device, chemical_species_to_atom_type_map=True, neighborlist_backend=neighbors.register()
        )
        record = {"model_form": "aotinductor (not checked against eager)", "path": args.compiled}
    fixed = np.zeros(len(slab), dtype=bool)
    fixed[layout["fixed"]] = True
    friction = np.full(len(slab), spec.friction_per_fs)
    friction[fixed] = 0.0
    friction[layout["adatoms"]] = 0.0
    repeat = max(round((len(slab) / 2) ** (1 / 3)), 1)
    cube = bulk("Li", "bcc", a=args.a, cubic=True).repeat(repeat)

    gpu = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "-"
    print(f"# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, device {args.device} "
          f"({gpu}), torch {torch.__version__}, model dtype {model.dtype}")  # fmt: skip
    print(f"# model: {record}")
    print(f"# facet ({args.facet}): {len(slab)} atoms = {layout['n_slab_atoms']} slab ({layout['supercell']} cells, "
          f"{len(layout['fixed'])} fixed) + {len(layout['adatoms'])} adatoms {args.spacing_A} Å apart; bulk: "
          f"{len(cube)} atoms ({repeat}^3 cubic cells); T {args.temperature} K, dt {args.timestep_fs} fs, "
          f"{args.steps} timed steps after {args.warmup}, host copy every {args.sample_every}")  # fmt: skip
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    slab_s = _timed(model, slab, friction, fixed, args)
    slab_memory = torch.cuda.max_memory_allocated() / 2**30 if args.device.startswith("cuda") else float("nan")
    bulk_s = _timed(model, cube, np.full(len(cube), spec.friction_per_fs), np.zeros(len(cube), dtype=bool), args)
    rate_slab, rate_bulk = len(slab) * args.steps / slab_s, len(cube) * args.steps / bulk_s
    per_ns = slab_s / (args.steps * args.timestep_fs * 1e-6)
    print(f"{'cell':>10} {'atoms':>8} {'steps':>6} {'wall_s':>9} {'atom_steps_per_s':>17} {'wall_s_per_ns':>14} {'ns_per_day':>10}")
    for name, atoms, wall in (("slab", slab, slab_s), ("bulk", cube, bulk_s)):
        ns = wall / (args.steps * args.timestep_fs * 1e-6)
        print(f"{name:>10} {len(atoms):8d} {args.steps:6d} {wall:9.2f} {len(atoms) * args.steps / wall:17.4g} {ns:14.4g} "
              f"{86400 / ns:10.4g}")  # fmt: skip
    print(f"slab / bulk atom-steps/s: {rate_slab / rate_bulk:.3f} (target >= 0.9); slab wall time per ns: {per_ns:.4g} s "
          f"({per_ns / 3600:.3g} h); peak GPU memory (slab): {slab_memory:.2f} GiB")  # fmt: skip


if __name__ == "__main__":
    main()
