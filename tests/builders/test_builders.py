"""Builders on a real embedded campaign fed by real (tiny) jobflow jobs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from jobflow import Flow, job, run_locally
from pymatgen.core import Lattice, Structure

from li_campaign.builders import all_builders, job_outputs_store, run_builders
from li_campaign.builders.properties import SurfaceEnergyBuilder
from li_campaign.builders.summary import bep_fit
from li_campaign.report import collect_report
from li_campaign.db.config import Campaign, DbConfig
from li_campaign.schemas.frames import TrainingFrameDoc
from li_campaign.schemas.models import HoldoutErrors, ModelDoc, ParityData
from li_campaign.schemas.properties import AdsorptionDoc, AdsorptionSite, BulkDoc, DiffusionDoc, Hop, SurfaceEnergyDoc
from li_campaign.schemas.provenance import Provenance

pytestmark = [
    pytest.mark.filterwarnings("ignore:Some jobs are not connected"),
    pytest.mark.filterwarnings("ignore:cd is deprecated"),
]

NAME = "li-test"
SHA = "a" * 64
FACETS = {  # facet: (surface energy J/m2, min adsorption energy eV, min barrier eV)
    "100": (0.458, -1.32, 0.012),
    "110": (0.487, -1.05, 0.045),
    "111": (0.522, -1.41, 0.081),
}
MILLER = {"100": (1, 0, 0), "110": (1, 1, 0), "111": (1, 1, 1), "210": (2, 1, 0), "211": (2, 1, 1)}
STRUCT = Structure(Lattice.cubic(3.44), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def _prov(model: str | None = SHA, **extra) -> Provenance:
    return Provenance(campaign=NAME, spec_hash="f" * 64, model_sha256=model, **extra)


@job
def frame_job(index: int) -> TrainingFrameDoc:
    return TrainingFrameDoc(
        frame_id=f"{NAME}:bulk_strain:{index}",
        origin="bulk_strain",
        label=f"strained bulk {index}",
        structure=STRUCT,
        n_atoms=2,
        energy_eV=-3.8 - 0.01 * index,
        energy_per_atom_eV=-1.9 - 0.005 * index,
        forces_eV_A=[[0.01, 0.0, 0.0], [-0.01, 0.0, 0.0]],
        stress_eV_A3=[0.0] * 6,
        engine="morse",
        wall_time_s=0.1,
        provenance=_prov(None, structure_hash=f"h{index}", dft_settings={"engine": "morse"}),
    )


@job
def model_job(sha: str) -> ModelDoc:
    return ModelDoc(
        campaign=NAME,
        architecture="nequip",
        sha256=sha,
        deployed_path=f"/models/{sha}.nequip.zip",
        deploy_mode="eager",
        package_path="/models/pkg.nequip.zip",
        package_sha256="b" * 64,
        split={"train": ["f0", "f1", "f2"], "val": ["f3"], "test": ["f4", "f5"]},
        hyperparameters={"r_max_A": 5.0},
        holdout=HoldoutErrors(
            n_frames=2, energy_mae_meV_atom=3.2, energy_rmse_meV_atom=4.1, force_mae_meV_A=41.0, force_rmse_meV_A=55.0
        ),
        parity=ParityData(
            dft_energy_per_atom_eV=[-1.90, -1.91],
            mlip_energy_per_atom_eV=[-1.903, -1.906],
            dft_force_components_eV_A=[0.1, -0.2, 0.05],
            mlip_force_components_eV_A=[0.12, -0.17, 0.04],
        ),
        training_wall_time_s=12.0,
        deploy_wall_time_s=3.0,
        provenance=_prov(sha),
    )


@job
def bulk_job(sha: str) -> BulkDoc:
    return BulkDoc(
        lattice_constant_A=3.437,
        energy_per_atom_eV=-1.905,
        bulk_modulus_GPa=13.1,
        volumes_A3_atom=[19.8, 20.3, 20.8],
        energies_eV_atom=[-1.903, -1.905, -1.904],
        provenance=_prov(sha),
    )


@job
def surface_job(sha: str, facet: str, gamma: float) -> SurfaceEnergyDoc:
    return SurfaceEnergyDoc(
        facet=facet,
        miller_index=MILLER[facet],
        n_atoms=14,
        n_layers=7,
        slab_thickness_A=10.3,
        vacuum_A=12.0,
        area_A2=11.8,
        slab_energy_eV=-26.0,
        bulk_energy_per_atom_eV=-1.905,
        surface_energy_J_m2=gamma,
        surface_energy_eV_A2=gamma / 16.0218,
        relaxed_structure=STRUCT,
        relax_converged=True,
        relax_steps=17,
        provenance=_prov(sha),
    )


@job
def adsorption_job(sha: str, facet: str, e_min: float) -> AdsorptionDoc:
    sites = [
        AdsorptionSite(
            label=f"{kind}-0",
            site_type=kind,
            position_A=[0.0, 0.0, 20.0],
            adsorption_energy_eV=e_min + shift,
            stable=kind == "hollow",
            relaxed_to="hollow-0",
            free_adsorption_energy_eV=e_min,
        )
        for kind, shift in (("hollow", 0.0), ("bridge", 0.05), ("ontop", 0.3))
    ]
    return AdsorptionDoc(
        facet=facet,
        miller_index=MILLER[facet],
        n_slab_atoms=28,
        supercell=(2, 2),
        slab_energy_eV=-52.0,
        bulk_energy_per_atom_eV=-1.905,
        sites=sites,
        min_adsorption_energy_eV=e_min,
        min_site="hollow-0",
        slab_structure=STRUCT,
        site_copies={site.label: [site.position_A] for site in sites},
        site_heights_A={site.label: 20.0 for site in sites},
        provenance=_prov(sha),
    )


@job(data="images")
def diffusion_job(sha: str, facet: str, barrier: float) -> DiffusionDoc:
    hop = Hop(
        start="hollow-0",
        end="hollow-1",
        distance_A=2.43,
        barrier_forward_eV=barrier,
        barrier_reverse_eV=barrier,
        n_images=5,
        converged=True,
        endpoint_drift_A=0.05,
        images=[STRUCT] * 5,
    )
    return DiffusionDoc(
        facet=facet, miller_index=MILLER[facet], hops=[hop], min_barrier_eV=barrier, min_hop="hollow-0->hollow-1",
        provenance=_prov(sha),
    )


def facet_jobs(sha: str, facet: str, gamma: float, e_ads: float, barrier: float) -> list:
    """The three fan-out jobs of one facet."""
    return [surface_job(sha, facet, gamma), adsorption_job(sha, facet, e_ads), diffusion_job(sha, facet, barrier)]


def run_jobs(campaign: Campaign, jobs: list) -> None:
    """Run jobs with jobflow into the campaign's JobStore."""
    responses = run_locally(Flow(jobs), store=campaign.job_store(), log=False, ensure_success=True)
    assert len(responses) == len(jobs)


