"""Known answer for the effective (minimax) surface-diffusion barrier: the adatom potential-energy surface.

On a rigid slab (every slab atom fixed) the adatom's energy is a function of its lateral
position alone once its height is relaxed, E(x, y) = min_z E(x, y, z). The barrier of
long-range transport along a surface vector is the minimax of E over paths from the global
minimum to its own periodic image one cell away, minus the minimum. Here that answer is
computed without any code of li_campaign: the Morse pair sum of tests/morse_reference.py
(numpy) on a dense periodic grid over the slab's primitive surface cell, the height relaxed
at each grid point (scipy ``minimize_scalar``), the minimum refined by scipy ``minimize``, and
the bottleneck path found by a minimax Dijkstra on the grid unfolded over several cells
(8 neighbours per point). The campaign's ``adsorption_sites`` + ``diffusion_barriers`` +
``surface_barriers`` with the same Morse potential (ASE) must agree within 10 meV.
"""

from __future__ import annotations

import heapq

import numpy as np
import pytest
from ase.calculators.morse import MorsePotential
from scipy.optimize import minimize, minimize_scalar

from li_campaign.bulk.eos import fit_bulk_eos
from li_campaign.geometry.slabs import make_symmetric_slab
from li_campaign.kinetics.diffusion import NoHopNetworkError, diffusion_barriers, surface_barriers
from li_campaign.schemas.spec import EosSpec, FanOutSpec, HopSpec
from li_campaign.surfaces.adsorption import adsorption_sites
from tests.morse_reference import Morse

SPEC = FanOutSpec.model_validate(
    {
        # every slab atom fixed (fix_bottom_A beyond the slab): a rigid slab, so E(x, y) is well defined;
        # a 2 × 2 cell is enough: the adatom's interaction with its own images does not depend on its position
        "slab": {"min_slab_size_A": 4.0, "min_vacuum_A": 8.0, "min_lateral_A": 5.0, "fix_bottom_A": 100.0},
        "relax": {"fmax_eV_A": 0.01, "max_steps": 300, "optimizer": "LBFGS"},
        "neb": {"n_images": 3, "fmax_eV_A": 0.05, "max_steps": 100},
    }
)
GRID_A = 0.08
"""Grid spacing of the reference PES (Å): its minimax overestimates the saddle by ~k (h/2)²/2, about 1 meV."""


def morse() -> MorsePotential:
    return MorsePotential(epsilon=0.2, r0=3.0, rho0=3.5, rcut1=1.6, rcut2=2.0)


@pytest.fixture(scope="module")
def bulk():
    return fit_bulk_eos(morse(), 2.92, EosSpec())


class AdatomPes:
    """E(x, y) = min_z Σ φ(|r − x_j − T|) of one adatom over a rigid slab, φ the Morse pair of morse_reference."""

    def __init__(self, positions: np.ndarray, cell: np.ndarray):
        self.cell = np.asarray(cell, dtype=float)
        self.top = float(positions[:, 2].max())
        plane = self.cell[:2, :2]
        reach = [int(np.ceil(Morse().cutoff / np.linalg.norm(v))) + 2 for v in plane]
        shifts = np.array([(i, j) for i in range(-reach[0], reach[0] + 1) for j in range(-reach[1], reach[1] + 1)])
        images = positions[None, :, :] + np.pad(shifts @ plane, ((0, 0), (0, 1)))[:, None, :]
        self.images = images.reshape(-1, 3)

    def at_height(self, xy: np.ndarray, z: float) -> float:
        r = np.linalg.norm(self.images - np.array([xy[0], xy[1], z]), axis=1)
        return float(Morse().pair(r[r < Morse().cutoff]).sum())

    def energy(self, xy: np.ndarray) -> float:
        local = self.images[np.linalg.norm(self.images[:, :2] - xy, axis=1) < Morse().cutoff + 0.1]
        result = minimize_scalar(
            lambda z: float(Morse().pair(np.linalg.norm(local - np.array([xy[0], xy[1], z]), axis=1)).sum()),
            bounds=(self.top + 0.3, self.top + 4.0),
            method="bounded",
            options={"xatol": 1e-5},
        )
        return float(result.fun)


