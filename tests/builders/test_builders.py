"""Builders on a real embedded campaign fed by real (tiny) jobflow jobs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from jobflow import Flow, job, run_locally
from maggma.stores import MemoryStore
from pymatgen.core import Lattice, Structure

from li_campaign.builders import all_builders, job_outputs_store, run_builders
from li_campaign.surfaces.builders import SurfaceEnergyBuilder
from li_campaign.builders.summary import BepRegressionBuilder, FacetSummaryBuilder, bep_fit
from li_campaign.db.config import Campaign, DbConfig
from li_campaign.report import collect_report
from li_campaign.schemas.bulk import BulkDoc
from li_campaign.schemas.frames import TrainingFrameDoc
from li_campaign.schemas.kinetics import DiffusionDoc, Hop
from li_campaign.schemas.models import HoldoutErrors, ModelDoc, OriginErrors, ParityData
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.surfaces import AdsorptionDoc, AdsorptionSite, SurfaceEnergyDoc
from li_campaign.schemas.validation import SpotCheck, ValidationDoc

pytestmark = [
    pytest.mark.filterwarnings("ignore:Some jobs are not connected"),
    pytest.mark.filterwarnings("ignore:cd is deprecated"),
]

NAME = "li-test"
SHA = "a" * 64
FACETS = {  # facet: (surface energy J/m2, min adsorption energy eV, effective barrier eV)
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
        split_errors={
            "train": HoldoutErrors(
                n_frames=3, energy_mae_meV_atom=2.0, energy_rmse_meV_atom=2.5, force_mae_meV_A=30.0, force_rmse_meV_A=40.0,
                by_origin={
                    "bulk_strain": OriginErrors(n_frames=2, energy_mae_meV_atom=1.5, energy_rmse_meV_atom=2.0,
                                                force_mae_meV_A=20.0, force_rmse_meV_A=25.0),
                    "isolated_atom": OriginErrors(n_frames=1, energy_mae_meV_atom=3.0, energy_rmse_meV_atom=3.0,
                                                  force_mae_meV_A=0.0, force_rmse_meV_A=0.0),
                },
            )
        },
        energy_shift_eV=-0.1427,
        training_wall_time_s=12.0,
        deploy_wall_time_s=3.0,
        provenance=_prov(sha),
    )  # fmt: skip


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
        min_adsorption_basis="free_relaxed_stable_minimum",
        min_pinned_adsorption_energy_eV=e_min,
        min_pinned_site="hollow-0",
        slab_structure=STRUCT,
        site_copies={site.label: [site.position_A] for site in sites},
        site_heights_A={site.label: 20.0 for site in sites},
        provenance=_prov(sha),
    )


#: The lowest single hop of each test facet lies this far below its effective (long-range) barrier.
SINGLE_HOP_BELOW_EV = 0.004


@job(data="images")
def diffusion_job(sha: str, facet: str, barrier: float, invalid_reason: str | None = None) -> DiffusionDoc:
    """Two hops: the effective path hollow-0 -> hollow-1 (``barrier``, invalid if ``invalid_reason``) and a
    short hop hollow-0 -> bridge-0 (``barrier − SINGLE_HOP_BELOW_EV``) that does not carry long-range transport."""
    hops = [
        Hop(
            start=start,
            end=end,
            distance_A=distance,
            barrier_forward_eV=value,
            barrier_reverse_eV=value,
            n_images=5,
            converged=True,
            endpoint_drift_A=0.05,
            images=[STRUCT] * 5,
            **({"valid": False, "invalid_reason": invalid_reason} if invalid_reason and end == "hollow-1" else {}),
        )
        for start, end, distance, value in (
            ("hollow-0", "hollow-1", 2.43, barrier),
            ("hollow-0", "bridge-0", 1.2, barrier - SINGLE_HOP_BELOW_EV),
        )
    ]
    return DiffusionDoc(
        facet=facet,
        miller_index=MILLER[facet],
        hops=hops,
        min_barrier_eV=barrier - SINGLE_HOP_BELOW_EV,
        min_hop="hollow-0->bridge-0",
        effective_barrier_eV=barrier,
        effective_barrier_by_direction_eV={"a": barrier, "b": barrier + 0.02},
        effective_path=["hollow-0->hollow-1"],
        effective_mechanism="hop",
        percolates={"a": True, "b": True},
        hop_cutoff_A=3.0,
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
    "validation": 0,  # test_bep_is_validated_by_the_newest_passing_spot_checks adds it
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
    assert model["energy_shift_eV"] == -0.1427
    assert model["energy_mae_by_origin_meV_atom"] == {"train": {"bulk_strain": 1.5, "isolated_atom": 3.0}}

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
    assert diff["min_barrier_eV"] == pytest.approx(0.012 - SINGLE_HOP_BELOW_EV) and diff["min_hop"] == "hollow-0->bridge-0"
    assert diff["hops"][0]["barrier_forward_eV"] == 0.012 and "images" not in diff["hops"][0]
    assert diff["effective_barrier_eV"] == 0.012 and diff["percolates"] == {"a": True, "b": True}
    assert diff["effective_path"] == ["hollow-0->hollow-1"] and [h["valid"] for h in diff["hops"]] == [True, True]

    summaries = {d["summary_id"]: d for d in query(campaign, "facet_summary")}
    assert set(summaries) == {f"{SHA}:{facet}" for facet in FACETS}
    for facet, (gamma, e_ads, barrier) in FACETS.items():
        row = summaries[f"{SHA}:{facet}"]
        assert (row["surface_energy_J_m2"], row["min_adsorption_energy_eV"], row["effective_barrier_eV"]) == (
            gamma,
            e_ads,
            barrier,
        )
        assert row["min_barrier_eV"] == pytest.approx(barrier - SINGLE_HOP_BELOW_EV) and row["min_hop"] == "hollow-0->bridge-0"
        assert row["effective_barrier_by_direction_eV"] == {"a": barrier, "b": pytest.approx(barrier + 0.02)}
        assert row["percolates"] == {"a": True, "b": True} and row["effective_mechanism"] == "hop"
        assert row["effective_path"] == ["hollow-0->hollow-1"] and row["hop_cutoff_A"] == 3.0
        assert row["min_adsorption_basis"] == "free_relaxed_stable_minimum" and row["n_stable_sites"] == 1
        assert row["invalid_hops"] == []
        assert row["facet"] == facet and row["campaign"] == NAME and row["lattice_constant_A"] == 3.437
        assert row["min_site"] == "hollow-0" and row["miller_index"] == list(MILLER[facet])

    # three valid facets: points, but no fit below MIN_BEP_POINTS = 4
    (bep,) = query(campaign, "bep_regression")
    assert bep["regression_id"] == SHA and bep["n"] == 3 and bep["facets"] == sorted(FACETS)
    assert bep["slope"] is None and bep["ci95"] is None and bep["p_value"] is None and bep["r2"] is None
    assert bep["reason"] == (
        "need at least 4 valid facets for a fit with a t-based slope interval (n − 2 ≥ 2 degrees of freedom), have 3"
    )
    assert [p["effective_barrier_eV"] for p in bep["points"]] == [FACETS[f][2] for f in sorted(FACETS)]
    assert [p["effective_mechanism"] for p in bep["points"]] == ["hop"] * 3 and bep["excluded"] == []
    assert bep["mechanisms"] == {"hop": 3}


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
    x, y = [-1.32, -1.05, -1.41, -1.20], [0.012, 0.045, 0.081, 0.060]
    check_ols(bep, x, y)

    # a re-run of one facet's surface energy: the newer result wins, one summary changes
    run_jobs(campaign, [surface_job(SHA, "100", 0.470)])
    counts = run_builders(campaign)
    assert counts["surface_energies"] == counts["facet_summary"] == counts["bep_regression"] == counts["wulff_shape"] == 1
    assert counts["adsorption_energies"] == 0
    assert len(query(campaign, "surface_energies", {"facet": "100"})) == 2
    (row,) = query(campaign, "facet_summary", {"facet": "100"})
    assert row["surface_energy_J_m2"] == 0.470
    assert run_builders(campaign) == dict.fromkeys(FIRST_BUILD, 0)


@job
def validation_job(sha: str, error: float) -> ValidationDoc:
    """Spot checks of one model: an E_ads check with ``error`` (tolerance 0.10 eV) and a passing barrier check."""
    rows = [
        ("adsorption_energy", -1.32 + error, -1.32, 0.10),
        ("barrier", 0.013, 0.012, 0.10),
    ]
    checks = [
        SpotCheck(
            quantity=q, facet="100", item="hollow-0", unit="eV", geometry="relaxed NEB endpoint", model=m, dft=d,
            error=m - d, threshold=t, status="pass" if abs(m - d) <= t else "fail",
        )  # fmt: skip
        for q, m, d, t in rows
    ]
    n_pass = sum(c.status == "pass" for c in checks)
    return ValidationDoc(
        campaign=NAME, model_sha256=sha, engine="morse", checks=checks, passed=n_pass == len(checks), n_checks=len(checks),
        n_passed=n_pass, n_failed=len(checks) - n_pass, n_refused=0, n_skipped=0,
        thresholds={"adsorption_energy": 0.10, "barrier": 0.10}, provenance=_prov(sha),
    )  # fmt: skip


def test_bep_is_validated_by_the_newest_passing_spot_checks(campaign: Campaign):
    run_builders(campaign)
    (bep,) = query(campaign, "bep_regression")
    assert bep["validated"] is False and bep["validation"]["reason"].startswith("no teacher spot checks")
    assert collect_report(campaign)["validation"]["validated"] is False

    run_jobs(campaign, [validation_job(SHA, 0.30)])  # E_ads off by 0.30 eV: fails
    counts = run_builders(campaign)
    assert counts["validation"] == 1 and counts["bep_regression"] == 1  # spot checks alone make the fit stale
    (bep,) = query(campaign, "bep_regression")
    assert bep["validated"] is False and bep["n"] == 3
    assert bep["validation"]["reason"] == "1 failed, 0 refused and 0 skipped of 2 teacher spot checks"
    report = collect_report(campaign)
    assert report["bep"]["validated"] is False
    (row,) = [c for c in report["validation"]["checks"] if c["status"] == "fail"]
    assert (row["quantity"], row["error"]) == ("adsorption_energy", pytest.approx(0.30))

    run_jobs(campaign, [validation_job(SHA, 0.04)])  # a newer run within the tolerance: validated
    assert run_builders(campaign)["bep_regression"] == 1
    (bep,) = query(campaign, "bep_regression")
    assert bep["validated"] is True and bep["validation"]["reason"] is None and bep["validation"]["n_passed"] == 2
    report = collect_report(campaign)
    assert report["bep"]["validated"] is True and report["validation"]["validated"] is True
    assert run_builders(campaign) == dict.fromkeys(FIRST_BUILD, 0)


def test_rerun_of_a_keyed_document_is_built_once(campaign: Campaign):
    run_builders(campaign)
    run_jobs(campaign, [frame_job(0)])  # same frame_id, new job
    counts = run_builders(campaign)
    assert counts["training_frames"] == 1
    assert len(query(campaign, "training_frames")) == 4
    assert run_builders(campaign)["training_frames"] == 0


def test_bep_lists_facets_without_a_barrier_as_excluded(tmp_path: Path):
    campaign = Campaign.create(tmp_path / "c", DbConfig())
    run_jobs(campaign, [*facet_jobs(SHA, "100", 0.46, -1.3, 0.02), surface_job(SHA, "110", 0.49)])
    counts = run_builders(campaign)
    assert counts["facet_summary"] == 2 and counts["bep_regression"] == 1
    (row,) = query(campaign, "facet_summary", {"facet": "110"})
    assert row["min_barrier_eV"] is None and row["effective_barrier_eV"] is None and row["lattice_constant_A"] is None
    (bep,) = query(campaign, "bep_regression")
    assert bep["n"] == 1 and bep["slope"] is None and bep["reason"].startswith("need at least 4 valid facets")
    assert bep["excluded"] == [
        {
            "facet": "110",
            "reason": "missing adsorption energy; missing diffusion barriers",
            "high_index": False,
            "min_adsorption_energy_eV": None,
            "effective_barrier_eV": None,
            "min_barrier_eV": None,
        }
    ]


def test_bep_fit_edge_cases():
    for n in (0, 2, 3):  # below 4 points: no fit, even where a line passes through every point
        fit = bep_fit([-1.0, -2.0, -1.5][:n], [0.1, 0.3, 0.2][:n])
        assert fit["slope"] is None and fit["r2"] is None and fit["ci95"] is None and fit["n"] == n
        assert fit["reason"].startswith("need at least 4 valid facets") and fit["reason"].endswith(f"have {n}")
    equal = bep_fit([-1.0] * 4, [0.1, 0.2, 0.3, 0.4])
    assert equal["slope"] is None and equal["reason"] == "all adsorption energies are equal"
    flat = bep_fit([-1.0, -2.0, -1.5, -1.2], [0.1] * 4)  # equal barriers: no t statistic (0/0)
    assert flat["slope"] is None and flat["p_value"] is None and flat["reason"] == "all effective barriers are equal"


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


def t_pdf(t: np.ndarray, dof: int) -> np.ndarray:
    """Student's t density, written out (no scipy)."""
    from math import gamma, pi, sqrt

    norm = gamma((dof + 1) / 2) / (sqrt(dof * pi) * gamma(dof / 2))
    return norm * (1 + t**2 / dof) ** (-(dof + 1) / 2)


