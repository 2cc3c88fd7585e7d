"""The report, read from derived collections built from real (tiny) jobflow jobs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase.units import kB
from jobflow import Flow, job, run_locally
from pymatgen.core import Lattice, Structure

from li_campaign.builders import run_builders
from li_campaign.core.errors import DatabaseError, InputError
from li_campaign.db.config import Campaign, DbConfig
from li_campaign.report import collect_report, write_report
from li_campaign.schemas.bulk import BulkDoc
from li_campaign.schemas.frames import TrainingFrameDoc
from li_campaign.schemas.kinetics import DiffusionDoc, Hop, LargeCellDiffusionDoc
from li_campaign.schemas.models import HoldoutErrors, ModelDoc, ParityData
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.surfaces import AdsorptionDoc, AdsorptionSite, SurfaceEnergyDoc

pytestmark = [
    pytest.mark.filterwarnings("ignore:Some jobs are not connected"),
    pytest.mark.filterwarnings("ignore:cd is deprecated"),
]

NAME = "li-report"
SHA, NEWER_SHA = "a" * 64, "c" * 64
FACETS = {  # facet: (miller index, surface energy J/m2, min adsorption energy eV, effective barrier eV)
    "100": ((1, 0, 0), 0.458, -1.32, 0.012),
    "110": ((1, 1, 0), 0.487, -1.05, 0.045),
    "111": ((1, 1, 1), 0.522, -1.41, 0.081),
    "210": ((2, 1, 0), 0.551, -1.20, 0.060),
}
LOWEST_HOP_EV = 0.010  # the lowest single hop of every facet: below its effective barrier, not in the BEP
STRUCT = Structure(Lattice.cubic(3.44), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _prov(sha: str | None) -> Provenance:
    return Provenance(campaign=NAME, spec_hash="f" * 64, model_sha256=sha)


@job
def frame_job(index: int) -> TrainingFrameDoc:
    return TrainingFrameDoc(
        frame_id=f"{NAME}:vacancy:{index}", origin="vacancy", label="vacancy", structure=STRUCT, n_atoms=15,
        energy_eV=-28.0, energy_per_atom_eV=-1.87, forces_eV_A=[[0.0, 0.0, 0.0]] * 15, stress_eV_A3=[0.0] * 6,
        engine="gpaw", wall_time_s=30.0, provenance=_prov(None),
    )


@job
def model_job(sha: str, energy_mae: float) -> ModelDoc:
    return ModelDoc(
        campaign=NAME, architecture="nequip", sha256=sha, deployed_path=f"/m/{sha}.pt2", deploy_mode="aotinductor",
        compile_target="ase", package_path="/m/p.zip", package_sha256="b" * 64,
        split={"train": ["a", "b", "c", "d"], "val": ["e"], "test": ["f"]}, hyperparameters={},
        holdout=HoldoutErrors(
            n_frames=1, energy_mae_meV_atom=energy_mae, energy_rmse_meV_atom=5.0, force_mae_meV_A=38.5,
            force_rmse_meV_A=50.0,
        ),
        parity=ParityData(
            dft_energy_per_atom_eV=[-1.90, -1.87, -1.85], mlip_energy_per_atom_eV=[-1.902, -1.868, -1.853],
            dft_force_components_eV_A=[0.3, -0.1, 0.0, 0.2], mlip_force_components_eV_A=[0.28, -0.12, 0.01, 0.23],
        ),
        training_wall_time_s=60.0, deploy_wall_time_s=20.0, provenance=_prov(sha),
    )


@job
def bulk_job(sha: str) -> BulkDoc:
    return BulkDoc(
        lattice_constant_A=3.437, energy_per_atom_eV=-1.905, bulk_modulus_GPa=13.1, volumes_A3_atom=[20.3],
        energies_eV_atom=[-1.905], provenance=_prov(sha),
    )


@job
def surface_job(facet: str) -> SurfaceEnergyDoc:
    hkl, gamma, _, _ = FACETS[facet]
    return SurfaceEnergyDoc(
        facet=facet, miller_index=hkl, n_atoms=14, n_layers=7, slab_thickness_A=10.3, vacuum_A=12.0, area_A2=11.8,
        slab_energy_eV=-26.0, bulk_energy_per_atom_eV=-1.905, surface_energy_J_m2=gamma,
        surface_energy_eV_A2=gamma / 16.0218, relaxed_structure=STRUCT, relax_converged=True, relax_steps=12,
        provenance=_prov(SHA),
    )


@job
def adsorption_job(facet: str) -> AdsorptionDoc:
    hkl, _, e_ads, _ = FACETS[facet]
    site = AdsorptionSite(
        label="hollow-0", site_type="hollow", position_A=[0.0, 0.0, 20.0], adsorption_energy_eV=e_ads, stable=True,
        relaxed_to="hollow-0", free_adsorption_energy_eV=e_ads,
    )
    return AdsorptionDoc(
        facet=facet, miller_index=hkl, n_slab_atoms=28, supercell=(2, 2), slab_energy_eV=-52.0,
        bulk_energy_per_atom_eV=-1.905, sites=[site], min_adsorption_energy_eV=e_ads, min_site="hollow-0",
        min_adsorption_basis="free_relaxed_stable_minimum", min_pinned_adsorption_energy_eV=e_ads + 0.01,
        min_pinned_site="hollow-0", slab_structure=STRUCT, site_copies={"hollow-0": [[0.0, 0.0, 20.0]]}, site_heights_A={"hollow-0": 20.0},
        provenance=_prov(SHA),
    )


@job(data="images")
def diffusion_job(facet: str) -> DiffusionDoc:
    """The effective path hollow-0 -> hollow-1 along a (b does not percolate), a lower hop to the bridge,
    and on (110) an invalid band."""
    hkl, _, _, barrier = FACETS[facet]
    hops = [
        Hop(
            start="hollow-0", end=end, distance_A=2.4, barrier_forward_eV=value, barrier_reverse_eV=value,
            n_images=3, converged=True, endpoint_drift_A=0.05, images=[STRUCT] * 3,
        )
        for end, value in (("hollow-1", barrier), ("bridge-0", LOWEST_HOP_EV))
    ]
    if facet == "110":
        hops.append(
            Hop(
                start="hollow-0", end="hollow-2", distance_A=3.5, barrier_forward_eV=0.0, barrier_reverse_eV=0.0,
                n_images=3, converged=True, endpoint_drift_A=0.6, valid=False,
                invalid_reason="both endpoints relaxed into the same minimum",
            )
        )
    return DiffusionDoc(
        facet=facet, miller_index=hkl, hops=hops, min_barrier_eV=LOWEST_HOP_EV, min_hop="hollow-0->bridge-0",
        effective_barrier_eV=barrier, effective_barrier_by_direction_eV={"a": barrier, "b": None},
        effective_path=["hollow-0->hollow-1 (hop)", "hollow-1->hollow-0 (hop)"], effective_mechanism="hop",
        percolates={"a": True, "b": False}, hop_cutoff_A=3.0, provenance=_prov(SHA),
    )


def build(campaign: Campaign, jobs: list) -> None:
    """Run jobs with jobflow into the campaign's JobStore, then the builders."""
    run_locally(Flow(jobs), store=campaign.job_store(), log=False, ensure_success=True)
    run_builders(campaign)