def query(campaign: Campaign, name: str, criteria: dict | None = None) -> list[dict]:
    """All documents of a derived collection."""
    store = campaign.derived_store(name)
    store.connect()
    docs = list(store.query(criteria=criteria))
    store.close()
    return docs


@pytest.fixture
def campaign(tmp_path: Path) -> Campaign:
    """An embedded campaign holding 4 frames, 1 model, its bulk fit and 3 facets of fan-out results."""
    campaign = Campaign.create(tmp_path / "c", DbConfig())
    jobs = [frame_job(i) for i in range(4)] + [model_job(SHA), bulk_job(SHA)]
    for facet, values in FACETS.items():
        jobs += facet_jobs(SHA, facet, *values)
    run_jobs(campaign, jobs)
    return campaign


FIRST_BUILD = {
    "training_frames": 4,
    "models": 1,
    "bulk": 1,
    "surface_energies": 3,
    "adsorption_energies": 3,
    "diffusion_barriers": 3,
    # steps and adatom MD: no results in this fixture (tests/builders/test_surface_builders.py)
    "step_energies": 0,
    "step_adsorption": 0,
    "step_edge_barriers": 0,
    "adatom_diffusion": 0,
    "adatom_arrhenius": 0,
    "facet_summary": 3,
    "bep_regression": 1,
    "wulff_shape": 1,
    # bulk stage: no results in this fixture (tests/e2e builds them from a real run)
    "vacancies": 0,
    "phonons": 0,
    "finite_temperature": 0,
    "elastic_constants": 0,
    "bulk_properties": 0,
    "active_learning": 0,  # tests/active builds it
}