def t_tail(t: float, dof: int) -> float:
    """P(T > t) for t ≥ 0: one half minus the trapezoid integral of the density over [0, t]."""
    grid = np.linspace(0.0, t, 20_001)
    inner = float(np.sum((t_pdf(grid[1:], dof) + t_pdf(grid[:-1], dof)) / 2 * np.diff(grid)))
    return 0.5 - inner


def t_quantile_975(dof: int) -> float:
    """t with P(T > t) = 0.025, by bisection on :func:`t_tail`."""
    low, high = 0.0, 50.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if t_tail(mid, dof) > 0.025 else (low, mid)
    return (low + high) / 2


def check_ols(fit: dict, x: list[float], y: list[float]) -> None:
    """Ordinary least squares by the textbook formulas (numpy only): slope = Sxy/Sxx, stderr =
    sqrt(SS_res/(n − 2)/Sxx), CI = slope ± t₀.₉₇₅(n − 2) stderr, two-sided p of t = slope/stderr."""
    xs, ys = np.asarray(x), np.asarray(y)
    n = len(xs)
    dx, dy = xs - xs.mean(), ys - ys.mean()
    sxx = np.sum(dx**2)
    slope = np.sum(dx * dy) / sxx
    intercept = ys.mean() - slope * xs.mean()
    ss_res = np.sum((ys - intercept - slope * xs) ** 2)
    stderr = np.sqrt(ss_res / (n - 2) / sxx)
    t_crit = t_quantile_975(n - 2)
    assert fit["n"] == n and fit["reason"] is None
    assert fit["slope"] == pytest.approx(slope, rel=1e-9) and fit["intercept"] == pytest.approx(intercept, rel=1e-9)
    assert fit["slope_stderr"] == pytest.approx(stderr, rel=1e-9)
    assert fit["intercept_stderr"] == pytest.approx(stderr * np.sqrt(np.sum(xs**2) / n), rel=1e-9)
    assert fit["r2"] == pytest.approx(1 - ss_res / np.sum(dy**2), rel=1e-9)
    assert fit["ci95"] == pytest.approx([slope - t_crit * stderr, slope + t_crit * stderr], rel=1e-6)
    assert fit["p_value"] == pytest.approx(2 * t_tail(abs(slope / stderr), n - 2), rel=1e-5)


