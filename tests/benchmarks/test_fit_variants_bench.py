"""benchmarks/fit_variants.py: its prepared configs, the total-energy loss variant included."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from ase.io import read

from benchmarks.fit_variants import prepare
from tests.conftest import REPO

DATA = REPO / "benchmarks" / "data" / "demo_s29_frames"


def _energy_term(config: dict) -> dict:
    (term,) = [m for m in config["training_module"]["loss"]["metrics"] if m["name"].endswith("energy_mse")]
    return term


def test_a_total_energy_variant_changes_only_the_energy_term_by_the_mean_atom_count_squared(tmp_path):
    prepare(DATA, REPO / "workflows" / "demo.yaml", tmp_path, {"per_atom": {}, "total": {"energy_loss": "total"}})
    per_atom, total = (yaml.safe_load((tmp_path / name / "nequip.yaml").read_text()) for name in ("per_atom", "total"))
    a, b = _energy_term(per_atom), _energy_term(total)
    assert a["name"] == "per_atom_energy_mse" and a["field"]["_target_"] == "nequip.data.PerAtomModifier"
    assert b["name"] == "total_energy_mse" and b["field"] == "total_energy"
    frames = {f.info["frame_id"]: f for f in read(DATA / "frames.extxyz", ":")}
    train = json.loads((DATA / "split.json").read_text())["train"]
    assert b["coeff"] == pytest.approx(a["coeff"] / np.mean([len(frames[i]) for i in train]) ** 2, rel=1e-12)
    for config in (per_atom, total):
        config["training_module"]["loss"]["metrics"] = [m for m in config["training_module"]["loss"]["metrics"] if "energy" not in m["name"]]
        for part in ("train", "val", "test"):
            config["data"][f"{part}_file_path"] = config["data"][f"{part}_file_path"].replace("/total/", "/per_atom/")
    assert per_atom == total
    assert json.loads((tmp_path / "total" / "variant.json").read_text()) == {"energy_loss": "total"}


def test_an_unknown_energy_loss_or_spec_field_is_refused_by_name(tmp_path):
    with pytest.raises(SystemExit, match="--variant bad: energy_loss is per_atom or total, not 'per_molecule'"):
        prepare(DATA, REPO / "workflows" / "demo.yaml", tmp_path, {"bad": {"energy_loss": "per_molecule"}})
    with pytest.raises(ValueError, match="num_featurez"):
        prepare(DATA, REPO / "workflows" / "demo.yaml", tmp_path, {"typo": {"num_featurez": 64}})