def test_build_writes_flat_documents(campaign: Campaign):
    assert run_builders(campaign) == FIRST_BUILD

    frames = {d["frame_id"]: d for d in query(campaign, "training_frames")}
    frame = frames[f"{NAME}:bulk_strain:2"]
    assert frame["origin"] == "bulk_strain" and frame["n_atoms"] == 2 and frame["engine"] == "morse"
    assert frame["energy_per_atom_eV"] == pytest.approx(-1.91)
    assert frame["campaign"] == NAME and frame["structure_hash"] == "h2"
    assert frame["dft_settings"] == {"engine": "morse"} and frame["state"] == "successful"
    assert "forces_eV_A" not in frame and "structure" not in frame

    (model,) = query(campaign, "models")
    assert model["sha256"] == SHA and model["architecture"] == "nequip" and model["deploy_mode"] == "eager"
    assert (model["n_train"], model["n_val"], model["n_test"]) == (3, 1, 2)
    assert model["energy_mae_meV_atom"] == 3.2 and model["force_mae_meV_A"] == 41.0
    assert model["completed_at"] and model["parity"]["mlip_force_components_eV_A"] == [0.12, -0.17, 0.04]
    assert "split" not in model

    (bulk,) = query(campaign, "bulk")
    assert bulk["lattice_constant_A"] == 3.437 and bulk["model_sha256"] == SHA

    surfaces = {d["facet"]: d for d in query(campaign, "surface_energies")}
    assert set(surfaces) == set(FACETS)
    s110 = surfaces["110"]
    assert s110["surface_energy_J_m2"] == 0.487 and s110["miller_index"] == [1, 1, 0]
    assert (s110["n_layers"], s110["slab_thickness_A"], s110["campaign"]) == (7, 10.3, NAME)
    assert s110["model_sha256"] == SHA and "relaxed_structure" not in s110
    assert s110["relax_converged"] is True and s110["relax_steps"] == 17

    ads = {d["facet"]: d for d in query(campaign, "adsorption_energies")}["111"]
    assert ads["min_adsorption_energy_eV"] == -1.41 and ads["min_site"] == "hollow-0"
    assert [s["label"] for s in ads["sites"]] == ["hollow-0", "bridge-0", "ontop-0"]
    assert ads["sites"][1]["adsorption_energy_eV"] == pytest.approx(-1.36)
    assert [s["stable"] for s in ads["sites"]] == [True, False, False] and "slab_structure" not in ads
    assert ads["site_heights_A"]["bridge-0"] == 20.0 and "site_copies" not in ads

    diff = {d["facet"]: d for d in query(campaign, "diffusion_barriers")}["100"]
    assert diff["min_barrier_eV"] == 0.012 and diff["min_hop"] == "hollow-0->hollow-1"
    assert diff["hops"][0]["barrier_forward_eV"] == 0.012 and "images" not in diff["hops"][0]

    summaries = {d["summary_id"]: d for d in query(campaign, "facet_summary")}
    assert set(summaries) == {f"{SHA}:{facet}" for facet in FACETS}
    for facet, (gamma, e_ads, barrier) in FACETS.items():
        row = summaries[f"{SHA}:{facet}"]
        assert (row["surface_energy_J_m2"], row["min_adsorption_energy_eV"], row["min_barrier_eV"]) == (
            gamma,
            e_ads,
            barrier,
        )
        assert row["facet"] == facet and row["campaign"] == NAME and row["lattice_constant_A"] == 3.437
        assert row["min_site"] == "hollow-0" and row["miller_index"] == list(MILLER[facet])

    (bep,) = query(campaign, "bep_regression")
    x = [FACETS[f][1] for f in sorted(FACETS)]
    y = [FACETS[f][2] for f in sorted(FACETS)]
    slope, intercept = np.polyfit(x, y, 1)
    residual = np.sum((np.array(y) - np.polyval([slope, intercept], x)) ** 2)
    assert bep["regression_id"] == SHA and bep["n"] == 3 and bep["facets"] == sorted(FACETS)
    assert bep["slope"] == pytest.approx(slope) and bep["intercept"] == pytest.approx(intercept)
    assert bep["r2"] == pytest.approx(1 - residual / np.sum((np.array(y) - np.mean(y)) ** 2))
    assert bep["reason"] is None and len(bep["points"]) == 3