def minimax_reference(pes: AdatomPes, n: tuple[int, int]) -> tuple[float, dict[str, float]]:
    """Global minimum of E(x, y) and, per surface vector of ``pes.cell``, the minimax barrier to the own image."""
    plane = pes.cell[:2, :2]
    frac = np.array([(i / n[0], j / n[1]) for i in range(n[0]) for j in range(n[1])])
    grid = np.array([pes.energy(f @ plane) for f in frac]).reshape(n)
    start = np.unravel_index(np.argmin(grid), grid.shape)
    ground = minimize(lambda f: pes.energy(f @ plane), np.array(start) / n, method="Nelder-Mead",
                      options={"xatol": 1e-5, "fatol": 1e-7}).fun
    ground = min(ground, grid.min())
    tiles = 3  # unfolded domain: cells -1 .. 1 across, -1 .. 2 along the direction
    barriers = {}
    for name, step in (("a", (1, 0)), ("b", (0, 1))):
        lo = np.array([-tiles // 2 * n[0], -tiles // 2 * n[1]])
        hi = lo + np.array([(tiles + step[0]) * n[0], (tiles + step[1]) * n[1]])
        origin = (start[0], start[1])
        goal = (start[0] + step[0] * n[0], start[1] + step[1] * n[1])
        best = {origin: grid[origin]}
        heap = [(grid[origin], origin)]
        while heap:
            level, (i, j) = heapq.heappop(heap)
            if (i, j) == goal:
                break
            if level > best[(i, j)]:
                continue
            for di in (-1, 0, 1):
                for dj in (-1, 0, 1):
                    k, m = i + di, j + dj
                    if (di, dj) == (0, 0) or not (lo[0] <= k < hi[0] and lo[1] <= m < hi[1]):
                        continue
                    value = max(level, grid[k % n[0], m % n[1]])
                    if value < best.get((k, m), np.inf):
                        best[(k, m)] = value
                        heapq.heappush(heap, (value, (k, m)))
        barriers[name] = float(best[goal] - ground)
    return float(ground), barriers


def campaign_and_reference(bulk, hkl):
    a = bulk["lattice_constant_A"]
    slab = make_symmetric_slab(a, hkl, SPEC.slab.min_slab_size_A, SPEC.slab.min_vacuum_A)
    ads = adsorption_sites(morse(), slab, bulk["energy_per_atom_eV"], SPEC)
    result = diffusion_barriers(morse(), ads, SPEC)
    summary = surface_barriers(result, ads["min_site"])
    pes = AdatomPes(slab.cart_coords, slab.lattice.matrix)  # the primitive surface cell: E(x, y) has its period
    plane = slab.lattice.matrix[:2, :2]
    n = tuple(int(np.ceil(np.linalg.norm(v) / GRID_A)) for v in plane)
    return ads, result, summary, minimax_reference(pes, n)


@pytest.mark.slow
@pytest.mark.parametrize("hkl", [(1, 0, 0), (1, 1, 0), (2, 1, 1)])
def test_effective_barrier_matches_the_pes_minimax(bulk, hkl):
    ads, result, summary, (_, reference) = campaign_and_reference(bulk, hkl)
    expected = min(reference.values())
    assert summary.effective_barrier_eV == pytest.approx(expected, abs=0.010), (summary, reference)
    # the direction the campaign finds easiest is easy on the PES too
    assert summary.effective_barrier_eV == pytest.approx(min(v for v in summary.effective_barrier_by_direction_eV.values() if v is not None))
    best = min(reference, key=reference.get)
    assert summary.effective_barrier_by_direction_eV[best] == pytest.approx(reference[best], abs=0.010)
    assert summary.effective_mechanism == "hop" and summary.effective_path
    if hkl == (1, 1, 0):
        assert summary.percolates == {"a": True, "b": True}
        assert summary.effective_barrier_by_direction_eV["a"] == pytest.approx(reference["a"], abs=0.010)
        assert summary.effective_barrier_by_direction_eV["b"] == pytest.approx(reference["b"], abs=0.010)
    if hkl == (2, 1, 1):  # across the trough the nearest stable copies are 1.6 d_nn apart, beyond the 1.25 d_nn cutoff:
        # the graph grows to that shell (hops.max_extended_hop_nn) and the cross-trough barrier is the PES's too
        d_nn = np.sqrt(3) / 2 * bulk["lattice_constant_A"]
        assert result.graph.cutoff_A > 1.5 * d_nn and summary.percolates == {"a": True, "b": True}
        assert summary.effective_barrier_by_direction_eV["b"] == pytest.approx(reference["b"], abs=0.010)


@pytest.mark.slow
def test_a_network_that_does_not_percolate_grows_by_distance_shells(bulk):
    """(100) with a hop cutoff below the hollow-hollow distance (1.15 d_nn): no edge at 0.5 d_nn, so the
    graph grows to the first shell of hollow copies and gives the PES minimax; without room to grow
    (max_extended_hop_nn = max_hop_nn) it says the network does not percolate."""
    a = bulk["lattice_constant_A"]
    slab = make_symmetric_slab(a, (1, 0, 0), SPEC.slab.min_slab_size_A, SPEC.slab.min_vacuum_A)
    ads = adsorption_sites(morse(), slab, bulk["energy_per_atom_eV"], SPEC)
    short = SPEC.model_copy(update={"hops": HopSpec(max_hop_nn=0.5)})
    result = diffusion_barriers(morse(), ads, short)
    summary = surface_barriers(result, ads["min_site"])
    pes = AdatomPes(slab.cart_coords, slab.lattice.matrix)
    n = tuple(int(np.ceil(np.linalg.norm(v) / GRID_A)) for v in slab.lattice.matrix[:2, :2])
    _, reference = minimax_reference(pes, n)
    assert result.graph.cutoff_A == pytest.approx(a, abs=0.01)  # the hollow copies' shell: one lattice constant
    assert summary.percolates == {"a": True, "b": True}
    assert summary.effective_barrier_eV == pytest.approx(min(reference.values()), abs=0.010)
    fixed = SPEC.model_copy(update={"hops": HopSpec(max_hop_nn=0.5, max_extended_hop_nn=0.5)})
    with pytest.raises(NoHopNetworkError, match=r"no hop found between the stable sites \['hollow-0'\] within 1\.\d\d Å"):
        diffusion_barriers(morse(), ads, fixed)


@pytest.mark.slow
def test_site_curvature_is_that_of_the_pes_and_only_minima_are_stable(bulk):
    """(100), rigid slab: each site's in-plane Hessian against finite differences of E(x, y, z) at its height.

    The ontop site is a maximum and the bridge a saddle of the adatom's energy (curvatures of
    the independent pair sum); only the hollow, a minimum, may be stable, so no NEB starts
    from a saddle.
    """
    slab = make_symmetric_slab(bulk["lattice_constant_A"], (1, 0, 0), SPEC.slab.min_slab_size_A, SPEC.slab.min_vacuum_A)
    ads = adsorption_sites(morse(), slab, bulk["energy_per_atom_eV"], SPEC)
    pes = AdatomPes(slab.cart_coords, slab.lattice.matrix)
    h = 0.01
    signs = {}
    for site in ads["sites"]:
        x, y, z = site.position_A
        e = lambda dx, dy: pes.at_height(np.array([x + dx, y + dy]), z)  # noqa: E731
        hxx = (e(h, 0) - 2 * e(0, 0) + e(-h, 0)) / h**2
        hyy = (e(0, h) - 2 * e(0, 0) + e(0, -h)) / h**2
        hxy = (e(h, h) - e(h, -h) - e(-h, h) + e(-h, -h)) / (4 * h**2)
        expected = np.linalg.eigvalsh([[hxx, hxy], [hxy, hyy]])
        assert site.lateral_curvature_eV_A2 == pytest.approx(expected, rel=0.02, abs=2e-3), site.label
        signs[site.site_type] = int(np.sum(expected < 0))
        assert site.stable == bool(expected.min() > 0), site.label
    assert signs == {"ontop": 2, "bridge": 1, "hollow": 0}