def test_bep_fit_known_answer_by_hand():
    """x = 0, 1, 2, 3 and y = 0, 1, 1, 3 worked by hand: x̄ = 1.5, ȳ = 1.25, Sxx = 5, Sxy = 4.5, slope 0.9,
    intercept −0.1, residuals 0.1, 0.2, −0.7, 0.4 (SS_res 0.70, SS_tot 4.75), s² = 0.35, stderr = √0.07;
    with 2 degrees of freedom the t distribution is closed-form, F(t) = 1/2 + t / (2√(2 + t²)), so
    t₀.₉₇₅ = √(2 · 0.95² / (1 − 0.95²)) and p = 1 − |t| / √(2 + t²)."""
    fit = bep_fit([0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 1.0, 3.0])
    stderr = np.sqrt(0.07)
    t = 0.9 / stderr
    t_crit = np.sqrt(2 * 0.95**2 / (1 - 0.95**2))
    assert t_crit == pytest.approx(4.302653, abs=1e-6)
    assert fit["slope"] == pytest.approx(0.9, abs=1e-12) and fit["intercept"] == pytest.approx(-0.1, abs=1e-12)
    assert fit["slope_stderr"] == pytest.approx(stderr, rel=1e-12)
    assert fit["r2"] == pytest.approx(1 - 0.70 / 4.75, rel=1e-12)
    assert fit["ci95"] == pytest.approx([0.9 - t_crit * stderr, 0.9 + t_crit * stderr], rel=1e-9)
    assert fit["p_value"] == pytest.approx(1 - t / np.sqrt(2 + t**2), rel=1e-9)
    assert fit["p_value"] == pytest.approx(0.07662, abs=1e-5) and fit["n"] == 4
    check_ols(fit, [0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 1.0, 3.0])  # the numeric t integral agrees at 2 dof