def campaign_with(tmp_path: Path, facets: list[str]) -> Campaign:
    """A built campaign: 3 frames, one model with its bulk fit, and fan-out results of ``facets``."""
    campaign = Campaign.create(tmp_path / "c", DbConfig())
    jobs = [frame_job(i) for i in range(3)] + [model_job(SHA, 3.2), bulk_job(SHA)]
    jobs += [j(facet) for facet in facets for j in (surface_job, adsorption_job, diffusion_job)]
    build(campaign, jobs)
    return campaign


@pytest.fixture
def campaign(tmp_path: Path) -> Campaign:
    return campaign_with(tmp_path, list(FACETS))


def test_empty_campaign_asks_for_a_build(tmp_path: Path):
    campaign = Campaign.create(tmp_path / "c", DbConfig())
    with pytest.raises(DatabaseError, match="li-campaign build"):
        collect_report(campaign)
    with pytest.raises(DatabaseError, match="li-campaign build"):
        write_report(campaign, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_collect_report(campaign: Campaign):
    report = collect_report(campaign)
    assert report["campaign"] == NAME and report["n_training_frames"] == 3
    assert report["lattice_constant_A"] == 3.437 and report["bulk"]["bulk_modulus_GPa"] == 13.1
    assert report["surface_energy_J_m2"] == {facet: v[1] for facet, v in FACETS.items()}
    assert report["min_adsorption_energy_eV"] == {facet: v[2] for facet, v in FACETS.items()}
    assert report["effective_barrier_eV"] == {facet: v[3] for facet, v in FACETS.items()}
    assert report["min_barrier_eV"] == dict.fromkeys(FACETS, LOWEST_HOP_EV)
    assert [row["facet"] for row in report["facets"]] == ["100", "110", "111", "210"]
    row = report["facets"][1]
    assert row["min_site"] == "hollow-0" and row["miller_index"] == [1, 1, 0]
    assert row["min_adsorption_basis"] == "free_relaxed_stable_minimum" and row["min_pinned_adsorption_energy_eV"] == -1.04
    assert row["effective_barrier_eV"] == 0.045 and row["effective_barrier_by_direction_eV"] == {"a": 0.045, "b": None}
    assert row["percolates"] == {"a": True, "b": False} and row["effective_mechanism"] == "hop"
    assert row["effective_path"] == ["hollow-0->hollow-1 (hop)", "hollow-1->hollow-0 (hop)"]
    assert row["invalid_hops"] == [
        {"hop": "hollow-0->hollow-2", "mechanism": "hop", "reason": "both endpoints relaxed into the same minimum"}
    ]
    assert [r["invalid_hops"] for r in report["facets"] if r["facet"] != "110"] == [[], [], []]

    model = report["model"]
    assert model["sha256"] == SHA and model["energy_mae_meV_atom"] == 3.2 and model["force_mae_meV_A"] == 38.5
    assert (model["n_train"], model["n_val"], model["n_test"]) == (4, 1, 1)
    assert report["parity"]["dft_force_components_eV_A"] == [0.3, -0.1, 0.0, 0.2]

    x = np.array([FACETS[f][2] for f in sorted(FACETS)])
    y = np.array([FACETS[f][3] for f in sorted(FACETS)])
    slope, intercept = np.polyfit(x, y, 1)
    stderr = np.sqrt(np.sum((y - slope * x - intercept) ** 2) / 2 / np.sum((x - x.mean()) ** 2))
    t_crit = np.sqrt(2 * 0.95**2 / (1 - 0.95**2))  # 2 degrees of freedom: closed form
    bep = report["bep"]
    assert bep["slope"] == pytest.approx(slope) and bep["intercept"] == pytest.approx(intercept)
    assert bep["slope_stderr"] == pytest.approx(stderr) and bep["ci95"] == pytest.approx([slope - t_crit * stderr, slope + t_crit * stderr])
    t = slope / stderr
    assert bep["p_value"] == pytest.approx(1 - abs(t) / np.sqrt(2 + t**2))
    assert bep["n"] == 4 and bep["facets"] == ["100", "110", "111", "210"] and bep["excluded"] == []
    assert [p["effective_mechanism"] for p in bep["points"]] == ["hop"] * 4
    json.dumps(report)  # JSON-serialisable


def test_model_selection(campaign: Campaign):
    build(campaign, [model_job(NEWER_SHA, 2.5)])
    newest = collect_report(campaign)
    assert newest["model"]["sha256"] == NEWER_SHA and newest["model"]["energy_mae_meV_atom"] == 2.5
    assert newest["facets"] == [] and newest["lattice_constant_A"] is None
    assert newest["bep"]["n"] == 0 and newest["bep"]["slope"] is None

    older = collect_report(campaign, model_sha256=SHA[:10])
    assert older["model"]["sha256"] == SHA and older["bep"]["n"] == 4
    with pytest.raises(InputError, match="matches no built model"):
        collect_report(campaign, model_sha256="0123")


def test_write_report(campaign: Campaign, tmp_path: Path):
    out = write_report(campaign, tmp_path / "report")
    for name in ("bep.png", "parity.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC and (out / name).stat().st_size > 5000
    assert json.loads((out / "report.json").read_text()) == collect_report(campaign)
    summary = (out / "summary.md").read_text()
    rows = collect_report(campaign)["facets"]
    assert sum(row["wulff_fraction"] for row in rows) == pytest.approx(1.0)  # every facet on the shape is listed
    assert [row["hkl"] for row in rows][:3] == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    fraction = rows[1]["wulff_fraction"]
    assert (
        f"| (110) | 0.487 | {fraction:.3f} | -1.050 | hollow-0 | 0.045 | 0.045 / – | yes / no | "
        "hollow-0->hollow-1 (hop) → hollow-1->hollow-0 (hop) | hop | 0.010 | hollow-0->bridge-0 |"
    ) in summary
    assert "| (110) | hollow-0->hollow-2 | hop | both endpoints relaxed into the same minimum |" in summary
    assert "3.4370" in summary and SHA in summary
    bep = collect_report(campaign)["bep"]
    assert (
        f"n = 4, slope {bep['slope']:.3f} ± {bep['slope_stderr']:.3f} (standard error), "
        f"95 % CI [{bep['ci95'][0]:.3f}, {bep['ci95'][1]:.3f}] (t, 2 degrees of freedom), p = {bep['p_value']:.3g}, "
        f"r² = {bep['r2']:.3f}"
    ) in summary
    assert "High-index facets only: no fit (n = 1): need at least 4 valid facets" in summary


def test_write_report_without_bep_fit(tmp_path: Path):
    campaign = campaign_with(tmp_path, ["100"])
    out = write_report(campaign, tmp_path / "report")
    report = json.loads((out / "report.json").read_text())
    assert report["bep"]["n"] == 1
    assert report["bep"]["reason"] == (
        "need at least 4 valid facets for a fit with a t-based slope interval (n − 2 ≥ 2 degrees of freedom), have 1"
    )
    assert report["bep"]["slope"] is None and [p["facet"] for p in report["bep"]["points"]] == ["100"]
    png = (out / "bep.png").read_bytes()
    # a PNG of the 4.5 × 3.6 in figure at 100 dpi (IHDR width and height, big-endian)
    assert png[:8] == PNG_MAGIC and (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (450, 360)
    assert "All facets: no fit (n = 1): need at least 4 valid facets" in (out / "summary.md").read_text()


def test_report_json_cli_carries_effective_barriers_and_excluded_points(tmp_path: Path, capsys, monkeypatch):
    """`li-campaign report --json`: facets carry the effective barrier and percolation; a facet below 0.01 eV is
    listed as excluded with its reason, and with three points left there is no fit."""
    from li_campaign.cli.main import main

    monkeypatch.setitem(FACETS, "211", ((2, 1, 1), 0.530, -0.95, 0.004))
    campaign = campaign_with(tmp_path, ["100", "110", "111", "211"])
    assert main(["--campaign-dir", str(campaign.root), "report", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {row["facet"]: row for row in report["facets"]}
    assert {facet: row["effective_barrier_eV"] for facet, row in rows.items()} == {
        "100": 0.012, "110": 0.045, "111": 0.081, "211": 0.004
    }
    assert all(row["percolates"] == {"a": True, "b": False} for row in rows.values())
    bep = report["bep"]
    assert bep["facets"] == ["100", "110", "111"] and bep["slope"] is None and bep["reason"].endswith("have 3")
    assert [(e["facet"], e["reason"]) for e in bep["excluded"]] == [("211", "effective barrier 0.0040 eV below 0.01 eV")]
    assert report["bep_high_index"]["excluded"] == bep["excluded"] and report["bep_high_index"]["n"] == 0
    out = write_report(campaign, tmp_path / "report")
    assert "- (211): effective barrier 0.0040 eV below 0.01 eV" in (out / "summary.md").read_text()


@job
def large_cell_job(temperature_K: float, diffusivity: float) -> LargeCellDiffusionDoc:
    return LargeCellDiffusionDoc(
        facet="110", miller_index=(1, 1, 0), temperature_K=temperature_K, n_atoms=100_441, n_slab_atoms=100_000,
        supercell=(183, 183), n_fixed=33_489, cell_A=[[560.0, 0.0, 0.0], [187.0, 528.0, 0.0], [0.0, 0.0, 24.0]],
        receptive_field_A=18.0, adatom_spacing_A=20.0, n_adatoms=441, n_valid=430,
        excluded={"sunk": 2, "desorbed": 0, "clustered": 9}, timestep_fs=2.0, friction_per_fs=0.01,
        equilibration_steps=1000, production_steps=50_000, sample_every=10, thermostat_temperature_K=temperature_K,
        diffusivity_cm2_s=diffusivity, diffusivity_err_cm2_s=0.05 * diffusivity, n_hops=5000, valid=True,
        engine="torch_sim", device="cuda", md_wall_time_s=3600.0, atom_steps_per_s=1.4e7, wall_time_per_ns_s=7200.0,
        wall_time_s=3700.0, provenance=_prov(SHA),
    )


def test_report_json_has_the_large_cell_diffusion_per_facet_with_its_arrhenius_fit(tmp_path: Path):
    campaign = campaign_with(tmp_path, ["110"])
    law = {t: 1e-3 * np.exp(-0.05 / (kB * t)) for t in (250.0, 350.0)}
    build(campaign, [large_cell_job(t, d) for t, d in law.items()])
    report = collect_report(campaign)
    section = report["diffusivity_large_cell"]["110"]
    assert set(section["runs"]) == {"250", "350"}
    run = section["runs"]["250"]
    assert run["n_atoms"] == 100_441 and run["n_valid"] == 430 and run["excluded"] == {"sunk": 2, "desorbed": 0, "clustered": 9}
    assert run["diffusivity_cm2_s"] == pytest.approx(law[250.0]) and run["engine"] == "torch_sim"
    assert run["atom_steps_per_s"] == 1.4e7 and run["wall_time_per_ns_s"] == 7200.0
    fit = section["arrhenius"]
    assert fit["n"] == 2 and fit["activation_energy_eV"] == pytest.approx(0.05) and fit["prefactor_cm2_s"] == pytest.approx(1e-3)
    assert fit["neb_effective_barrier_eV"] == FACETS["110"][3] and fit["activation_minus_neb_eV"] == pytest.approx(0.005)
    assert report["diffusivity"] == {}  # the small-cell D(T) is not mixed with the large cell's
    assert "## Adatom diffusion in a large cell" in (write_report(campaign, tmp_path / "out") / "summary.md").read_text()
