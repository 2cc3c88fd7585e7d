"""A fan-out pack on a GPU worker: its ASE calculations batched by the dispatcher vs run one by one.

This is the path the fan-out takes by itself on a GPU worker
(:func:`li_campaign.execution.packing.run_pack` with ``batched=True``): the pack's members are ordinary
ASE calculations and :class:`li_campaign.batched.dispatch.BatchDispatcher` evaluates their model
calls together. The pack mixes the three kinds of the fan-out, in equal numbers:

* **relax**: FIRE (``fmax`` 0.05 eV/Å, ≤ 200 steps) of a 32-atom slab with its bottom layer fixed
  (``benchmarks.fanout_relax_neb.slab``);
* **neb**: CI-NEB of a vacancy hop in a 53-atom cell (5 images, ``fmax`` 0.1 eV/Å, ≤ 100 steps,
  no image refinement) with :func:`li_campaign.kinetics.neb.converged_neb`;
* **md**: 50 steps of ASE Langevin (1 fs, 300 K) of a rattled 54-atom cell.

One by one, each member gets nequip's ASE calculator on the same device; ``--ase`` members of
each kind are run and the pack's one-by-one time is extrapolated from each kind's mean. Batched,
the same functions run as members of one dispatcher with the untrained model as a torch-sim model
(batched neighbour list, eager). Calculations per hour = 3600 × members / wall seconds.

Examples
--------
``python benchmarks/fanout_pack.py --device cuda --n 192 --models tiny tutorial``
``OMP_NUM_THREADS=1 python -m benchmarks.fanout_pack --device cpu --n 6 --ase 1 --models tiny``
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import numpy as np
from ase.md.langevin import Langevin
from ase.units import fs

from benchmarks._common import MODELS, bcc, machine, sync
from benchmarks.fanout_md import ase_calculator
from benchmarks.fanout_relax_neb import ase_relax, slab, vacancy_hop
from li_campaign.batched.dispatch import BatchDispatcher
from li_campaign.batched.loader import BatchedModel, torchsim_calc
from li_campaign.kinetics.neb import converged_neb
from li_campaign.mlip.calculator import load_model
from li_campaign.mlip.untrained import untrained_nequip
from li_campaign.schemas.spec import NebConvergenceSpec, NebSpec, RelaxSpec

KINDS = ("relax", "neb", "md")
RELAX = RelaxSpec(optimizer="FIRE", fmax_eV_A=0.05, max_steps=200)
NEB = NebSpec(n_images=5, fmax_eV_A=0.1, max_steps=100)
DOC = SimpleNamespace(package_sha256="untrained")


def member(kind: str, seed: int, calc_of):
    """The calculation of one pack member; ``calc_of()`` gives its calculator when it starts."""

    def relax():
        return ase_relax(slab(seed), calc_of(), RELAX)[3]

    def neb():
        start, end = vacancy_hop(seed)
        return converged_neb(start, end, calc_of(), NEB, NebConvergenceSpec(enabled=False)).steps

    def md():
        atoms = bcc((3, 3, 3), seed)
        atoms.calc = calc_of()
        Langevin(atoms, 1 * fs, temperature_K=300, friction=0.02, rng=np.random.default_rng(seed), logfile=None).run(50)
        return 50

    return {"relax": relax, "neb": neb, "md": md}[kind]


def run(model_name: str, device: str, n: int, n_ase: int) -> float:
    """Time one pack both ways; print the rates; return batched / one-by-one."""
    graph = untrained_nequip(MODELS[model_name], energy_scale=0.05).eval()
    print(f"model {model_name}: {sum(p.numel() for p in graph.parameters())} parameters (untrained)", flush=True)
    calc = ase_calculator(graph, device)
    kinds = [KINDS[i % len(KINDS)] for i in range(n)]

    seconds: dict[str, float] = {}
    for kind in KINDS:
        member(kind, 10_000, lambda: calc)()  # warm-up, not timed
        sync(device)
        start = time.perf_counter()
        for seed in range(n_ase):
            member(kind, seed, lambda: calc)()
        sync(device)
        seconds[kind] = (time.perf_counter() - start) / n_ase
    one_by_one = sum(seconds[k] for k in kinds)

    model = torchsim_calc(graph, device)
    dispatcher = BatchDispatcher(device, load=lambda doc, dev: BatchedModel(model, "eager", "in memory", dev))
    dispatcher.run([member("relax", 10_000, lambda: load_model(DOC))])  # warm-up and memory estimate, not timed
    dispatcher.model_calls = dispatcher.structures = 0
    start = time.perf_counter()
    outcomes = dispatcher.run([member(kind, seed, lambda: load_model(DOC)) for seed, kind in enumerate(kinds)])
    sync(device)
    batched = time.perf_counter() - start
    failed = [o.error for o in outcomes if o.error is not None]
    if failed:
        raise RuntimeError(f"{len(failed)} members failed, e.g. {failed[0]!r}")
    record = dispatcher.record()
    rate_one, rate_many = 3600 * n / one_by_one, 3600 * n / batched
    print(
        f"  one by one: {', '.join(f'{k} {seconds[k]:.2f} s' for k in KINDS)}; pack of {n} (extrapolated) {one_by_one:.0f} s, "
        f"{rate_one:.0f} calcs/h",
        flush=True,
    )
    print(
        f"  batched: {batched:.1f} s, {rate_many:.0f} calcs/h; {record['model_calls']} model calls, "
        f"{record['structures_per_call']:.1f} structures per call; ratio {rate_many / rate_one:.1f}",
        flush=True,
    )
    return rate_many / rate_one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--models", nargs="+", default=["tiny"], choices=list(MODELS))
    parser.add_argument("--n", type=int, default=192, help="members of the pack (a third of each kind)")
    parser.add_argument("--ase", type=int, default=3, help="members of each kind run one by one")
    args = parser.parse_args()
    print(machine(args.device))
    ratios = {name: run(name, args.device, args.n, args.ase) for name in args.models}
    print(f"pack batched/one-by-one: {min(ratios.values()):.1f}")


if __name__ == "__main__":
    main()
