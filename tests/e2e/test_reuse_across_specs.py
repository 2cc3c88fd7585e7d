"""A second spec that shares the training set and fit settings reuses the fit and everything model-bound.

A user extends a finished campaign with another spec, under another name and with other
fan-out facets, in the same campaign directory. Its frames are named after the new spec, so
only a fit keyed on frame *content* (structure hash + DFT settings, :mod:`li_campaign.mlip.jobs`)
finds the first fit: then the model sha256 is the same and the bulk EOS and bulk stage are
found too. Only the new facet's calculations may be computed.
"""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.e2e.helpers import SPEC, computed_outputs, li, outputs_of

pytestmark = pytest.mark.slow

NAME = "e2e-morse-other-facets"
NEW_FACET = "210"


@pytest.fixture(scope="module")
def extended(finished, tmp_path_factory) -> dict:
    """Copy the finished e2e campaign, submit the spec with only its name and fan-out facets changed, run it."""
    root = tmp_path_factory.mktemp("reuse") / "campaign"
    shutil.copytree(finished["root"], root)
    spec = yaml.safe_load(SPEC.read_text())
    spec["name"] = NAME
    spec["fanout"]["facets"] = [NEW_FACET]
    path = root.parent / "other_facets.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    env = {**finished["env"], "LI_CAMPAIGN_DIR": str(root)}
    li(env, "submit", str(path))
    run = li(env, "run", "--workers", "2", "--no-progress", check=False)
    from li_campaign.db.config import Campaign

    store = Campaign(root).job_store()
    store.connect()
    return {"root": root, "run": run, "store": store, "env": env}


def test_second_spec_completes(extended):
    assert extended["run"].returncode == 0, extended["run"].stdout + extended["run"].stderr


def test_no_second_fit_and_no_second_bulk_eos(extended, finished):
    store = extended["store"]
    fits = computed_outputs(store, "model")
    assert len(fits) == 1 and fits[0]["provenance"]["campaign"] == "e2e-morse"
    fit_job = store.query_one({"output.doc_type": "model", "output.provenance.reused_from": None}, properties=["uuid"])
    reused = [
        doc["output"]
        for doc in store.query({"output.doc_type": "model", "output.provenance.campaign": NAME}, properties=["output"])
    ]
    assert len(reused) == 1 and reused[0]["sha256"] == fits[0]["sha256"]
    assert reused[0]["provenance"]["reused_from"] == fit_job["uuid"]
    mlip_eos = computed_outputs(store, "bulk", source="mlip")
    assert [doc["provenance"]["campaign"] for doc in mlip_eos] == ["e2e-morse"]


def test_only_the_new_facet_is_computed(extended):
    from li_campaign.report.counts import count_calculations

    counts = count_calculations(extended["store"], NAME)
    # the new facet's fan-out and the spot checks of this spec (new frames of the new facet only, and a new
    # spot-check document: this spec's fan-out is the new facet)
    new_frames = [f for f in computed_outputs(extended["store"], "training_frame") if f["frame_id"].startswith(f"{NAME}:")]
    assert new_frames and all(f["origin"] == "validation" and f":{NEW_FACET}:" in f["frame_id"] for f in new_frames)
    assert counts["by_type"] == {
        "adsorption": 1, "diffusion": 1, "surface_energy": 1, "validation": 1, "training_frame": len(new_frames)
    }, counts  # fmt: skip
    first = count_calculations(extended["store"], "e2e-morse")
    # every label, the fit, the bulk EOS, the teacher's EOS/Cij and the bulk stage came back from the store, and so
    # did the spot checks' bulk cube (same model, same a0); the first spec's spot-check frames of its facets are
    # not part of this spec
    frames = outputs_of(extended["store"], "training_frame")
    first_spot = [f for f in frames if f["frame_id"].startswith("e2e-morse:validation:")]
    reused_spot = [
        f for f in frames if f["frame_id"].startswith(f"{NAME}:validation:") and f["provenance"].get("reused_from")
    ]
    assert [f["frame_id"].rsplit(":", 1)[-1] for f in reused_spot] == ["bulk"]
    skip = {"adsorption", "diffusion", "surface_energy", "validation"}
    model_bound = sum(n for kind, n in first["by_type"].items() if kind not in skip) - len(first_spot)
    assert counts["reused"] == model_bound + len(reused_spot), (counts, first)
    assert [doc["facet"] for doc in computed_outputs(extended["store"], "surface_energy", facet=NEW_FACET)] == [NEW_FACET]
