"""Adatom diffusion from MD: 2D MSD and D on known walks, Arrhenius fits, Morse MD runs and the guard."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from ase.calculators.morse import MorsePotential
from ase.units import fs, kB
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pydantic import ValidationError

from li_campaign.kinetics import jobs as kinetics_jobs
from li_campaign.kinetics.md_diffusion import (
    A2_PER_FS_IN_CM2_PER_S,
    adatom_diffusion_md,
    arrhenius_fit,
    diffusion_coefficient_2d,
    msd_2d,
    unwrap_inplane,
)
from li_campaign.schemas.bulk import BulkDoc
from li_campaign.schemas.flags import FlaggedResultDoc
from li_campaign.schemas.kinetics import AdatomArrheniusDoc, AdatomDiffusionDoc
from li_campaign.schemas.kinetics import DiffusionDoc
from li_campaign.schemas.models import ModelDoc
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import MdDiffusionSpec
from li_campaign.simulation.md_guard import MdInstabilityError

A = 2.9188  # Morse bcc lattice constant of these parameters
SPEC = MdDiffusionSpec(
    facets=[(1, 1, 0)],
    temperatures_K=[400.0],
    n_adatoms=[1],
    min_slab_size_A=4.0,
    min_vacuum_A=8.0,
    min_lateral_A=8.0,
    fixed_bottom_A=1.0,
    equilibration_steps=50,
    production_steps=400,
    sample_every=5,
    trajectory_every=50,
    n_segments=4,
)
PROVENANCE = Provenance(campaign="t", spec_hash="0" * 64, model_sha256="a" * 64)


def morse() -> MorsePotential:
    return MorsePotential(epsilon=0.2, r0=3.0, rho0=3.5, rcut1=1.6, rcut2=2.0)


class RunawayMorse(MorsePotential):
    """Morse whose forces turn repulsive-and-huge after a few calls: a model that extrapolates badly."""

    def __init__(self, after: int = 40):
        super().__init__(epsilon=0.2, r0=3.0, rho0=3.5, rcut1=1.6, rcut2=2.0)
        self.after, self.calls = after, 0

    def calculate(self, *args, **kwargs):
        super().calculate(*args, **kwargs)
        self.calls += 1
        if self.calls > self.after:
            self.results["forces"] = -50.0 * self.results["forces"]


def check_d_is_the_msd_slope(out) -> None:
    """D is the mean of the segment fits, its error their standard error, and, a least-squares slope being
    linear in the data, also a quarter of the slope of the segment-mean MSD over the fit window (numpy fit)."""
    get = out.get if isinstance(out, dict) else lambda key: getattr(out, key)
    segments = np.array(get("segment_diffusivities_cm2_s"))
    assert len(segments) == SPEC.n_segments
    assert get("diffusivity_cm2_s") == pytest.approx(segments.mean(), rel=1e-12)
    assert get("diffusivity_err_cm2_s") == pytest.approx(segments.std(ddof=1) / np.sqrt(len(segments)), rel=1e-9)
    lags, msd = np.array(get("msd_lag_fs")), np.array(get("msd_A2"))
    window = (lags >= get("fit_start_fs") - 1e-9) & (lags <= get("fit_end_fs") + 1e-9)
    assert window.sum() >= 3
    slope = np.polyfit(lags[window], msd[window], 1)[0]
    assert get("diffusivity_cm2_s") == pytest.approx(slope / 4 * A2_PER_FS_IN_CM2_PER_S, rel=1e-9)


def test_msd_2d_by_hand():
    xy = np.array([[[0.0, 0.0]], [[1.0, 0.0]], [[3.0, 0.0]], [[6.0, 0.0]]])
    assert msd_2d(xy, 3).tolist() == [0.0, (1 + 4 + 9) / 3, (9 + 25) / 2, 36.0]
    two = np.concatenate([xy, xy[:, :, ::-1] * 2.0], axis=1)  # a second atom along y, twice as far
    assert msd_2d(two, 1)[1] == pytest.approx((14 / 3 + 4 * 14 / 3) / 2)
    with pytest.raises(ValueError, match="max_lag 4"):
        msd_2d(xy, 4)


def test_unwrap_inplane_follows_the_atom_across_the_boundary():
    cell = np.diag([5.0, 5.0, 20.0])
    wrapped = np.array([[[4.0, 1.0]], [[4.8, 1.0]], [[0.6, 1.0]], [[1.4, 4.9]]])
    unwrapped = unwrap_inplane(wrapped, cell)
    assert np.allclose(unwrapped[:, 0], [[4.0, 1.0], [4.8, 1.0], [5.6, 1.0], [6.4, -0.1]])


def test_d_of_an_exhaustive_lattice_walk_is_exact():
    # all 2^16 sequences of +-1 Å steps along x: averaged over them, every window of k steps has
    # a mean square displacement of exactly k Å², in each segment too, so MSD = 4 D t with D = 1 / (4 dt)
    steps = np.array(list(itertools.product((-1.0, 1.0), repeat=16)))  # (65536, 16)
    x = np.concatenate([np.zeros((len(steps), 1)), np.cumsum(steps, axis=1)], axis=1).T  # (17, 65536)
    xy = np.stack([x, np.zeros_like(x)], axis=2)
    out = diffusion_coefficient_2d(xy, dt_fs=2.0, window=(0.1, 0.5), n_segments=2)
    assert out["diffusivity_cm2_s"] == pytest.approx(1.0 / (4 * 2.0) * A2_PER_FS_IN_CM2_PER_S, rel=1e-12)
    assert out["diffusivity_err_cm2_s"] == pytest.approx(0.0, abs=1e-15)
    # 2 segments of 8 samples (7 intervals): lags 1..4 (0.1 and 0.5 of 7, floored and ceiled)
    assert (out["fit_start_fs"], out["fit_end_fs"], out["analysed_fs"]) == (2.0, 8.0, 32.0)
    assert out["msd_A2"] == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0])
    assert out["segment_diffusivities_cm2_s"] == pytest.approx([out["diffusivity_cm2_s"]] * 2, rel=1e-12)


def test_d_of_a_gaussian_random_walk():
    d_true = 0.004  # Å²/fs = 4e-4 cm²/s
    rng = np.random.default_rng(3)
    xy = np.cumsum(rng.normal(0.0, np.sqrt(2 * d_true * 5.0), (2001, 50, 2)), axis=0)  # dt = 5 fs
    out = diffusion_coefficient_2d(xy, dt_fs=5.0, window=(0.1, 0.4), n_segments=8)
    d = out["diffusivity_cm2_s"]
    assert d == pytest.approx(d_true * A2_PER_FS_IN_CM2_PER_S, rel=0.1)
    assert 0 < out["diffusivity_err_cm2_s"] < 0.1 * d
    assert abs(d - d_true * A2_PER_FS_IN_CM2_PER_S) < 3 * out["diffusivity_err_cm2_s"]
    assert len(out["segment_diffusivities_cm2_s"]) == 8
    assert np.mean(out["segment_diffusivities_cm2_s"]) == pytest.approx(d)


def test_arrhenius_fit_recovers_ea_and_d0():
    temperatures = np.array([200.0, 250.0, 300.0, 400.0])
    d = 2e-3 * np.exp(-0.12 / (kB * temperatures))
    fit = arrhenius_fit(temperatures, d)
    assert fit["activation_energy_eV"] == pytest.approx(0.12, rel=1e-9)
    assert fit["prefactor_cm2_s"] == pytest.approx(2e-3, rel=1e-9)
    assert fit["r2"] == pytest.approx(1.0) and fit["n"] == 4
    assert fit["activation_energy_err_eV"] == pytest.approx(0.0, abs=1e-9)
    noisy = d * np.exp(np.array([0.05, -0.05, 0.05, -0.05]))
    rough = arrhenius_fit(temperatures, noisy)
    # ordinary least squares of ln D on 1/kT by numpy: slope, its standard error, r²
    x, y = 1.0 / (kB * temperatures), np.log(noisy)
    (slope, intercept), residuals = np.polyfit(x, y, 1, full=True)[:2]
    stderr = np.sqrt(residuals[0] / (len(x) - 2) / np.sum((x - x.mean()) ** 2))
    assert rough["activation_energy_eV"] == pytest.approx(-slope, rel=1e-9)
    assert rough["prefactor_cm2_s"] == pytest.approx(np.exp(intercept), rel=1e-9)
    assert rough["activation_energy_err_eV"] == pytest.approx(stderr, rel=1e-9)
    assert rough["r2"] == pytest.approx(1.0 - residuals[0] / np.sum((y - y.mean()) ** 2), rel=1e-9)
    assert rough["activation_energy_eV"] == pytest.approx(0.12, abs=0.02)


def test_arrhenius_fit_refuses_bad_input():
    with pytest.raises(ValueError, match="two distinct temperatures"):
        arrhenius_fit([300.0, 300.0], [1e-5, 2e-5])
    with pytest.raises(ValueError, match="positive diffusivities"):
        arrhenius_fit([300.0, 400.0], [1e-5, -1e-6])


def test_spec_validation():
    with pytest.raises(ValidationError, match="fit_window"):
        MdDiffusionSpec(fit_window=(0.5, 0.2))
    with pytest.raises(ValidationError, match="temperatures must be > 0"):
        MdDiffusionSpec(temperatures_K=[0.0])
    with pytest.raises(ValidationError, match="min_hops 5 < min_hops_valid 10"):
        MdDiffusionSpec(min_hops=5)
    with pytest.raises(ValidationError, match="4 samples per segment"):
        MdDiffusionSpec(production_steps=100, sample_every=10, n_segments=4)
    assert MdDiffusionSpec.from_dict(SPEC.as_dict()) == SPEC


def test_short_morse_md_on_110(monkeypatch):
    from li_campaign.kinetics import md_diffusion

    seen = {}

    class Recording(md_diffusion.Langevin):
        def __init__(self, atoms, timestep, **kwargs):
            seen["friction"] = np.array(kwargs["friction"])
            super().__init__(atoms, timestep, **kwargs)

    monkeypatch.setattr(md_diffusion, "Langevin", Recording)
    out = adatom_diffusion_md(morse(), A, (1, 1, 0), 400.0, 1, SPEC)
    # the thermostat acts on the slab (0.01 / fs) and not on the adatom (index 32)
    assert seen["friction"].shape == (33, 1) and seen["friction"][32, 0] == 0.0
    assert seen["friction"][:32, 0] * fs == pytest.approx([0.01] * 32)
    assert out["adatom_friction_per_fs"] == 0.0 and out["friction_per_fs"] == 0.01
    # the fixed bottom (1 Å) is one (110) plane: in-plane area / (a²/√2 per atom) = 16 of the 32 slab atoms
    cell = np.array(out["trajectory"]["cell_A"])
    per_plane = np.linalg.norm(np.cross(cell[0], cell[1])) / (A**2 / np.sqrt(2))
    assert per_plane == pytest.approx(16.0, abs=1e-6)
    assert out["n_atoms"] == 33 and out["n_adatoms"] == 1 and out["n_fixed"] == 16
    assert out["trajectory"]["fixed_indices"] == list(range(16))
    positions = np.array(out["trajectory"]["positions_A"])
    assert np.array_equal(positions[:, :16], np.broadcast_to(positions[:1, :16], positions[:, :16].shape))  # never moved
    assert not np.allclose(positions[:, 16:], positions[:1, 16:])  # the rest did
    # 800 fs hold few hops: the run is not valid, and says why (no barrier given: the spec's 400 steps)
    assert out["events"] == [] and not out["valid"]
    assert out["production_steps"] == 400 and out["planned_production_steps"] is None
    assert out["run_length_reason"] == "no facet barrier given: production_steps of the spec"
    assert out["n_hops"] < SPEC.min_hops_valid and out["hops_per_adatom"] == [out["n_hops"]]
    assert out["invalid_reasons"][0] == f"{out['n_hops']} site-to-site hops, fewer than min_hops_valid = 10"
    # the stable sites of the (110) surface cell: one per cell (the cell has one surface atom), 2.53 Å apart
    assert len(out["sites_A"]) == 1 and out["site_spacing_A"] == pytest.approx(np.sqrt(3) / 2 * A, rel=1e-6)
    assert out["capture_radius_A"] == pytest.approx(SPEC.capture_fraction * out["site_spacing_A"])
    check_d_is_the_msd_slope(out)
    assert out["msd_A2"][0] == 0.0 and out["analysed_fs"] == pytest.approx((400 // 5 - 1) * 10.0)
    assert out["fit_start_fs"] < out["fit_end_fs"] <= out["analysed_fs"]
    assert 200.0 < out["mean_temperature_K"] < 600.0
    assert 300.0 < out["thermostat_temperature_K"] < 500.0 and 50.0 < out["adatom_temperature_K"] < 1500.0
    frames = out["trajectory"]
    assert frames["step"] == list(range(50, 451, 50)) and np.shape(frames["positions_A"]) == (9, 33, 3)
    assert frames["adatom_indices"] == [32]


def test_bad_setups_are_named():
    from li_campaign.core.errors import InputError

    with pytest.raises(InputError, match="n_adatoms 40: the .* Å cell has no room"):
        adatom_diffusion_md(morse(), A, (1, 1, 0), 300.0, 40, SPEC)
    with pytest.raises(InputError, match="fixed_bottom_A = 50.0 Å fixes the whole"):
        adatom_diffusion_md(morse(), A, (1, 1, 0), 300.0, 1, SPEC.model_copy(update={"fixed_bottom_A": 50.0}))


@pytest.mark.faults
def test_runaway_run_stops_with_the_reason_and_last_good_frame():
    # the forces turn at the 41st evaluation; the guard, checking every 10 steps, sees them at step 40
    reason = r"MD unstable at step 40: a force of .* eV/Å \(limit 10 eV/Å\): extrapolating"
    with pytest.raises(MdInstabilityError, match=reason) as caught:
        adatom_diffusion_md(RunawayMorse(), A, (1, 1, 0), 300.0, 1, SPEC)
    error = caught.value
    assert error.kind == "max_force" and error.step == 40
    assert error.last_good_step == error.step - SPEC.guard.check_every
    assert len(error.last_good) == 33 and error.last_good.calc is None
    # the last good frame passed every check: no two atoms closer than half the bulk nearest-neighbour distance
    distances = error.last_good.get_all_distances(mic=True)[np.triu_indices(33, 1)]
    assert distances.min() > SPEC.guard.min_distance_fraction * np.sqrt(3) / 2 * A


def _bulk() -> BulkDoc:
    return BulkDoc(
        lattice_constant_A=A, energy_per_atom_eV=-1.0, bulk_modulus_GPa=10.0, volumes_A3_atom=[12.4],
        energies_eV_atom=[-1.0], provenance=PROVENANCE,
    )


@pytest.mark.filterwarnings("ignore:cd is deprecated")
def test_makers_store_frames_apart_flag_runaways_and_fit(monkeypatch):
    model = ModelDoc.model_construct(sha256="a" * 64)
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    md = SPEC.model_copy(update={"production_steps": 200, "max_production_steps": 240})
    maker = kinetics_jobs.AdatomDiffusionMDMaker(md=md, campaign="t", spec_hash="0" * 64)
    neb = DiffusionDoc(
        facet="110", miller_index=(1, 1, 0), hops=[], min_barrier_eV=0.08, min_hop="a->a", min_mechanism="hop",
        provenance=PROVENANCE,
    )

    monkeypatch.setattr(kinetics_jobs, "load_model", lambda model: morse())
    good = maker.make(model, _bulk(), (1, 1, 0), 400.0, 3, neb)
    run_locally(good, store=store, log=False, ensure_success=True)
    raw = store.query_one({"uuid": good.uuid}, load=False)["output"]
    assert raw["trajectory"]["store"] == "data"
    doc = AdatomDiffusionDoc.model_validate(store.get_output(good.uuid, load=True))
    assert doc.facet == "110" and doc.provenance.calc_key and len(doc.trajectory["step"]) == 5
    assert doc.n_adatoms == 3 and doc.n_atoms == 35 and doc.trajectory["adatom_indices"] == [32, 33, 34]
    # the facet's barrier (no effective barrier on this document: its min_barrier_eV) sets the run length,
    # Γ = 4 × 2 THz × exp(−0.08 eV / k_B 400 K): the MSD criterion, 2 × 3 × 4 / (0.4 Γ dt) ≈ 38 000 steps, capped at 240
    assert doc.barrier_eV == 0.08 and doc.hop_coordination == 4
    assert doc.planned_production_steps == int(np.ceil(24 / (0.4 * 8e-3 * np.exp(-0.08 / (kB * 400.0)) * 2.0)))
    assert doc.production_steps == 240 and "capped at max_production_steps 240" in doc.run_length_reason
    assert doc.expected_hops == pytest.approx(3 * 240 * 2.0 * 8e-3 * np.exp(-0.08 / (kB * 400.0)))
    assert doc.events == [] and not doc.valid and doc.n_hops == sum(doc.hops_per_adatom)
    assert any("site-to-site hops" in reason or "MSD at the end" in reason for reason in doc.invalid_reasons)
    check_d_is_the_msd_slope(doc)

    monkeypatch.setattr(kinetics_jobs, "load_model", lambda model: RunawayMorse())
    bad = maker.make(model, _bulk(), (1, 1, 0), 300.0, 1)
    responses = run_locally(bad, store=store, log=False, ensure_success=True)
    flagged = responses[bad.uuid][1].output
    assert isinstance(flagged, FlaggedResultDoc) and flagged.result_doc_type == "adatom_diffusion"
    assert flagged.context == {"facet": "110", "temperature_K": 300.0, "n_adatoms": 1}
    assert flagged.step == 40 and "extrapolating" in flagged.flag_reason
    assert flagged.last_good_step == 30 and len(flagged.last_good_structure) == 33
    assert flagged.last_good_structure.composition.reduced_formula == "Li"

    # two synthetic valid runs, the real (too short, not valid) one, and the flagged one
    runs = [
        doc.model_copy(
            update={
                "temperature_K": t, "diffusivity_cm2_s": 1e-3 * np.exp(-0.1 / (kB * t)), "valid": True,
                "invalid_reasons": [], "n_hops": 40,
            }
        )
        for t in (300.0, 380.0)
    ] + [doc, flagged]
    fit_job = kinetics_jobs.AdatomArrheniusMaker(campaign="t", spec_hash="0" * 64).make(runs, neb)
    responses = run_locally(fit_job, store=store, log=False, ensure_success=True)
    fit = AdatomArrheniusDoc.model_validate(responses[fit_job.uuid][1].output)
    assert fit.n == 2 and fit.temperatures_K == [300.0, 380.0]
    assert fit.activation_energy_eV == pytest.approx(0.1) and fit.prefactor_cm2_s == pytest.approx(1e-3)
    assert fit.activation_minus_neb_eV == pytest.approx(0.1 - 0.08) and fit.neb_min_mechanism == "hop"
    assert fit.neb_effective_barrier_eV == getattr(neb, "effective_barrier_eV", None)
    assert len(fit.excluded) == 2 and fit.excluded[0].startswith("300.0 K: unstable")
    assert fit.excluded[1] == f"400 K: {'; '.join(doc.invalid_reasons)}"  # the invalid run, with its reasons


def test_a_run_cut_short_by_an_early_event_is_not_analysed_rather_than_failing():
    from li_campaign.kinetics.md_diffusion import analysable

    # 4 segments of 4 samples: the (0.1, 0.4) window of each holds only 2 lags
    assert not analysable(16, (0.1, 0.4), 4)
    assert analysable(40, (0.1, 0.4), 4)
    # x = y = t (Å, dt = 1 fs): MSD(lag) = 2 lag² in every segment, so each segment's straight-line fit over
    # lags first..last has slope 2 (first + last) Å²/fs (least squares of a parabola on consecutive integers)
    # and D = (first + last) / 2 Å²/fs with no scatter
    checked = 0
    for n in range(8, 60):
        xy = np.zeros((n, 1, 2)) + np.arange(n)[:, None, None]
        length = n // 4
        first, last = max(int(np.floor(0.1 * (length - 1))), 1), int(np.ceil(0.4 * (length - 1)))
        if not analysable(n, (0.1, 0.4), 4):
            assert length < 4 or last - first < 2
            with pytest.raises(ValueError, match="holds fewer than 3 lags"):
                diffusion_coefficient_2d(xy, 1.0, (0.1, 0.4), 4)
            continue
        out = diffusion_coefficient_2d(xy, 1.0, (0.1, 0.4), 4)
        assert (out["fit_start_fs"], out["fit_end_fs"]) == (first, last)
        assert out["msd_A2"] == pytest.approx(2.0 * np.arange(last + 1) ** 2)
        assert out["diffusivity_cm2_s"] == pytest.approx((first + last) / 2 * A2_PER_FS_IN_CM2_PER_S, rel=1e-9)
        assert out["diffusivity_err_cm2_s"] == pytest.approx(0.0, abs=1e-15)
        checked += 1
    assert checked == 32  # n = 28 … 59: from 7 samples a segment, the window holds lags 1, 2, 3
