"""A campaign with ``mlip.architecture: allegro`` through FireWorks via the real CLI (issue 20).

tests/data/e2e_morse_allegro.yaml is the e2e Morse campaign cut to one facet, with a tiny
Allegro trained for a few epochs: labels → Allegro fit → fan-out (surface energy, adsorption
sites, NEB) and the bulk stage (EOS, vacancy, phonons, elastic constants, finite temperature)
→ builders → report. The model is not fitted to reproduce the teacher (the NequIP e2e campaign
checks that); these tests check that every stage ran on the Allegro model and that the registry
and the report say which architecture it is.
"""

from __future__ import annotations

import json
import math
import os

import pytest

from tests.e2e.helpers import REPO, li, outputs_of

SPEC = REPO / "tests" / "data" / "e2e_morse_allegro.yaml"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def allegro_campaign(tmp_path_factory) -> dict:
    """Run the Allegro spec through the real CLI (init, submit, run, build, report --json)."""
    root = tmp_path_factory.mktemp("allegro") / "campaign"
    env = dict(os.environ, LI_CAMPAIGN_DIR=str(root), OMP_NUM_THREADS="1")
    li(env, "init")
    li(env, "submit", str(SPEC))
    run = li(env, "run", "--workers", "2", "--no-progress", check=False)
    li(env, "build")
    report = json.loads(li(env, "report", "--json").stdout)
    return {"env": env, "root": root, "run": run, "report": report}


def test_every_job_completed(allegro_campaign):
    run = allegro_campaign["run"]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    status = json.loads(li(allegro_campaign["env"], "status", "--json").stdout)
    assert set(status["states"]) == {"COMPLETED"} and status["failed"] == []


def test_the_registry_entry_is_an_allegro_model(allegro_campaign):
    from allegro.nn import Allegro_Module

    from li_campaign.db.config import Campaign
    from li_campaign.mlip.calculator import load_model
    from li_campaign.schemas.models import ModelDoc

    campaign = Campaign(allegro_campaign["root"])
    with campaign.derived_store("models") as registry:
        (entry,) = list(registry.query({}))
    assert entry["architecture"] == "allegro" and entry["deploy_mode"] == "eager" and entry["compile_target"] is None
    assert allegro_campaign["report"]["model"]["architecture"] == "allegro"
    assert allegro_campaign["report"]["model"]["sha256"] == entry["sha256"]
    store = campaign.job_store()
    store.connect()
    model = ModelDoc.model_validate(store.query_one({"output.doc_type": "model"}, properties=["output"])["output"])
    assert model.hyperparameters["architecture"] == "allegro"
    assert model.hyperparameters["allegro"]["num_scalar_features"] == 8
    assert model.hyperparameters["allegro"]["num_tensor_features"] == 4
    # the deployed file is an Allegro network (a layer that a NequIP model does not have)
    calc = load_model(model)
    assert any(type(module).__name__ == Allegro_Module.__name__ for module in calc.model.modules())  # torch.package copies
    assert model.n_parameters and model.holdout.n_frames > 0 and set(model.split_errors) == {"train", "val", "test"}


def test_fanout_and_bulk_stage_ran_on_the_allegro_model(allegro_campaign):
    from li_campaign.db.config import Campaign

    report = allegro_campaign["report"]
    assert set(report["surface_energy_J_m2"]) == {"100"} and math.isfinite(report["surface_energy_J_m2"]["100"])
    assert set(report["min_adsorption_energy_eV"]) == {"100"} and set(report["min_barrier_eV"]) == {"100"}
    bulk = report["bulk"]
    assert math.isfinite(bulk["a0_A"]) and bulk["B0_GPa"] is not None
    assert [size["n"] for size in bulk["vacancy_formation_by_size"]] == [2, 3]
    assert set(bulk["phonon_THz"]) == {"H", "N", "P"}
    assert set(bulk["elastic_GPa"]) == {"200"} and set(bulk["thermal_expansion"]) == {"200"}
    store = Campaign(allegro_campaign["root"]).job_store()
    store.connect()
    sha = report["model"]["sha256"]
    for kind in ("bulk", "surface_energy", "adsorption", "diffusion", "vacancy", "phonons", "elastic", "finite_temperature"):
        docs = [doc for doc in outputs_of(store, kind) if doc.get("source", "mlip") == "mlip"]
        assert docs, kind
        assert all(doc["provenance"]["model_sha256"] == sha for doc in docs), kind
