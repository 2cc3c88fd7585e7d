"""A tiny active-learning loop (Morse labels, 2-member committees of tiny NequIP models) run by jobflow."""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import Flow

from li_campaign.active.jobs import ActiveLearningMaker
from li_campaign.builders import run_builders
from li_campaign.report import collect_report
from li_campaign.schemas.spec import spec_from_dict
from li_campaign.structures.jobs import TrainingSetMaker
from tests.active.local_run import run_in_new_campaign

pytestmark = [
    pytest.mark.slow,
    pytest.mark.long,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

SPEC = {
    "name": "al-loop",
    "seed": 2,
    "training_set": {"bulk": {"n_strained": 4, "n_rattled": 4}, "vacancy": None, "slabs": None},
    "dft": {"engine": "morse", "morse": {"epsilon_eV": 0.1, "r0_A": 3.4, "rho0": 4.0, "cutoff_A": 6.0}},
    "mlip": {"num_layers": 1, "num_features": 4, "radial_mlp_width": 8, "max_epochs": 2, "deploy": "eager",
             "max_train_energy_mae_meV_atom": None},
    "active_learning": {
        "committee_size": 2,
        "max_iterations": 3,
        "trust_lower_eV_A": 1e-6,  # every explored frame is a candidate ...
        "trust_upper_eV_A": 1e3,
        "converged_candidate_fraction": 0.0,  # ... and the loop never converges: it stops at max_iterations
        "budget_per_iteration": 2,
        "exploration": {
            "bulk_supercell": 1,
            "bulk_temperatures_K": [300],
            "facets": [],
            "md_steps": 4,
            "sample_every": 2,
            "relax_steps": 2,
            "hop_images": 0,
        },
    },
}


def _outputs(store, doc_type: str) -> list[dict]:
    return [d["output"] for d in store.query({"output.doc_type": doc_type}, properties=["output"])]


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    spec = spec_from_dict(SPEC)
    ctx = {"campaign": spec.name, "spec_hash": spec.spec_hash()}
    training = TrainingSetMaker(training_set=spec.training_set, dft=spec.dft, seed=spec.seed, **ctx).make()
    active = ActiveLearningMaker(spec=spec).make(training.output)
    return run_in_new_campaign(tmp_path_factory.mktemp("al"), Flow([training, active]))


def test_three_iterations_grow_the_training_set(loop):
    _, store = loop
    docs = sorted(_outputs(store, "active_learning_iteration"), key=lambda d: d["iteration"])
    assert [d["iteration"] for d in docs] == [0, 1, 2]
    assert [d["n_training_frames"] for d in docs] == [7, 9, 11]  # 8 frames, 1 held out; 2 labelled per iteration
    assert [d["stop_reason"] for d in docs] == [None, None, "max_iterations"]
    assert [len(d["selected"]) for d in docs] == [2, 2, 0]
    committees = {c["iteration"]: c for c in _outputs(store, "committee")}
    for d in docs:
        assert d["n_explored"] == d["n_candidates"] == 4 and d["candidate_fraction"] == 1.0  # 2 MD + 2 relaxation frames
        assert d["n_holdout_frames"] == 1
        holdout, members = d["holdout"], committees[d["iteration"]]["member_holdout"]
        assert holdout == committees[d["iteration"]]["holdout"]  # the committee's errors, passed on
        # one holdout frame: one energy error, so its MAE is its RMSE; forces: MAE ≤ RMSE
        assert holdout["n_frames"] == 1 and holdout["energy_mae_meV_atom"] == pytest.approx(holdout["energy_rmse_meV_atom"])
        assert holdout["force_mae_meV_A"] <= holdout["force_rmse_meV_A"] + 1e-12
        # the committee mean's error is at most the members' mean error, component by component (|Σ e_k|/n ≤ Σ|e_k|/n)
        for key in ("energy_mae_meV_atom", "force_mae_meV_A"):
            assert holdout[key] <= np.mean([m[key] for m in members]) + 1e-9, key
        assert len(d["member_sha256s"]) == 2 and len(set(d["member_sha256s"])) == 2
    assert len({sha for d in docs for sha in d["member_sha256s"]}) == 6  # every committee is new


def test_selected_frames_are_labelled_as_training_frames(loop):
    _, store = loop
    frames = [f for f in _outputs(store, "training_frame") if f["origin"] == "active_learning"]
    assert sorted(f["frame_id"] for f in frames) == [
        "al-loop:active_learning:iter0-000",
        "al-loop:active_learning:iter0-001",
        "al-loop:active_learning:iter1-000",
        "al-loop:active_learning:iter1-001",
    ]
    assert all(f["engine"] == "morse" and f["label"].startswith("active learning iter") for f in frames)
    committees = sorted(_outputs(store, "committee"), key=lambda d: d["iteration"])
    assert [c["n_training_frames"] for c in committees] == [7, 9, 11]
    assert all([m["seed"] for m in c["members"]] == [456, 457] for c in committees)
    assert all(len(c["member_holdout"]) == 2 for c in committees)


def test_builder_and_report(loop):
    campaign, _ = loop
    assert run_builders(campaign)["active_learning"] == 3
    assert run_builders(campaign)["active_learning"] == 0
    rows = collect_report(campaign)["active_learning"]
    assert [r["iteration"] for r in rows] == [0, 1, 2]
    for row in rows:
        assert {"n_candidates", "candidate_fraction", "n_training_frames", "force_mae_meV_A"} <= set(row)
    assert [r["n_selected"] for r in rows] == [2, 2, 0]