def test_incremental_builds(campaign: Campaign):
    run_builders(campaign)
    assert run_builders(campaign) == dict.fromkeys(FIRST_BUILD, 0)

    run_jobs(campaign, facet_jobs(SHA, "210", 0.55, -1.20, 0.060))
    assert run_builders(campaign) == {
        **dict.fromkeys(FIRST_BUILD, 0),
        "surface_energies": 1,
        "adsorption_energies": 1,
        "diffusion_barriers": 1,
        "facet_summary": 1,
        "bep_regression": 1,
        "wulff_shape": 1,
    }
    (bep,) = query(campaign, "bep_regression")
    assert bep["n"] == 4 and bep["facets"] == ["100", "110", "111", "210"]

    # a re-run of one facet's surface energy: the newer result wins, one summary changes
    run_jobs(campaign, [surface_job(SHA, "100", 0.470)])
    counts = run_builders(campaign)
    assert counts["surface_energies"] == counts["facet_summary"] == counts["bep_regression"] == counts["wulff_shape"] == 1
    assert counts["adsorption_energies"] == 0
    assert len(query(campaign, "surface_energies", {"facet": "100"})) == 2
    (row,) = query(campaign, "facet_summary", {"facet": "100"})
    assert row["surface_energy_J_m2"] == 0.470
    assert run_builders(campaign) == dict.fromkeys(FIRST_BUILD, 0)


def test_rerun_of_a_keyed_document_is_built_once(campaign: Campaign):
    run_builders(campaign)
    run_jobs(campaign, [frame_job(0)])  # same frame_id, new job
    counts = run_builders(campaign)
    assert counts["training_frames"] == 1
    assert len(query(campaign, "training_frames")) == 4
    assert run_builders(campaign)["training_frames"] == 0


def test_bep_needs_two_facets(tmp_path: Path):
    campaign = Campaign.create(tmp_path / "c", DbConfig())
    run_jobs(campaign, [*facet_jobs(SHA, "100", 0.46, -1.3, 0.01), surface_job(SHA, "110", 0.49)])
    counts = run_builders(campaign)
    assert counts["facet_summary"] == 2 and counts["bep_regression"] == 1
    (row,) = query(campaign, "facet_summary", {"facet": "110"})
    assert row["min_barrier_eV"] is None and row["lattice_constant_A"] is None
    (bep,) = query(campaign, "bep_regression")
    assert bep["n"] == 1 and bep["slope"] is None and "at least 2" in bep["reason"]


def test_bep_fit_edge_cases():
    two = bep_fit([-1.0, -2.0], [0.1, 0.3])
    assert two["slope"] == pytest.approx(-0.2) and two["intercept"] == pytest.approx(-0.1) and two["r2"] == 1.0
    assert bep_fit([-1.0, -1.0, -1.0], [0.1, 0.2, 0.3])["slope"] is None
    assert bep_fit([], [])["reason"].startswith("need at least 2")


def test_source_must_be_the_jobflow_docs_store(tmp_path: Path):
    campaign = Campaign.create(tmp_path / "c", DbConfig())
    with pytest.raises(ValueError, match="job_outputs_store"):
        SurfaceEnergyBuilder(campaign.job_store().docs_store, campaign.derived_store("surface_energies"))
    assert SurfaceEnergyBuilder(job_outputs_store(campaign), campaign.derived_store("surface_energies"))


def test_mrun_builders_file_runs_the_builders(campaign: Campaign):
    """``mrun workflows/builders.py`` (run from the repository root) builds the campaign of $LI_CAMPAIGN_DIR."""
    repo = Path(__file__).resolve().parents[2]
    mrun = Path(sys.executable).parent / "mrun"
    assert mrun.is_file()
    env = dict(os.environ, LI_CAMPAIGN_DIR=str(campaign.root))
    result = subprocess.run(
        [str(mrun), "workflows/builders.py"], capture_output=True, text=True, timeout=120, cwd=repo, env=env
    )
    assert result.returncode == 0, result.stderr
    assert len(query(campaign, "facet_summary")) == 3
    (bep,) = query(campaign, "bep_regression")
    assert bep["n"] == 3
    assert [type(b).__name__ for b in all_builders(campaign)][-4:] == [
        "FacetSummaryBuilder", "BepRegressionBuilder", "WulffShapeBuilder", "BulkPropertiesBuilder"
    ]
    assert run_builders(campaign) == dict.fromkeys(FIRST_BUILD, 0)


