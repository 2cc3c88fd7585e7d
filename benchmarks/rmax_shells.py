"""Where nequip's cutoff envelope leaves bcc Li's neighbour shells, for candidate r_max.

NequIP's radial basis is multiplied by the polynomial cutoff envelope (p = 6, its default,
nequip.nn.embedding PolynomialCutoff) f(u) = 1 - 28 u^6 + 48 u^7 - 21 u^8, u = r / r_max. A shell
whose envelope is ~0 is effectively outside the model. Also counts neighbours within r_max
(the cost of a message-passing layer grows with it), for a0 = 3.43 Å (the GPAW PBE teacher)
and the shells of a (110)/(111) surface atom being the same set of distances.

Run: .venv/bin/python benchmarks/rmax_shells.py > benchmarks/results/rmax_shells_<date>.txt
"""

from __future__ import annotations

import numpy as np
from ase.build import bulk
from ase.neighborlist import neighbor_list

A0 = 3.433  # GPAW PBE teacher a0 (README)
P = 6


def envelope(u: np.ndarray) -> np.ndarray:
    u = np.asarray(u, dtype=float)
    f = 1 - (P + 1) * (P + 2) / 2 * u**P + P * (P + 2) * u ** (P + 1) - P * (P + 1) / 2 * u ** (P + 2)
    return np.where(u < 1, f, 0.0)


def main() -> None:
    atoms = bulk("Li", "bcc", a=A0, cubic=True) * 4
    d = neighbor_list("d", atoms, 7.5)
    d0 = d[neighbor_list("i", atoms, 7.5) == 0]
    shells, counts = np.unique(np.round(d0, 3), return_counts=True)
    print(f"bcc Li a0 = {A0} Å; shells (Å) and their neighbour counts:")
    for r, n in zip(shells, counts):
        print(f"  {r:6.3f} Å  x{n}")
    print("\nenvelope f(r/r_max) at each shell (p = 6), and neighbours within r_max:")
    for r_max in (4.5, 5.0, 5.5, 6.0, 6.5):
        env = "  ".join(f"{r:.2f}:{envelope(r / r_max):.3f}" for r in shells if r < r_max)
        print(f"  r_max {r_max:3.1f} Å  neighbours {int(np.sum(d0 < r_max)):3d}   {env}")


if __name__ == "__main__":
    main()
