"""The whole campaign through FireWorks on the embedded database, via the real CLI.

Labels come from the analytic Morse potential chosen in tests/data/e2e_morse.yaml, so the
pipeline (structures → labels → NequIP fit → fan-out → builders → report) runs in minutes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.helpers import REPO, SPEC, li, outputs_of

FACETS = ["100", "110", "111"]

pytestmark = pytest.mark.slow

__all__ = ["REPO", "li"]  # tests/e2e/test_surfaces.py imports them from here


def test_every_job_completed(finished):
    assert finished["run"].returncode == 0, finished["run"].stdout + finished["run"].stderr
    status = json.loads(li(finished["env"], "status", "--json").stdout)
    assert set(status["states"]) == {"COMPLETED"}
    assert status["failed"] == []


def test_report_has_every_stage(finished):
    report = finished["report"]
    # bulk, vacancy, slabs, adatoms (every site), the isolated atom
    assert report["n_training_frames"] == 10 + 6 + 1 + 3 * (1 + 1) + (3 + 4 + 4) + 1
    assert set(report["surface_energy_J_m2"]) == set(FACETS)
    assert set(report["min_adsorption_energy_eV"]) == set(FACETS)
    assert set(report["min_barrier_eV"]) == set(FACETS)
    assert all(v >= 0 for v in report["min_barrier_eV"].values())
    # three facets: no BEP fit (it needs 4 valid facets), and the report says why; every facet is a point or excluded
    bep = report["bep"]
    points, excluded = {p["facet"] for p in bep["points"]}, {e["facet"] for e in bep["excluded"]}
    assert points | excluded == set(FACETS) and not points & excluded and bep["n"] == len(points)
    assert bep["slope"] is None and bep["ci95"] is None and "need at least 4 valid facets" in bep["reason"]
    assert report["bep_high_index"]["n"] == 0  # (100), (110), (111) only
    assert sum(row["wulff_fraction"] for row in report["facets"]) == pytest.approx(1.0)
    assert all(len(row["hkl"]) == 3 for row in report["facets"])
    model = report["model"]
    assert len(model["sha256"]) == 64
    assert model["energy_mae_meV_atom"] >= 0 and model["force_mae_meV_A"] >= 0
    assert 3.0 < report["lattice_constant_A"] < 4.0


def test_report_has_the_bulk_stage(finished):
    bulk = finished["report"]["bulk"]
    assert 3.0 < bulk["a0_A"] < 4.0 and bulk["B0_GPa"] > 0 and bulk["B0_prime"] is not None
    assert [size["n"] for size in bulk["vacancy_formation_by_size"]] == [2, 3]
    assert bulk["vacancy_formation_eV"] == bulk["vacancy_formation_by_size"][-1]["formation_energy_eV"]
    assert bulk["vacancy_migration_eV"] is not None
    assert set(bulk["phonon_THz"]) == {"H", "N", "P"} and all(len(v) == 3 for v in bulk["phonon_THz"].values())
    assert "phonon_band" not in bulk  # plot data stays in report.json of the report folder
    assert set(bulk["elastic_GPa"]) == {"200"}
    assert {"C11", "C11_err", "C12", "C12_err", "C44", "C44_err"} <= set(bulk["elastic_GPa"]["200"])
    assert set(bulk["thermal_expansion"]) == {"200"} and bulk["thermal_expansion"]["200"] > 3.0
    assert set(bulk["elastic_0K_GPa"]) >= {"C11", "C12", "C44"}
    teacher = bulk["dft_reference"]  # the Morse teacher's own EOS and 0 K Cij
    assert 3.0 < teacher["a0_A"] < 4.0 and teacher["B0_GPa"] > 0
    assert teacher["elastic_0K_GPa"]["C11"] > teacher["elastic_0K_GPa"]["C12"]


def test_frames_were_read_back_from_the_store_and_split_recorded(finished):
    from li_campaign.db.config import Campaign

    store = Campaign(finished["root"]).job_store()
    store.connect()
    frames = [f for f in outputs_of(store, "training_frame") if f["origin"] != "validation"]  # labels packed: dft.pack_size
    model = store.query_one({"output.doc_type": "model"}, properties=["output"])["output"]
    split = model["split"]
    assert sorted(split["train"] + split["val"] + split["test"]) == sorted(f["frame_id"] for f in frames)
    from li_campaign.mlip.dataset import VACUUM_ORIGINS

    assert {f["origin"] for f in frames} & VACUUM_ORIGINS and {f["origin"] for f in frames} - VACUUM_ORIGINS
    for out in frames:
        assert len(out["forces_eV_A"]) == out["n_atoms"]
        # a slab's stress is not a bulk stress (never trained on): only cells without vacuum carry one
        if out["origin"] in VACUUM_ORIGINS:
            assert out["stress_eV_A3"] is None, out["frame_id"]
        else:
            assert len(out["stress_eV_A3"]) == 6, out["frame_id"]
        assert out["provenance"]["dft_settings"]["engine"] == "morse"
        assert len(out["provenance"]["structure_hash"]) == 64
        assert out["provenance"]["code_versions"]["li-campaign"]


def test_the_model_keeps_its_adsorption_errors_on_its_adatom_cells_and_the_report_shows_them(finished, tmp_path):
    from li_campaign.db.config import Campaign
    from li_campaign.mlip.calculator import load_calculator
    from li_campaign.mlip.dataset import frame_to_atoms

    store = Campaign(finished["root"]).job_store()
    store.connect()
    frames = {f["frame_id"]: f for f in outputs_of(store, "training_frame") if f["origin"] != "validation"}
    model = store.query_one({"output.doc_type": "model"}, properties=["output"])["output"]
    rows = model["adsorption_label_errors"]
    adatom_cells = {fid for fid, f in frames.items() if f["origin"] == "adatom"}
    assert {row["frame_id"] for row in rows} == adatom_cells and {row["facet"] for row in rows} == set(FACETS)
    part_of = {fid: part for part, ids in model["split"].items() for fid in ids}
    assert all(row["part"] == part_of[row["frame_id"]] for row in rows)
    # one row recomputed from the stored frames with the model's package (the fit evaluates the eager package)
    row = max(rows, key=lambda r: abs(r["error_eV"]))
    calc = load_calculator(model["package_path"], model["package_sha256"], "eager")
    bulk_id = next(fid for fid, f in frames.items() if f["label"] == "bulk strain 0")

    def energies(fid):
        atoms = frame_to_atoms(frames[fid])
        teacher = atoms.get_potential_energy()
        atoms.calc = calc
        return teacher, atoms.get_potential_energy()

    (cell_t, cell_m), (slab_t, slab_m), (bulk_t, bulk_m) = map(energies, (row["frame_id"], row["slab_frame_id"], bulk_id))
    n_bulk = frames[bulk_id]["n_atoms"]
    dft = cell_t - row["repeats"] * slab_t - bulk_t / n_bulk
    assert row["dft_eV"] == pytest.approx(dft, abs=1e-6)
    assert row["error_eV"] == pytest.approx(cell_m - row["repeats"] * slab_m - bulk_m / n_bulk - dft, abs=1e-4)
    by_facet = finished["report"]["model"]["adsorption_label_errors_by_facet"]
    assert set(by_facet) == set(FACETS) and by_facet[row["facet"]]["max_abs_eV"] == pytest.approx(abs(row["error_eV"]))
    li(finished["env"], "report", "--out", str(tmp_path / "rep"))
    summary = (tmp_path / "rep" / "summary.md").read_text()
    assert "Adsorption energies of the adatom training cells" in summary and f"| ({row['facet']}) |" in summary


def test_fanout_documents_carry_provenance(finished):
    from li_campaign.builders.base import job_items, outputs_query
    from li_campaign.core.hashing import file_sha256
    from li_campaign.db.config import Campaign

    store = Campaign(finished["root"]).job_store()
    store.connect()

    def results(kind):  # one document per calculation, packed (fanout.pack_size) or not
        return [item for doc in store.query(outputs_query(kind), properties=["uuid", "output"]) for item in job_items(doc, kind)]

    model = store.query_one({"output.doc_type": "model"}, properties=["output"])["output"]
    assert file_sha256(model["deployed_path"]) == model["sha256"]
    for kind in ("bulk", "surface_energy", "adsorption", "diffusion"):
        docs = results(kind)
        assert docs, kind
        for doc in docs:
            prov = doc["output"]["provenance"]
            assert prov["campaign"] == "e2e-morse"
            if kind != "bulk" or doc["output"].get("source") == "mlip":
                assert prov["model_sha256"] == model["sha256"]
    assert len(results("surface_energy")) == len(results("diffusion")) == len(FACETS)
    by_facet = {d["output"]["facet"]: d["output"] for d in results("adsorption")}
    assert {s["site_type"] for s in by_facet["100"]["sites"]} == {"ontop", "bridge", "hollow"}


def test_second_build_processes_nothing(finished):
    again = li(finished["env"], "build").stdout
    counts = [int(line.rsplit(" ", 1)[1]) for line in again.strip().splitlines()]
    assert counts and all(c == 0 for c in counts), again


def test_mrun_builders_file_runs_against_the_campaign(finished):
    exe = Path(sys.executable).with_name("mrun")
    proc = subprocess.run(
        [str(exe), "-v", "workflows/builders.py"], env=finished["env"], capture_output=True, text=True, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "BepRegressionBuilder: processing 0 items" in proc.stdout + proc.stderr


def test_report_folder_has_plots(finished, tmp_path):
    li(finished["env"], "report", "--out", str(tmp_path / "rep"))
    for name in ("summary.md", "report.json", "bep.png", "wulff.png", "parity.png", "phonons.png", "elastic.png"):
        path = tmp_path / "rep" / name
        assert path.is_file() and path.stat().st_size > 100, name


def test_resubmitting_the_same_spec_adds_nothing(finished):
    proc = li(finished["env"], "submit", str(SPEC), check=False)
    assert proc.returncode == 2
    assert "already submitted" in proc.stderr
    status = json.loads(li(finished["env"], "status", "--json").stdout)
    assert set(status["states"]) == {"COMPLETED"}


def test_missing_model_file_fails_the_job_with_its_name(finished):
    """A fan-out job whose model file is gone fails with the file's name; nothing else changes."""
    from jobflow import Flow

    from li_campaign.bulk.jobs import BulkLatticeMaker
    from li_campaign.db.config import Campaign
    from li_campaign.launch.runner import run_workers
    from li_campaign.launch.status import campaign_status
    from li_campaign.launch.submit import submit_flow
    from li_campaign.schemas.models import ModelDoc

    campaign = Campaign(finished["root"])
    store = campaign.job_store()
    store.connect()
    model = ModelDoc.model_validate(store.query_one({"output.doc_type": "model"}, properties=["output"])["output"])
    ghost = model.model_copy(update={"deployed_path": str(finished["root"] / "models" / "ghost.nequip.zip")})
    n_outputs = store.count()
    submit_flow(campaign, Flow([BulkLatticeMaker().make(ghost)]), "ghost-model")
    run_workers(campaign, progress=False)
    failed = campaign_status(campaign)["failed"]
    assert len(failed) == 1 and "ghost.nequip.zip: model file missing" in failed[0]["reason"]
    assert store.count() == n_outputs
