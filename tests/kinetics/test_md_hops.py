"""Adatom MD that hops: site-to-site hop counting, validity, the sink rule, the melting limit, the run length, the thermostat."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atom
from ase.calculators.morse import MorsePotential
from ase.constraints import FixAtoms
from ase.md.langevin import Langevin
from ase.units import fs, kB
from pydantic import ValidationError

from li_campaign.geometry.slabs import adatom_start_position, make_symmetric_slab, nearest_neighbour_distance
from li_campaign.kinetics.md_diffusion import (
    MSD_PLAN_MARGIN,
    SINK_TOLERANCE_A,
    adatom_events,
    adatom_friction,
    count_site_hops,
    diffusion_coefficient_2d,
    hop_rate_per_fs,
    planned_production_steps,
    residence_sites,
    site_spacing,
    surface_coordination,
    validity_reasons,
)
from li_campaign.schemas.spec import MdDiffusionSpec
from li_campaign.simulation.relax import structure_to_atoms

SQUARE = 3.0 * np.eye(2)  # square site lattice, a = 3 Å, one site per cell at the origin
ORIGIN = np.zeros((1, 2))
CAPTURE = 0.3 * 3.0


def planted_path(moves: list[tuple[int, int]], dwell: int, rng: np.random.Generator, noise_A: float = 0.15) -> np.ndarray:
    """Samples of an adatom that rests ``dwell`` samples at a site, then crosses to the next in 3 samples; Gaussian vibration."""
    site = np.zeros(2)
    path = [site + rng.normal(0.0, noise_A, (dwell, 2))]
    for move in moves:
        target = site + 3.0 * np.array(move, dtype=float)
        crossing = site + np.outer([0.25, 0.5, 0.75], target - site)
        path += [crossing, target + rng.normal(0.0, noise_A, (dwell, 2))]
        site = target
    return np.concatenate(path)[:, None, :]  # (n_samples, 1 atom, 2)


def test_counter_finds_exactly_the_planted_hops():
    rng = np.random.default_rng(0)
    moves = [(1, 0), (1, 0), (0, 1), (-1, 0), (0, -1), (0, -1), (1, 0), (0, 1), (0, 1), (1, 0), (-1, 0), (0, 1)]
    xy = planted_path(moves, dwell=40, rng=rng)
    out = count_site_hops(xy, ORIGIN, SQUARE, CAPTURE)
    assert out["n_hops"] == len(moves) == 12 and out["hops_per_adatom"] == [12]
    assert out["hop_lengths_A"] == pytest.approx([3.0] * 12) and out["hop_length_A"] == pytest.approx(3.0)
    # a hop is seen on arrival within the capture radius: after 40 dwell samples the crossing samples are 2.25,
    # 1.5 and 0.75 Å from the new site, so the third (sample 42) is captured
    assert out["hop_samples"][0][0] == 42


def test_vibration_alone_and_turned_back_attempts_are_no_hops():
    rng = np.random.default_rng(1)
    vibration = rng.normal(0.0, 0.25, (2000, 3, 2)) + np.array([[0.0, 0.0], [3.0, 6.0], [-3.0, 3.0]])
    out = count_site_hops(vibration, ORIGIN, SQUARE, CAPTURE)
    assert out["n_hops"] == 0 and out["hops_per_adatom"] == [0, 0, 0] and out["hop_length_A"] is None
    # an adatom that climbs to the bridge (1.5 Å, the midpoint) and a bit beyond, then turns back, has not hopped:
    # nearest-site assignment without hysteresis would count two hops for each such attempt
    attempt = np.array([[0.0, 0.0], [0.8, 0.0], [1.5, 0.0], [1.7, 0.0], [1.5, 0.0], [0.8, 0.0], [0.0, 0.0]])
    path = np.concatenate([attempt] * 5)[:, None, :]
    assert count_site_hops(path, ORIGIN, SQUARE, CAPTURE)["n_hops"] == 0
    # a capture radius of 1.4 Å reaches the 1.7 Å point (1.3 Å from the next site): there and back, two hops each
    assert count_site_hops(path, ORIGIN, SQUARE, 1.4)["n_hops"] == 10
    with pytest.raises(ValueError, match=r"capture radius 1.6 Å: must lie in \(0, 1.500\) Å"):
        count_site_hops(path, ORIGIN, SQUARE, 1.6)


def test_hops_on_a_lattice_with_two_sites_per_cell_and_across_the_cell_boundary():
    # rectangular cell 4 × 3 Å with sites at (1, 1.5) and (3, 1.5): the site lattice is a row 2 Å apart along x
    cell = np.array([[4.0, 0.0], [0.0, 3.0]])
    sites = np.array([[1.0, 1.5], [3.0, 1.5]])
    assert site_spacing(sites, cell) == pytest.approx(2.0)
    x = np.repeat(1.0 + 2.0 * np.arange(6), 20) + np.random.default_rng(2).normal(0.0, 0.1, 120)  # 5 hops along +x
    xy = np.stack([x, np.full_like(x, 1.5)], axis=1)[:, None, :]
    out = count_site_hops(xy, sites, cell, 0.6)
    assert out["n_hops"] == 5 and out["hop_lengths_A"] == pytest.approx([2.0] * 5)


def test_residence_sites_are_where_the_adatom_rests_not_where_it_crosses():
    rng = np.random.default_rng(3)
    moves = [(1, 0), (0, 1), (1, 0), (0, -1), (-1, 0)] * 4
    xy = planted_path(moves, dwell=30, rng=rng) + np.array([1.5, 1.5])  # sites at the cell centre (a hollow)
    sites = residence_sites(xy, SQUARE)
    assert sites.shape == (1, 2)
    assert sites[0] == pytest.approx([1.5, 1.5], abs=0.1)


def lattice_walk(n_hops: int, n_samples: int, rng: np.random.Generator, noise_A: float = 0.15) -> np.ndarray:
    """One adatom making ``n_hops`` random ±x/±y hops of 3 Å at random samples, with vibration."""
    steps = np.zeros((n_samples, 2))
    when = rng.choice(np.arange(1, n_samples), n_hops, replace=False)
    steps[when] = 3.0 * np.array([(1, 0), (-1, 0), (0, 1), (0, -1)])[rng.integers(0, 4, n_hops)]
    return (np.cumsum(steps, axis=0) + rng.normal(0.0, noise_A, (n_samples, 2)))[:, None, :]


def test_valid_only_with_enough_hops_an_msd_beyond_hop_lengths_and_the_slab_at_its_temperature():
    spec = MdDiffusionSpec(temperatures_K=[300.0])
    rng = np.random.default_rng(4)
    cases = {}
    for name, n_hops in (("hopping", 400), ("vibrating", 0), ("rare", 6)):
        xy = lattice_walk(n_hops, 2000, rng)
        hops = count_site_hops(xy, ORIGIN, SQUARE, CAPTURE)
        msd_end = diffusion_coefficient_2d(xy, 20.0, spec.fit_window, spec.n_segments)["msd_A2"][-1]
        cases[name] = (hops, msd_end)
    hops, msd_end = cases["hopping"]
    # collisions of random hop times aside (two hops in one sample look like one diagonal move) the counter finds them
    assert 390 <= hops["n_hops"] <= 400 and msd_end > 3 * 9.0
    assert validity_reasons(hops["n_hops"], hops["hop_length_A"], msd_end, 310.0, 300.0, spec) == []
    hops, msd_end = cases["vibrating"]
    reasons = validity_reasons(hops["n_hops"], 3.0, msd_end, 300.0, 300.0, spec)
    assert reasons[0] == "0 site-to-site hops, fewer than min_hops_valid = 10"
    assert reasons[1].startswith("MSD at the end of the fit window") and reasons[1].endswith("vibration inside sites")
    assert len(reasons) == 2
    hops, msd_end = cases["rare"]
    assert hops["n_hops"] == 6
    assert validity_reasons(hops["n_hops"], 3.0, msd_end, 300.0, 300.0, spec)[0].startswith("6 site-to-site hops")
    # a hopping run whose thermostatted slab is 15 % too hot is not valid either
    hops, msd_end = cases["hopping"]
    hot = validity_reasons(hops["n_hops"], 3.0, msd_end, 345.0, 300.0, spec)
    assert hot == ["thermostatted slab at 345 K, +15% from 300 K (tolerance 10%)"]
    assert validity_reasons(hops["n_hops"], 3.0, None, 300.0, 300.0, spec) == ["too short to analyse"]


def test_sinking_is_judged_by_the_top_plane_not_by_a_fraction_of_the_start_height():
    # heights above the top atomic plane (Å): an adatom resting in the (111) deep hollow 0.99 Å above it, started 2.0 Å
    # up (0.99 < 0.4 × 2.0 would have been "sunk" by the old rule), one that drops below the plane, one that leaves
    heights = np.array([[2.0, 2.0, 2.0], [0.99, 1.2, 2.5], [0.99, 0.02, 4.0], [0.99, -0.2, 5.5]])
    sunk, desorbed = adatom_events(heights, heights[0])
    assert not sunk[:, 0].any() and not desorbed[:, 0].any()
    assert sunk[:, 1].tolist() == [False, False, False, True]  # 0.02 Å above the plane: still on it
    assert desorbed[:, 2].tolist() == [False, False, False, True]  # 3.5 Å above its start
    assert adatom_events(np.array([[-SINK_TOLERANCE_A + 1e-3]]), np.array([1.0]))[0].item() is False
    assert adatom_events(np.array([[-SINK_TOLERANCE_A - 1e-3]]), np.array([1.0]))[0].item() is True


def test_no_temperature_within_ten_percent_of_melting():
    with pytest.raises(ValidationError, match=r"temperatures_K \[410.0\]: .* = 408.3 K") as caught:
        MdDiffusionSpec(temperatures_K=[300.0, 410.0])
    assert caught.value.errors()[0]["loc"] == ("temperatures_K",)
    with pytest.raises(ValidationError, match=r"temperatures_K \[450.0\]"):
        MdDiffusionSpec(temperatures_K=[450.0])
    assert MdDiffusionSpec(temperatures_K=[408.0]).temperatures_K == [408.0]
    with pytest.raises(ValidationError, match="max_production_steps 200 < production_steps 3000"):
        MdDiffusionSpec(max_production_steps=200)


def test_run_length_follows_the_barrier_by_its_formula():
    spec = MdDiffusionSpec(temperatures_K=[300.0], production_steps=1000, max_production_steps=200_000, sample_every=10)
    barrier, t, z = 0.1, 300.0, 4
    rate = z * spec.attempt_frequency_THz * 1e-3 * np.exp(-barrier / (kB * t))  # per fs
    assert hop_rate_per_fs(barrier, t, spec.attempt_frequency_THz, z) == pytest.approx(rate, rel=1e-12)
    for n_adatoms in (1, 3):
        plan = planned_production_steps(barrier, t, n_adatoms, spec, z)
        per_step = rate * spec.timestep_fs
        for_hops = spec.min_hops / (n_adatoms * per_step)
        for_msd = MSD_PLAN_MARGIN * spec.msd_hop_factor * spec.n_segments / (spec.fit_window[1] * per_step)
        assert plan["planned_production_steps"] == int(np.ceil(max(for_hops, for_msd)))
        assert plan["production_steps"] == int(np.ceil(plan["planned_production_steps"] / 10) * 10)
        assert plan["expected_hops"] == pytest.approx(rate * n_adatoms * plan["production_steps"] * spec.timestep_fs)
        assert plan["expected_hops"] >= spec.min_hops
    # Γ = 4 × 2 THz × exp(−0.1 eV / k_B 300 K) = 0.167 ps⁻¹; the MSD criterion decides, 2 × 3 × 4 / (0.4 Γ dt) steps
    assert planned_production_steps(barrier, t, 1, spec, z)["production_steps"] == 179460
    capped = planned_production_steps(0.3, t, 1, spec, z)
    assert capped["production_steps"] == 200_000 and "capped at max_production_steps 200000" in capped["run_length_reason"]
    floored = planned_production_steps(0.0, t, 1, spec.model_copy(update={"production_steps": 5000}), z)
    assert floored["planned_production_steps"] == 3750  # 24 / (0.4 × 8 THz × 2 fs)
    assert floored["production_steps"] == 5000 and "raised to production_steps 5000" in floored["run_length_reason"]
    unknown = planned_production_steps(None, t, 1, spec, z)
    assert unknown["production_steps"] == 1000 and unknown["planned_production_steps"] is None
    assert unknown["run_length_reason"] == "no facet barrier given: production_steps of the spec"


def test_hop_coordination_is_that_of_the_surface_lattice():
    a = 3.44
    z = {hkl: surface_coordination(make_symmetric_slab(a, hkl, 6.0, 10.0).lattice.matrix) for hkl in ((1, 0, 0), (1, 1, 0), (1, 1, 1))}
    assert z == {(1, 0, 0): 4, (1, 1, 0): 4, (1, 1, 1): 6}


def test_the_thermostat_acts_on_the_slab_and_not_on_the_adatom():
    friction = adatom_friction(5, [4], 0.01 / fs)
    assert friction.shape == (5, 1) and friction[:4, 0] == pytest.approx([0.01 / fs] * 4) and friction[4, 0] == 0.0
    # a (100) slab held fixed and one adatom with the per-atom friction: the adatom alone moves, by velocity Verlet,
    # and conserves its energy; with the same friction on it, the Langevin bath changes its energy
    a = 2.9188
    slab = make_symmetric_slab(a, (1, 0, 0), 4.0, 8.0)
    slab.make_supercell([2, 2, 1])
    site = np.array([a / 2, a / 2, 0.0])
    drift = {}
    for label, adatom_gamma in (("adatom free", 0.0), ("adatom in the bath", 0.05)):
        atoms = structure_to_atoms(slab)
        atoms.append(Atom("Li", adatom_start_position(slab, site, nearest_neighbour_distance(slab)) + [0.3, 0.0, 0.3]))
        atoms.set_constraint(FixAtoms(indices=list(range(len(atoms) - 1))))
        atoms.calc = MorsePotential(epsilon=0.2, r0=3.0, rho0=3.5, rcut1=1.6, rcut2=2.0)
        gamma = adatom_friction(len(atoms), [len(atoms) - 1], 0.05 / fs)
        gamma[-1] = adatom_gamma / fs
        dynamics = Langevin(atoms, 1.0 * fs, temperature_K=300.0, friction=gamma, fixcm=False, rng=np.random.default_rng(5))
        energies = []
        for _ in range(150):
            dynamics.run(1)
            energies.append(atoms.get_potential_energy() + atoms.get_kinetic_energy())
        drift[label] = np.ptp(energies)
    assert drift["adatom free"] < 2e-3  # eV: Verlet error only
    assert drift["adatom in the bath"] > 10 * drift["adatom free"]
