"""Train/val/test split and the nequip config."""

from __future__ import annotations

from pathlib import Path

import pytest

from li_campaign.mlip.dataset import split_frames
from li_campaign.mlip.nequip_config import nequip_config
from li_campaign.schemas.spec import MlipSpec


def test_split_is_disjoint_complete_and_deterministic():
    ids = [f"c:bulk:{i:04d}" for i in range(37)]
    split = split_frames(ids, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=3)
    parts = [set(split[k]) for k in ("train", "val", "test")]
    assert set.union(*parts) == set(ids)
    assert sum(map(len, parts)) == len(ids)
    assert len(split["test"]) == 4 and len(split["val"]) == 4
    assert split == split_frames(list(reversed(ids)), {"train": 0.8, "val": 0.1, "test": 0.1}, seed=3)


def test_split_needs_three_frames():
    with pytest.raises(ValueError, match="at least 3"):
        split_frames(["a", "b"], {"train": 0.8, "val": 0.1, "test": 0.1}, seed=0)


def test_config_uses_spec_and_explicit_files():
    spec = MlipSpec(num_layers=3, max_epochs=7, r_max_A=4.5)
    files = {k: Path(f"/abs/{k}.extxyz") for k in ("train", "val", "test")}
    scales = {k: {"total_energy": 0.05, "forces": 0.2, "stress": 0.003} for k in files}
    cfg = nequip_config(spec, files, scales=scales)
    assert cfg["training_module"]["model"]["num_layers"] == 3
    assert cfg["trainer"]["max_epochs"] == 7
    assert cfg["cutoff_radius"] == 4.5
    assert cfg["data"]["test_file_path"] == "/abs/test.extxyz"