def test_bep_statistics_against_the_textbook_formulas():
    x = [-1.3, -1.0, -1.4, -1.1, -0.9, -1.2]
    y = [0.02, 0.05, 0.08, 0.03, 0.09, 0.04]
    fit = bep_fit(x, y)
    check_ols(fit, x, y)  # 4 degrees of freedom: the t quantile and p from the integrated density
    ranks_x, ranks_y = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))  # no ties
    assert fit["spearman"] == pytest.approx(np.corrcoef(ranks_x, ranks_y)[0, 1], rel=1e-12)
    assert bep_fit(x, y) == fit  # deterministic: a rebuild gives the same document


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
    assert bep["high_index"]["slope"] is None and bep["high_index"]["reason"].endswith("have 2")  # two points: no fit
    report = collect_report(campaign)
    assert report["bep_high_index"]["facets"] == ["210", "211"] and len(report["bep_high_index"]["points"]) == 2
    assert report["bep"]["n"] == 5 and report["bep"]["ci95"] == bep["ci95"]
    points = report["bep"]["points"]
    assert sorted(p["facet"] for p in points) == sorted(values)
    x = [values[p["facet"]][1] for p in points]
    y = [values[p["facet"]][2] for p in points]
    assert [p["min_adsorption_energy_eV"] for p in points] == x and [p["effective_barrier_eV"] for p in points] == y
    assert [p["min_barrier_eV"] for p in points] == pytest.approx([v - SINGLE_HOP_BELOW_EV for v in y])
    check_ols(report["bep"], x, y)


