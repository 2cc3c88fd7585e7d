"""Fan-out relaxations and NEBs: calculations per hour, batched (torch-sim) vs one by one (ASE).

* **relax**: fixed-cell FIRE relaxations of N 32-atom bcc Li slabs (2×2×4 cubic cells with 5 Å
  of vacuum on each side, rattled 0.1 Å, bottom layer held by ``FixAtoms``), ``fmax`` 0.05 eV/Å,
  at most 200 steps. One by one: ASE FIRE as in :func:`li_campaign.simulation.relax.relax_atoms`, with
  nequip's ASE calculator; batched: :func:`benchmarks.batched_extras.batched_relax`.
* **neb**: CI-NEBs of M vacancy hops in 53-atom bcc cells (5 images, ``fmax`` 0.1 eV/Å, at most 100
  steps, no image refinement). One by one: :func:`li_campaign.kinetics.neb.converged_neb`;
  batched: :func:`benchmarks.batched_extras.converged_nebs` (all images of all bands in one model call).

The model is an untrained NequIP of the chosen size (weights do not change the speed; its energy
scale is small, 0.05, so that relaxations behave). The one-by-one path runs a few calculations
and its rate is extrapolated; batch sizes come from torch-sim's GPU memory estimate. Calculations
per hour = 3600 × calculations / wall seconds. Mean optimizer steps are printed, since the rates
are only comparable at equal work.

Examples
--------
``python benchmarks/fanout_relax_neb.py --device cuda --n-relax 256 --n-neb 64``
``OMP_NUM_THREADS=1 python -m benchmarks.fanout_relax_neb --device cpu --n-relax 4 --n-neb 2 --ase 1``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from ase.constraints import FixAtoms
from ase.optimize import FIRE

from benchmarks._common import MODELS, bcc, machine, sync
from benchmarks.batched_extras import batched_relax, converged_nebs
from benchmarks.fanout_md import ase_calculator
from li_campaign.batched.loader import torchsim_calc
from li_campaign.kinetics.neb import converged_neb
from li_campaign.mlip.untrained import untrained_nequip
from li_campaign.schemas.spec import NebConvergenceSpec, NebSpec, RelaxSpec


def slab(seed: int):
    """A 32-atom bcc slab with vacuum and its bottom layer fixed."""
    atoms = bcc((2, 2, 4), seed)
    atoms.rattle(0.1, seed=seed)
    atoms.center(vacuum=5.0, axis=2)
    bottom = atoms.positions[:, 2].min()
    atoms.set_constraint(FixAtoms(indices=[a.index for a in atoms if a.position[2] < bottom + 0.5]))
    return atoms


def vacancy_hop(seed: int):
    """Start and end of a vacancy hop in a 3×3×3 bcc cell (53 atoms)."""
    atoms = bcc((3, 3, 3), seed)
    atoms.positions[0] = [0.0, 0.0, 0.0]
    atoms.positions[1] = [1.72, 1.72, 1.72]
    start = atoms.copy()
    del start[0]
    end = start.copy()
    end.positions[0] = [0.0, 0.0, 0.0]
    return start, end


def ase_relax(atoms, calc, relax: RelaxSpec) -> tuple:
    """ASE FIRE on one structure, as :func:`li_campaign.simulation.relax.relax_atoms` runs it.

    Repeated here because that module imports pymatgen, which the GPU machine lacks.
    """
    work = atoms.copy()
    work.calc = calc
    optimizer = FIRE(work, logfile=None, trajectory=None)
    converged = bool(optimizer.run(fmax=relax.fmax_eV_A, steps=relax.max_steps))
    return work, float(work.get_potential_energy()), converged, int(optimizer.nsteps)


def rate(n: int, seconds: float) -> float:
    """Calculations per hour."""
    return 3600.0 * n / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--model", default="tiny", choices=list(MODELS))
    parser.add_argument("--n-relax", type=int, default=256)
    parser.add_argument("--n-neb", type=int, default=64)
    parser.add_argument("--ase", type=int, default=3, help="calculations of each kind run one by one")
    args = parser.parse_args()
    device = args.device
    print(machine(device))
    graph = untrained_nequip(MODELS[args.model], energy_scale=0.05).eval()
    print(f"model {args.model}: {sum(p.numel() for p in graph.parameters())} parameters (untrained)")
    calc, model = ase_calculator(graph, device), torchsim_calc(graph, device)
    relax = RelaxSpec(optimizer="FIRE", fmax_eV_A=0.05, max_steps=200)
    neb = NebSpec(n_images=5, fmax_eV_A=0.1, max_steps=100)
    no_refinement = NebConvergenceSpec(enabled=False)

    slabs = [slab(s) for s in range(args.n_relax)]
    start = time.perf_counter()
    one = [ase_relax(s, calc, relax) for s in slabs[: args.ase]]
    sync(device)
    relax_one = rate(len(one), time.perf_counter() - start)
    batched_relax(slabs[:2], model, relax.fmax_eV_A, 5)  # warm-up and memory estimate, not timed
    start = time.perf_counter()
    many = batched_relax(slabs, model, relax.fmax_eV_A, relax.max_steps)
    sync(device)
    relax_many = rate(len(many), time.perf_counter() - start)
    print(
        f"relax: one-by-one {relax_one:.0f} calcs/h (mean {np.mean([r[3] for r in one]):.0f} steps), "
        f"batched N={len(many)} {relax_many:.0f} calcs/h (mean {np.mean([r[3] for r in many]):.0f} steps, "
        f"{sum(r[2] for r in many)}/{len(many)} converged)",
        flush=True,
    )

    pairs = [vacancy_hop(s) for s in range(args.n_neb)]
    start = time.perf_counter()
    one_neb = [converged_neb(a, b, calc, neb, no_refinement) for a, b in pairs[: args.ase]]
    sync(device)
    neb_one = rate(len(one_neb), time.perf_counter() - start)
    start = time.perf_counter()
    many_neb = converged_nebs(pairs, model, neb, no_refinement)
    sync(device)
    neb_many = rate(len(many_neb), time.perf_counter() - start)
    print(
        f"neb: one-by-one {neb_one:.0f} calcs/h (mean {np.mean([o.steps for o in one_neb]):.0f} steps), "
        f"batched M={len(many_neb)} {neb_many:.0f} calcs/h (mean {np.mean([o.steps for o in many_neb]):.0f} steps)",
        flush=True,
    )
    print(f"relax batched/one-by-one: {relax_many / relax_one:.1f}")
    print(f"neb batched/one-by-one: {neb_many / neb_one:.1f}")


if __name__ == "__main__":
    main()
