"""Fan-out MD throughput: N small systems batched (torch-sim) vs one by one (ASE) vs one large cell.

For each model size (``tiny`` 8.7 k, ``tutorial`` 418 k parameters; untrained NequIPs of the
right architecture, since throughput does not depend on the weights) and each N:

* **one-by-one**: nequip's ASE calculator with its stock CPU neighbour list (matscipy) and ASE's
  Langevin, 54-atom bcc Li systems run one after another (the campaign's CPU path);
* **batched**: N 54-atom systems in one torch-sim state, ``nvt_langevin``, with the batched
  neighbour list of :mod:`li_campaign.batched.neighbors` (eager model, and nequip's
  ``torch.compile`` form where it works, ``--compile``);
* **large cell**: one periodic bcc cell with the same total atom count (54 N) through torch-sim
  and the same model form (eager); the ceiling for batching.

Throughput is atom-steps/s (1 fs steps, 300 K). The last two lines are the headline, for the
largest N, eager model on all three paths, the smaller ratio of the two models:
``batched/one-by-one: <ratio>`` and ``batched/large-cell: <ratio>``, measured in this run.

Examples
--------
``python benchmarks/fanout_md.py --device cuda --n 64 1024 --compile``   (GPU, a few minutes)
``OMP_NUM_THREADS=1 python benchmarks/fanout_md.py --device cpu --n 4 --models tiny --steps 3``   (CPU, < 2 min)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from ase import units
from ase.md.langevin import Langevin

from benchmarks._common import MODELS, bcc, machine, sync, timed
from li_campaign.batched.batching import batch_capacity
from li_campaign.batched.loader import torchsim_calc
from li_campaign.batched.state import to_state
from li_campaign.mlip.untrained import untrained_nequip

LARGE_CELLS = {1: (3, 3, 3), 4: (6, 6, 3), 16: (6, 6, 12), 64: (12, 12, 12), 256: (12, 24, 24), 1024: (24, 24, 48)}
"""Cubic-cell repeats with 54 N atoms, for the large-cell comparison."""


def ase_calculator(graph, device: str):
    """nequip's ASE calculator around an in-memory model (stock matscipy neighbour list)."""
    from nequip.integrations.ase import NequIPCalculator
    from nequip.integrations.utils import basic_transforms

    meta = graph.metadata
    return NequIPCalculator(model=graph, device=device, transforms=basic_transforms(meta, float(meta["r_max"]), ["Li"], {"Li": "Li"}))


def one_by_one(graph, device: str, n_systems: int, steps: int) -> float:
    """Atom-steps/s of ASE Langevin MD of 54-atom systems, one after another."""
    calc = ase_calculator(graph, device)
    atoms_steps, seconds = 0, 0.0
    for seed in range(n_systems):
        atoms = bcc((3, 3, 3), seed)
        atoms.calc = calc
        dyn = Langevin(atoms, timestep=1.0 * units.fs, temperature_K=300.0, friction=0.01 / units.fs, rng=np.random.default_rng(seed))
        dyn.run(2)
        sync(device)
        start = time.perf_counter()
        dyn.run(steps)
        sync(device)
        seconds += time.perf_counter() - start
        atoms_steps += len(atoms) * steps
    return atoms_steps / seconds


def torchsim_md(model, structures, device: str, min_s: float) -> tuple[float, float, float]:
    """(atom-steps/s, ms per step, peak GiB) of torch-sim Langevin MD of ``structures`` as one batch."""
    import torch_sim as ts

    state = to_state(structures, device)
    dt = torch.tensor(units.fs, device=device, dtype=torch.float64)
    kT = torch.tensor(300.0 * units.kB, device=device, dtype=torch.float64)
    init, update = ts.integrators.nvt_langevin(model, dt=dt, kT=kT, gamma=torch.tensor(0.01 / units.fs, device=device, dtype=torch.float64), seed=0)
    md = [init(state)]

    def step():
        md[0] = update(md[0])

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    seconds = timed(step, device, min_s=min_s)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else float("nan")
    return state.n_atoms / seconds, 1e3 * seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--n", type=int, nargs="+", default=[64, 1024], help="numbers of 54-atom systems")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--steps", type=int, default=30, help="ASE one-by-one steps per system")
    parser.add_argument("--ase-systems", type=int, default=3, help="systems run one by one")
    parser.add_argument("--min-seconds", type=float, default=1.0, help="least time measured per torch-sim point")
    parser.add_argument("--compile", action="store_true", help="also time nequip's torch.compile form, batched")
    args = parser.parse_args()
    device = args.device
    print(machine(device))
    headline = {}
    for name in args.models:
        spec = MODELS[name]
        graph = untrained_nequip(spec).eval()
        params = sum(p.numel() for p in graph.parameters())
        model = torchsim_calc(graph, device)
        a = one_by_one(graph, device, args.ase_systems, args.steps)
        print(f"[{name}: {params} parameters] one-by-one ASE (54 atoms): {a / 1e3:.1f} k atom-steps/s ({54 / a * 1e3:.1f} ms/step)", flush=True)
        capacity = batch_capacity([bcc((3, 3, 3), 0)], model, max_atoms_to_try=60_000)
        print(f"[{name}] autobatch capacity (torch-sim memory estimate, capped at 60k atoms): {capacity:.0f} atoms", flush=True)
        compiled = None
        if args.compile:
            try:
                compiled = torchsim_calc(untrained_nequip(spec, compile_mode="compile"), device)
                start = time.perf_counter()
                compiled(to_state([bcc((3, 3, 3), s) for s in range(4)], device))
                sync(device)
                print(f"[{name}] torch.compile form: first call (compilation) {time.perf_counter() - start:.0f} s", flush=True)
            except Exception as exc:  # report and go on with the eager model
                print(f"[{name}] torch.compile form failed: {type(exc).__name__}: {str(exc)[:300]}")
                compiled = None
        for n in args.n:
            systems = [bcc((3, 3, 3), s) for s in range(n)]
            b, b_ms, b_mem = torchsim_md(model, systems, device, args.min_seconds)
            c, c_ms, c_mem = torchsim_md(model, [bcc(LARGE_CELLS[n], 0)], device, args.min_seconds)
            line = (
                f"[{name}] N={n} ({54 * n} atoms): batched {b / 1e3:.1f} k atom-steps/s ({b_ms:.1f} ms/step, {b_mem:.2f} GiB), "
                f"large cell {c / 1e3:.1f} k ({c_ms:.1f} ms/step, {c_mem:.2f} GiB); batched/one-by-one {b / a:.1f}, batched/large-cell {b / c:.2f}"
            )
            if compiled is not None:
                try:
                    bc, bc_ms, _ = torchsim_md(compiled, systems, device, args.min_seconds)
                    line += f"; compiled batched {bc / 1e3:.1f} k ({bc_ms:.1f} ms/step, x{bc / b:.2f} eager, {bc / a:.1f} x one-by-one)"
                except Exception as exc:
                    line += f"; compiled batched failed: {type(exc).__name__}: {str(exc)[:200]}"
            print(line, flush=True)
            headline[name] = (b / a, b / c)
    print(f"headline: N={max(args.n)}, eager model on every path, the smaller ratio of models {sorted(headline)}")
    print(f"batched/one-by-one: {min(r[0] for r in headline.values()):.1f}")
    print(f"batched/large-cell: {min(r[1] for r in headline.values()):.2f}")


if __name__ == "__main__":
    main()