def summary_row(facet: str, e_ads: float | None, barrier: float | None, **extra) -> dict:
    """A facet_summary document as FacetSummaryBuilder writes it: a valid BEP point unless ``extra`` says otherwise."""
    return {
        "campaign": NAME,
        "model_sha256": SHA,
        "facet": facet,
        "miller_index": list(MILLER.get(facet, (3, 1, 0))),
        "min_adsorption_energy_eV": e_ads,
        "min_site": "hollow-0",
        "min_adsorption_basis": "free_relaxed_stable_minimum",
        "n_stable_sites": 1,
        "min_barrier_eV": None if barrier is None else barrier / 2,
        "min_hop": "hollow-0->bridge-0",
        "effective_barrier_eV": barrier,
        "effective_barrier_by_direction_eV": {"a": barrier, "b": None},
        "effective_path": ["hollow-0->hollow-1"],
        "effective_mechanism": "hop",
        "percolates": {"a": True, "b": False},
        "invalid_hops": [],
        "last_updated": "2026-12-01T00:00:00",
        **extra,
    }


def bep_document(rows: list[dict]) -> dict:
    builder = BepRegressionBuilder(MemoryStore("facet_summary"), MemoryStore("bep_regression"))
    return builder.process_item({"model_sha256": SHA, "facets": rows})


