"""The finished e2e Morse campaign moves to another database (``li-campaign db migrate``) and continues there.

The session's finished campaign is migrated into a second embedded campaign (the MongoDB code
path of the same command runs against mongomock in tests/db/test_migrate.py). In the target a
spec with another name and another fan-out facet is submitted and run: the labels, the fit, the
bulk stage and every model-bound result are found in the migrated stores through their reuse
keys, so only the new facet's calculations are computed. The source stays as it was.
"""

from __future__ import annotations

import pytest
import yaml

from tests.e2e.helpers import SPEC, computed_outputs, li

pytestmark = pytest.mark.slow

NAME = "e2e-morse-migrated"
NEW_FACET = "210"


@pytest.fixture(scope="module")
def migrated(finished, tmp_path_factory) -> dict:
    """Migrate the finished campaign with the real CLI, then submit and run the extended spec in the target."""
    from li_campaign.db.config import Campaign

    folder = tmp_path_factory.mktemp("migrate")
    target = folder / "campaign"
    source_file = finished["root"] / "db" / "fireworks.json"
    before = source_file.read_bytes()
    config = folder / "target_db.yaml"
    config.write_text("mode: embedded\n")
    migrate = li(finished["env"], "db", "migrate", "--to", str(config), "--target-dir", str(target), check=False)
    spec = yaml.safe_load(SPEC.read_text())
    spec["name"] = NAME
    spec["fanout"]["facets"] = [NEW_FACET]
    path = folder / "other_facets.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    env = {**finished["env"], "LI_CAMPAIGN_DIR": str(target)}
    li(env, "submit", str(path))
    run = li(env, "run", "--workers", "2", "--no-progress", check=False)
    store = Campaign(target).job_store()
    store.connect()
    return {"migrate": migrate, "source_unchanged": source_file.read_bytes() == before, "run": run,
            "store": store, "env": env, "target": target}  # fmt: skip


def test_migration_is_verified_and_leaves_the_source(migrated):
    result = migrated["migrate"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verified: every copied document and model file is in the target" in result.stdout
    assert "MISMATCH" not in result.stdout and "derived.models" in result.stdout
    assert migrated["source_unchanged"]


def test_the_target_continues_with_nothing_recomputed_but_the_new_facet(migrated):
    from li_campaign.report.counts import count_calculations

    assert migrated["run"].returncode == 0, migrated["run"].stdout + migrated["run"].stderr
    store = migrated["store"]
    fits = computed_outputs(store, "model")
    assert len(fits) == 1 and fits[0]["provenance"]["campaign"] == "e2e-morse"  # the migrated fit, no second one
    assert fits[0]["deployed_path"].startswith(str(migrated["target"] / "models"))
    assert [doc["provenance"]["campaign"] for doc in computed_outputs(store, "bulk", source="mlip")] == ["e2e-morse"]
    new_frames = [f for f in computed_outputs(store, "training_frame") if f["frame_id"].startswith(f"{NAME}:")]
    assert new_frames and all(f["origin"] == "validation" and f":{NEW_FACET}:" in f["frame_id"] for f in new_frames)
    counts = count_calculations(store, NAME)
    assert counts["by_type"] == {
        "adsorption": 1, "diffusion": 1, "surface_energy": 1, "validation": 1, "training_frame": len(new_frames)
    }, counts  # fmt: skip
    assert counts["reused"] > 0


def test_the_target_verifies_with_its_own_model_files(migrated):
    verify = li(migrated["env"], "db", "verify", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
