"""Independent reference answers for the Morse pair potential that stands in for the model/teacher in tests.

Everything here is written from the formula, with numpy and scipy only (no ASE calculator,
no neighbour list, no code of ``li_campaign``), so that a test can compare what the code
under test computed with the Morse calculator against an answer obtained another way:

    φ(r) = ε [e^{−2ρ0 (r/r0 − 1)} − 2 e^{−ρ0 (r/r0 − 1)}] · f_c(r),

f_c the quintic smoothstep that falls from 1 at ``r_in`` to 0 at ``r_out`` (the taper
of ``ase.calculators.morse.MorsePotential``, whose ``rcut1``/``rcut2`` are in units of r0).
Energies are direct sums over periodic images; relaxations are scipy L-BFGS on those sums
with analytic gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, minimize_scalar

EV_PER_A2_IN_J_PER_M2 = 1.602176634e-19 * 1e20
"""1 eV/Å² in J/m² (CODATA elementary charge)."""
EV_PER_A3_IN_GPA = 1.602176634e-19 * 1e30 / 1e9
"""1 eV/Å³ in GPa."""


@dataclass(frozen=True)
class Morse:
    """Morse parameters as the tests' ``MorsePotential(epsilon, r0, rho0, rcut1, rcut2)`` take them."""

    epsilon: float = 0.2
    r0: float = 3.0
    rho0: float = 3.5
    rcut1: float = 1.6
    rcut2: float = 2.0

    @property
    def r_in(self) -> float:
        return self.rcut1 * self.r0

    @property
    def cutoff(self) -> float:
        return self.rcut2 * self.r0

    def _taper(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """f_c and df_c/dr: 1 below r_in, 0 beyond the cutoff, 1 − (10t³ − 15t⁴ + 6t⁵) between (t = 0..1)."""
        t = np.clip((r - self.r_in) / (self.cutoff - self.r_in), 0.0, 1.0)
        f = 1.0 - t**3 * (10.0 - 15.0 * t + 6.0 * t**2)
        df = -30.0 * t**2 * (1.0 - t) ** 2 / (self.cutoff - self.r_in)
        return f, df

    def pair(self, r: np.ndarray) -> np.ndarray:
        """φ(r) (eV)."""
        e = np.exp(-self.rho0 * (np.asarray(r) / self.r0 - 1.0))
        return self.epsilon * (e * e - 2.0 * e) * self._taper(np.asarray(r))[0]

    def pair_derivative(self, r: np.ndarray) -> np.ndarray:
        """dφ/dr (eV/Å)."""
        r = np.asarray(r)
        e = np.exp(-self.rho0 * (r / self.r0 - 1.0))
        f, df = self._taper(r)
        bare = self.epsilon * (e * e - 2.0 * e)
        dbare = self.epsilon * (-2.0 * self.rho0 / self.r0) * (e * e - e)
        return dbare * f + bare * df

    # -- periodic sums ---------------------------------------------------------------------

    def _shifts(self, cell: np.ndarray, pbc=(True, True, True), cutoff: float | None = None) -> np.ndarray:
        """Cartesian lattice translations that can bring an image within the cutoff."""
        cutoff = self.cutoff if cutoff is None else cutoff
        heights = 1.0 / np.linalg.norm(np.linalg.inv(cell).T, axis=1)  # spacings of the lattice planes
        reach = [int(np.ceil(cutoff / h)) + 1 if p else 0 for h, p in zip(heights, pbc)]
        n = np.array(np.meshgrid(*[np.arange(-k, k + 1) for k in reach], indexing="ij")).reshape(3, -1).T
        return n @ cell

    def _pairs(self, positions: np.ndarray, cell: np.ndarray, pbc) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(i, d_ij, r_ij) of every ordered pair i, j + image within the cutoff (d = x_j + T − x_i)."""
        shifts = self._shifts(cell, pbc)
        d = positions[None, None, :, :] - positions[None, :, None, :] + shifts[:, None, None, :]  # (M, i, j, 3)
        r = np.linalg.norm(d, axis=-1)
        keep = (r > 1e-8) & (r < self.cutoff)
        i = np.broadcast_to(np.arange(len(positions))[None, :, None], r.shape)[keep]
        return i, d[keep], r[keep]

    def energy(self, positions, cell, pbc=(True, True, True)) -> float:
        """Total energy (eV) of the periodic cell: ½ Σ_i Σ_{j,T} φ(|x_j + T − x_i|)."""
        _, _, r = self._pairs(np.asarray(positions, float), np.asarray(cell, float), pbc)
        return 0.5 * float(np.sum(self.pair(r)))

    def forces(self, positions, cell, pbc=(True, True, True)) -> np.ndarray:
        """Forces (eV/Å): F_i = Σ_{j,T} φ'(r) d/r."""
        positions = np.asarray(positions, float)
        i, d, r = self._pairs(positions, np.asarray(cell, float), pbc)
        per_pair = (self.pair_derivative(r) / r)[:, None] * d
        out = np.zeros_like(positions)
        np.add.at(out, i, per_pair)
        return out

    def structure_energy(self, structure) -> float:
        """Energy of a pymatgen Structure (periodic in 3D)."""
        return self.energy(structure.cart_coords, structure.lattice.matrix)

    def relax(self, positions, cell, fixed=(), fmax: float = 1e-4, fixed_xy=()) -> tuple[float, np.ndarray]:
        """Minimise the energy over the positions of the atoms not in ``fixed`` (fixed cell); the atoms in
        ``fixed_xy`` move along z only.

        Stops when no free force component exceeds ``fmax`` (eV/Å); returns the relaxed energy (eV) and positions (Å).
        """
        positions = np.array(positions, float)
        cell = np.asarray(cell, float)
        mask = np.ones(positions.shape, bool)
        mask[np.asarray(fixed, int)] = False
        mask[np.asarray(fixed_xy, int), :2] = False
        skin = 1.0  # pairs within cutoff + skin are listed once; the list is rebuilt if an atom moves skin/2
        listed = {"origin": None}

        def pair_list(trial: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            if listed["origin"] is None or np.abs(trial - listed["origin"]).max() > skin / 2:
                shifts = self._shifts(cell, (True, True, True), self.cutoff + skin)
                d = trial[None, None, :, :] - trial[None, :, None, :] + shifts[:, None, None, :]
                r = np.linalg.norm(d, axis=-1)
                s_idx, i, j = np.nonzero((r > 1e-8) & (r < self.cutoff + skin))
                listed.update(origin=trial.copy(), pairs=(i, j, shifts[s_idx]))
            return listed["pairs"]

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            trial = positions.copy()
            trial[mask] = x
            i, j, shift = pair_list(trial)
            d = trial[j] + shift - trial[i]
            r = np.linalg.norm(d, axis=1)
            forces = np.zeros_like(trial)
            np.add.at(forces, i, (self.pair_derivative(r) / r)[:, None] * d)
            return 0.5 * float(np.sum(self.pair(r))), -forces[mask]

        options = {"gtol": fmax, "ftol": 1e-15, "maxiter": 10000, "maxcor": 30}
        best = minimize(fun, positions[mask], jac=True, method="L-BFGS-B", options=options)
        out = positions.copy()
        out[mask] = best.x
        assert np.abs(self.forces(out, cell)[mask]).max() < fmax, f"reference relaxation did not converge: {best.message}"
        return float(best.fun), out

    def relax_structure(self, structure) -> tuple[float, np.ndarray]:
        """:meth:`relax` of a pymatgen Structure; sites whose ``selective_dynamics`` are all False stay fixed."""
        flags = structure.site_properties.get("selective_dynamics")
        fixed = [k for k, f in enumerate(flags) if not any(f)] if flags is not None else []
        return self.relax(structure.cart_coords, structure.lattice.matrix, fixed)

    # -- bcc lattice sums ------------------------------------------------------------------

    def bcc_vectors(self, a: float) -> np.ndarray:
        """Every bcc lattice vector (lattice constant a) shorter than the cutoff, the origin excluded."""
        m = int(np.ceil(self.cutoff / a)) + 1
        n = np.arange(-m, m + 1)
        grid = np.array(np.meshgrid(n, n, n, indexing="ij")).reshape(3, -1).T
        vectors = np.vstack([grid, grid + 0.5]) * a
        r = np.linalg.norm(vectors, axis=1)
        return vectors[(r > 1e-9) & (r < self.cutoff)]

    def bcc_energy_per_atom(self, a: float) -> float:
        """ε_bulk(a) = ½ Σ_R φ(|R|) (eV/atom)."""
        return 0.5 * float(np.sum(self.pair(np.linalg.norm(self.bcc_vectors(a), axis=1))))

    def bcc_lattice_constant(self, bracket=(2.5, 3.6)) -> float:
        """The a that minimises ε_bulk (zero pressure at 0 K)."""
        return float(minimize_scalar(self.bcc_energy_per_atom, bounds=bracket, method="bounded", options={"xatol": 1e-9}).x)

    def bcc_cubic_constants_GPa(self, a: float) -> tuple[float, float, float]:
        """C11, C12, C44 (GPa) of bcc at zero stress from the Born lattice sum of a central pair potential.

        C_ijkl = (1/2Ω) Σ_R (φ'' − φ'/r) R_i R_j R_k R_l / r², Ω = a³/2; C12 = C44 (Cauchy).
        φ'' by a central difference of the analytic φ'.
        """
        vectors = self.bcc_vectors(a)
        r = np.linalg.norm(vectors, axis=1)
        h = 1e-5
        d2 = (self.pair_derivative(r + h) - self.pair_derivative(r - h)) / (2 * h)
        w = (d2 - self.pair_derivative(r) / r) / r**2 / (2 * (a**3 / 2))
        x, y = vectors[:, 0], vectors[:, 1]
        c11 = float(np.sum(w * x**4)) * EV_PER_A3_IN_GPA
        c12 = float(np.sum(w * x**2 * y**2)) * EV_PER_A3_IN_GPA
        return c11, c12, c12