def test_bep_excludes_each_kind_of_bad_point_with_its_reason():
    bad_band = {"hop": "hollow-0->hollow-1", "mechanism": "hop", "reason": "endpoints relaxed into one minimum"}
    other_band = {"hop": "hollow-0->ontop-0", "mechanism": "hop", "reason": "maximum at an endpoint"}
    rows = [
        summary_row("100", -1.32, 0.012),
        summary_row("110", -1.05, 0.045, invalid_hops=[other_band]),  # an invalid band off the path: kept
        summary_row("111", -1.41, 0.081),
        summary_row("210", -1.20, 0.060),
        summary_row("211", -1.10, 0.004),  # below 0.01 eV
        summary_row(
            "310", -1.00, None, effective_barrier_by_direction_eV={"a": None, "b": None},
            percolates={"a": False, "b": False}, effective_path=[], effective_mechanism=None,
        ),
        summary_row("320", -0.95, 0.070, invalid_hops=[bad_band]),  # its effective path crosses an invalid band
        summary_row("321", -0.90, 0.030, min_adsorption_basis="pinned_all_sites", n_stable_sites=0),
        summary_row("331", None, 0.050),
        summary_row("332", -1.00, None, min_barrier_eV=0.02, percolates=None, effective_path=None),  # stored before
        summary_row("333", -1.00, None, min_barrier_eV=None, percolates=None, effective_path=None),
    ]
    bep = bep_document(rows)
    assert bep["facets"] == ["100", "110", "111", "210"] and bep["n"] == 4 and bep["mechanisms"] == {"hop": 4}
    check_ols(bep, [-1.32, -1.05, -1.41, -1.20], [0.012, 0.045, 0.081, 0.060])
    assert {e["facet"]: e["reason"] for e in bep["excluded"]} == {
        "211": "effective barrier 0.0040 eV below 0.01 eV",
        "310": "no effective barrier: the hop network does not percolate in either surface direction",
        "320": "invalid NEB band on the effective path: hollow-0->hollow-1 (endpoints relaxed into one minimum)",
        "321": "no stable adsorption site (the minimum is a laterally pinned energy)",
        "331": "missing adsorption energy",
        "332": "no effective barrier",
        "333": "missing diffusion barriers",
    }
    assert [e["facet"] for e in bep["high_index"]["excluded"]] == ["211", "310", "320", "321", "331", "332", "333"]
    assert bep["high_index"]["facets"] == ["210"] and bep["high_index"]["slope"] is None
    # the mechanism of each point, and the lowest single hop beside the effective barrier
    assert [(p["facet"], p["effective_mechanism"], p["min_barrier_eV"]) for p in bep["points"]][0] == ("100", "hop", 0.006)