def exact_bootstrap_slope_quantiles(x: list[float], y: list[float], quantiles: list[float]) -> np.ndarray:
    """Quantiles of the least-squares slope over all n^n equally likely resamples (the exact bootstrap
    distribution that a seeded Monte Carlo bootstrap samples); resamples with one x value have no slope."""
    xs, ys = np.asarray(x), np.asarray(y)
    n = len(xs)
    picks = np.array(np.meshgrid(*[np.arange(n)] * n, indexing="ij")).reshape(n, -1).T
    px, py = xs[picks], ys[picks]
    dx = px - px.mean(axis=1, keepdims=True)
    var = np.sum(dx**2, axis=1)
    keep = var > 1e-12
    slopes = np.sort(np.sum(dx * py, axis=1)[keep] / var[keep])
    return slopes[np.clip((np.asarray(quantiles) * len(slopes)).astype(int), 0, len(slopes) - 1)]


def check_bep_line(fit: dict, x: list[float], y: list[float]) -> None:
    """Slope, intercept and r² are scipy's least squares; the 95 % interval is the 2000-sample bootstrap's:
    its ends lie within the exact bootstrap's 1.5–3.5 % and 96.5–98.5 % quantiles (±3σ of the sampling)."""
    from scipy.stats import linregress

    line = linregress(x, y)
    assert fit["slope"] == pytest.approx(line.slope, rel=1e-9) and fit["intercept"] == pytest.approx(line.intercept, rel=1e-9)
    assert fit["r2"] == pytest.approx(line.rvalue**2, rel=1e-9) and fit["n"] == len(x)
    low, high = fit["ci95"]
    q = exact_bootstrap_slope_quantiles(x, y, [0.015, 0.035, 0.965, 0.985])
    assert q[0] <= low <= q[1] and q[2] <= high <= q[3]
    assert low < fit["slope"] < high  # the point estimate lies inside its bootstrap interval


def test_bep_statistics_and_the_high_index_subset():
    x = [-1.3, -1.0, -1.4, -1.1, -0.9, -1.2]
    y = [0.02, 0.05, 0.08, 0.03, 0.09, 0.04]
    fit = bep_fit(x, y)
    from scipy.stats import spearmanr

    assert fit["spearman"] == pytest.approx(spearmanr(x, y).statistic) and fit["n"] == 6
    check_bep_line(fit, x, y)
    assert bep_fit(x, y) == fit  # seeded: a rebuild gives the same document
    assert bep_fit(x[:2], y[:2])["ci95"] is None and bep_fit(x[:2], y[:2])["spearman"] is None


def test_bep_regression_fits_the_high_index_facets_separately(tmp_path: Path):
    campaign = Campaign.create(tmp_path / "c", DbConfig())
    jobs = [model_job(SHA), bulk_job(SHA)]
    values = {**FACETS, "210": (0.55, -1.2, 0.05), "211": (0.53, -0.8, 0.11)}
    for facet, vals in values.items():
        jobs += facet_jobs(SHA, facet, *vals)
    run_jobs(campaign, jobs)
    run_builders(campaign)
    (bep,) = query(campaign, "bep_regression")
    assert bep["n"] == 5 and bep["high_index"]["facets"] == ["210", "211"]
    assert bep["high_index"]["slope"] == pytest.approx((0.11 - 0.05) / (-0.8 + 1.2))  # two points: the line through them
    report = collect_report(campaign)
    assert report["bep_high_index"]["facets"] == ["210", "211"] and len(report["bep_high_index"]["points"]) == 2
    assert report["bep"]["n"] == 5 and report["bep"]["ci95"] == bep["ci95"]
    points = report["bep"]["points"]
    assert sorted(p["facet"] for p in points) == sorted(values)
    x = [values[p["facet"]][1] for p in points]
    y = [values[p["facet"]][2] for p in points]
    assert [p["min_adsorption_energy_eV"] for p in points] == x and [p["min_barrier_eV"] for p in points] == y
    check_bep_line(report["bep"], x, y)
