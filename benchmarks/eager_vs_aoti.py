"""Per-call time of a deployed model loaded eager (``.nequip.zip``) and AOTInductor-compiled (``.nequip.pt2``).

Measured side by side in one run, alternating, on the cells the fan-out evaluates (a 54-atom bcc
bulk, a 54-atom (110) and a 108-atom (111) slab, lightly rattled): the best of two rounds of 20
energy+forces calls each. Both files come from a campaign's ``models`` folder, loaded with
:func:`li_campaign.mlip.calculator.load_calculator` (sha256-checked) as the jobs load them.

Usage: python benchmarks/eager_vs_aoti.py CAMPAIGN_DIR/models
"""

from __future__ import annotations

import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from ase.build import bcc110, bcc111, bulk

from li_campaign.core.hashing import file_sha256
from li_campaign.mlip.calculator import load_calculator


def main() -> None:
    models = Path(sys.argv[1])
    (package,) = models.glob("*.nequip.zip")
    (compiled,) = models.glob("*.nequip.pt2")
    calcs = {
        "eager": load_calculator(package, file_sha256(package), "eager"),
        "aoti": load_calculator(compiled, file_sha256(compiled), "aotinductor"),
    }
    print(f"# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, load {os.getloadavg()[0]:.2f}; models {models}")  # fmt: skip
    cells = {
        "bulk 3x3x3": bulk("Li", "bcc", a=3.43, cubic=True).repeat(3),
        "slab (110) 3x3x6": bcc110("Li", (3, 3, 6), a=3.43, vacuum=8),
        "slab (111) 3x3x12": bcc111("Li", (3, 3, 12), a=3.43, vacuum=8),
    }
    print(f"{'cell':>18} {'atoms':>5} {'eager_ms':>9} {'aoti_ms':>8} {'eager/aoti':>10}")
    for name, atoms in cells.items():
        atoms.rattle(0.02, seed=0)
        best: dict[str, float] = {}
        for mode in ("eager", "aoti", "eager", "aoti"):
            trial = atoms.copy()
            trial.calc = calcs[mode]
            trial.get_forces()  # warm-up call
            start = time.perf_counter()
            for _ in range(20):
                trial.positions[0, 0] += 1e-4
                trial.get_forces()
            best[mode] = min(best.get(mode, float("inf")), (time.perf_counter() - start) / 20)
        print(f"{name:>18} {len(atoms):5d} {best['eager'] * 1e3:9.1f} {best['aoti'] * 1e3:8.1f} "
              f"{best['eager'] / best['aoti']:10.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