def test_bep_path_given_as_sites_and_exchange_bands():
    exchange_band = {"hop": "hollow-1->hollow-0", "mechanism": "exchange", "reason": "band not converged"}
    rows = [summary_row(f, e, b) for f, e, b in (("100", -1.3, 0.02), ("110", -1.0, 0.05), ("111", -1.4, 0.08))]
    rows.append(summary_row("210", -1.2, 0.06, effective_path=["hollow-0", "hollow-1", "hollow-0"], invalid_hops=[exchange_band]))
    assert bep_document(rows)["n"] == 4  # the invalid band is an exchange; the path is a plain hop
    rows[-1]["effective_path"] = ["hollow-0->hollow-1 (hop)", "hollow-1->hollow-0 (exchange)"]  # site_graph's form
    assert bep_document(rows)["excluded"][0]["reason"].endswith("hollow-1->hollow-0 (band not converged)")
    rows[-1]["effective_path"] = ["hollow-0", "hollow-1", "hollow-0"]
    rows[-1]["effective_mechanism"] = "exchange"
    bep = bep_document(rows)
    assert bep["n"] == 3 and bep["slope"] is None and bep["reason"].endswith("have 3")
    assert bep["excluded"][0]["reason"] == "invalid NEB band on the effective path: hollow-1->hollow-0 (band not converged)"


def test_facet_summary_lists_invalid_bands_and_the_effective_barrier():
    adsorption = {
        "campaign": NAME, "model_sha256": SHA, "facet": "110", "uuid": "u-ads", "miller_index": [1, 1, 0],
        "min_adsorption_energy_eV": -0.73, "min_site": "hollow-0", "min_adsorption_basis": "free_relaxed_stable_minimum",
        "min_pinned_adsorption_energy_eV": -0.70, "sites": [{"stable": True}, {"stable": False}],
        "last_updated": "2026-12-01T00:00:00",
    }
    diffusion = {
        "campaign": NAME, "model_sha256": SHA, "facet": "110", "uuid": "u-neb", "miller_index": [1, 1, 0],
        "min_barrier_eV": 0.016, "min_hop": "hollow-0->hollow-1", "min_mechanism": "hop",
        "effective_barrier_eV": 0.021, "effective_barrier_by_direction_eV": {"a": 0.021, "b": 0.034},
        "effective_path": ["hollow-0->hollow-1"], "effective_mechanism": "hop", "percolates": {"a": True, "b": True},
        "hop_cutoff_A": 3.1,
        "hops": [
            {"start": "hollow-0", "end": "hollow-1", "mechanism": "hop", "valid": True},
            {"start": "hollow-0", "end": "bridge-0", "mechanism": "hop", "valid": False, "invalid_reason": "degenerate band"},
            {"start": "hollow-0", "end": "hollow-2", "mechanism": "exchange"},  # stored before Hop.valid: valid
        ],
        "last_updated": "2026-12-02T00:00:00",
    }
    stores = [MemoryStore(name) for name in ("s", "a", "d", "b", "t")]
    row = FacetSummaryBuilder(*stores).process_item(
        {"model_sha256": SHA, "facet": "110", "surface_energies": [], "adsorption_energies": [adsorption],
         "diffusion_barriers": [diffusion], "bulk": []}
    )
    assert row["invalid_hops"] == [{"hop": "hollow-0->bridge-0", "mechanism": "hop", "reason": "degenerate band"}]
    assert (row["effective_barrier_eV"], row["min_barrier_eV"], row["n_stable_sites"]) == (0.021, 0.016, 1)
    assert row["effective_barrier_by_direction_eV"] == {"a": 0.021, "b": 0.034} and row["hop_cutoff_A"] == 3.1
    assert row["min_pinned_adsorption_energy_eV"] == -0.70 and row["min_adsorption_basis"] == "free_relaxed_stable_minimum"
