"""The batched-model loader: falls back from a broken AOTI build, records its choice, checks sha256 (real nequip package)."""

from __future__ import annotations

import pytest

from li_campaign.batched.batching import evaluate
from li_campaign.batched.loader import load_batched_model, probe_atoms
from li_campaign.core.errors import ModelIntegrityError
from li_campaign.core.hashing import file_sha256
from li_campaign.mlip.calculator import load_calculator
from tests.mlip.test_deploy import packaged  # noqa: F401  (module fixture: a tiny trained, packaged NequIP)

pytestmark = pytest.mark.slow


def test_broken_aoti_build_falls_back_to_eager_and_is_recorded(packaged, tmp_path):  # noqa: F811
    package, _ = packaged
    junk = tmp_path / "model.nequip.pt2"
    junk.write_bytes(b"not an AOTInductor package")
    chosen = load_batched_model(package, file_sha256(package), "cpu", compiled_path=junk, compiled_sha256=file_sha256(junk))
    record = chosen.record()
    assert record["model_form"] == "eager" and record["device"] == "cpu" and record["gpu"] is None
    assert record["neighbor_list"] == "li_batched"
    assert [r["mode"] for r in record["rejected"]] == ["aotinductor"]
    assert "exited with code" in record["rejected"][0]["reason"]
    atoms = probe_atoms()
    ase = atoms.copy()
    ase.calc = load_calculator(package, file_sha256(package), "eager")
    (energy,), _ = evaluate([atoms], chosen.model)
    assert energy == pytest.approx(ase.get_potential_energy(), rel=1e-5)


def test_tampered_package_is_refused(packaged, tmp_path):  # noqa: F811
    package, _ = packaged
    with pytest.raises(ModelIntegrityError, match="sha256 mismatch"):
        load_batched_model(package, "0" * 64, "cpu")
