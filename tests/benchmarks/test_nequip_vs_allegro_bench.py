"""benchmarks/nequip_vs_allegro.py: its spot checks from the teacher's frames, and its prepared configs."""

from __future__ import annotations

import json

import pytest
import yaml
from ase.io import read

from benchmarks.nequip_vs_allegro import prepare, spot_check_value
from tests.conftest import REPO

DATA = REPO / "benchmarks" / "data" / "demo_s29_frames"


def test_spot_checks_from_the_exported_frames_equal_the_demo_report():
    """The exported frames and the quantity formulas reproduce every DFT value the demo's validation stored."""
    frames = {a.info["frame_id"]: a for a in read(DATA / "frames.extxyz", ":")}
    checks = json.loads((DATA / "checks.json").read_text())
    report = json.loads((REPO / "benchmarks/results/demo_2026-12-04_s29/report.json").read_text())
    stored = {(c["quantity"], c["facet"], c["item"]): c["dft"] for c in report["validation"]["checks"] if c["frame_ids"]}
    assert sorted(stored) == sorted((c["quantity"], c["facet"], c["item"]) for c in checks)
    assert {c["quantity"] for c in checks} == {"adsorption_energy", "barrier", "surface_energy"}
    for c in checks:
        value = spot_check_value(c["quantity"], c["frame_ids"], lambda i: frames[i].get_potential_energy(), frames)
        assert value == pytest.approx(stored[(c["quantity"], c["facet"], c["item"])], abs=1e-9)
    with pytest.raises(ValueError, match="lattice_constant"):
        spot_check_value("lattice_constant", checks[0]["frame_ids"], lambda i: 0.0, frames)


def test_prepared_configs_differ_only_in_the_model(tmp_path):
    """Both architectures get the demo's split files, loss, schedule and trainer; only the model section differs."""
    prepare(DATA, REPO / "workflows" / "demo.yaml", tmp_path, ["nequip", "allegro"], {"num_scalar_features": 64})
    nequip, allegro = (yaml.safe_load((tmp_path / a / "nequip.yaml").read_text()) for a in ("nequip", "allegro"))
    assert nequip["training_module"]["model"]["_target_"] == "nequip.model.NequIPGNNModel"
    assert allegro["training_module"]["model"]["_target_"] == "allegro.model.AllegroModel"
    assert allegro["training_module"]["model"]["num_scalar_features"] == 64
    for config in (nequip, allegro):
        config["training_module"].pop("model")
        assert config["trainer"]["accelerator"] == "gpu"
        for part in ("train", "val", "test"):
            config["data"][f"{part}_file_path"] = config["data"][f"{part}_file_path"].replace("/allegro/", "/nequip/")
    assert nequip == allegro
    split = json.loads((DATA / "split.json").read_text())
    for part in ("train", "val", "test"):
        written = [a.info["frame_id"] for a in read(tmp_path / "allegro" / f"{part}.extxyz", ":")]
        assert written == split[part]
