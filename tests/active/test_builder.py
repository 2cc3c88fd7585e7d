"""ActiveLearningBuilder and the report's active-learning page on synthetic iteration documents."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobflow import Flow, job, run_locally

from li_campaign.builders import job_outputs_store, run_builder
from li_campaign.active.builders import ActiveLearningBuilder
from li_campaign.db.config import Campaign, DbConfig
from li_campaign.active.report import active_learning_markdown, active_learning_rows, committee_members, plot_active_learning
from li_campaign.schemas.active import ActiveLearningIterationDoc, SelectedFrame
from li_campaign.schemas.models import HoldoutErrors
from li_campaign.schemas.provenance import Provenance

pytestmark = [pytest.mark.filterwarnings("ignore:Some jobs are not connected")]

NAME = "al-synth"
# iteration: (training frames, σ of the explored frames, force MAE, selected origins, stop reason)
ITERATIONS = {
    0: (20, [0.01, 0.1, 0.2, 0.5], 80.0, ["bulk_md", "adatom_hop"], None),
    1: (22, [0.01, 0.02, 0.1, 0.6], 50.0, ["slab_md"], None),
    2: (23, [0.01, 0.02, 0.03, 0.04], 30.0, [], "converged"),
}


@job
def iteration_job(k: int) -> ActiveLearningIterationDoc:
    n_train, sigma, mae, picked, stop = ITERATIONS[k]
    n_acc = sum(s < 0.05 for s in sigma)
    n_fail = sum(s >= 0.3 for s in sigma)
    n_cand = len(sigma) - n_acc - n_fail
    return ActiveLearningIterationDoc(
        iteration_id=f"{NAME}:active_learning:iter{k}",
        campaign=NAME,
        iteration=k,
        committee_id=f"{NAME}:committee:iter{k}",
        member_sha256s=[f"{k}{i}" * 32 for i in range(2)],
        n_training_frames=n_train,
        n_holdout_frames=2,
        holdout=HoldoutErrors(
            n_frames=2, energy_mae_meV_atom=mae / 10, energy_rmse_meV_atom=mae / 8, force_mae_meV_A=mae, force_rmse_meV_A=mae * 1.2
        ),
        n_explored=len(sigma),
        n_accurate=n_acc,
        n_candidates=n_cand,
        n_failed=n_fail,
        accurate_fraction=n_acc / len(sigma),
        candidate_fraction=n_cand / len(sigma),
        failed_fraction=n_fail / len(sigma),
        max_force_std_eV_A=sigma,
        origins=["bulk_md"] * len(sigma),
        candidates_by_origin={"bulk_md": n_cand} if n_cand else {},
        failed_by_origin={"bulk_md": n_fail} if n_fail else {},
        selected=[
            SelectedFrame(origin=o, label=f"{o} frame", is_slab=o != "bulk_md", max_force_std_eV_A=0.1, structure={})
            for o in picked
        ],
        trust_lower_eV_A=0.05,
        trust_upper_eV_A=0.3,
        converged=stop == "converged",
        stop_reason=stop,
        exploration_wall_time_s=1.5,
        provenance=Provenance(campaign=NAME, spec_hash="f" * 64, model_sha256="c" * 64),
    )


@pytest.fixture
def built(tmp_path: Path) -> list[dict]:
    campaign = Campaign.create(tmp_path / "c", DbConfig())
    run_locally(Flow([iteration_job(k) for k in ITERATIONS]), store=campaign.job_store(), log=False, ensure_success=True)
    builder = ActiveLearningBuilder(job_outputs_store(campaign), campaign.derived_store("active_learning"))
    assert run_builder(builder) == 3
    assert run_builder(ActiveLearningBuilder(job_outputs_store(campaign), campaign.derived_store("active_learning"))) == 0
    target = campaign.derived_store("active_learning")
    target.connect()
    try:
        return sorted(target.query(), key=lambda d: d["iteration"])
    finally:
        target.close()


def test_one_flat_document_per_iteration(built):
    assert [d["iteration_id"] for d in built] == [f"{NAME}:active_learning:iter{k}" for k in ITERATIONS]
    first = built[0]
    assert (first["n_candidates"], first["n_accurate"], first["n_failed"]) == (2, 1, 1)
    assert first["candidate_fraction"] == 0.5 and first["failed_fraction"] == 0.25
    assert first["force_mae_meV_A"] == 80.0 and first["energy_mae_meV_atom"] == 8.0
    assert first["n_selected"] == 2 and first["selected_origins"] == ["bulk_md", "adatom_hop"]
    assert first["median_force_std_eV_A"] == pytest.approx(0.15) and first["max_force_std_max_eV_A"] == 0.5
    assert first["campaign"] == NAME and first["model_sha256"] == "c" * 64
    assert "selected" not in first and "holdout" not in first and "structure" not in str(first)
    assert [d["stop_reason"] for d in built] == [None, None, "converged"]
    assert [d["n_training_frames"] for d in built] == [20, 22, 23]


def test_report_rows_markdown_and_plot(built, tmp_path):
    rows = active_learning_rows(list(reversed(built)))
    assert [r["iteration"] for r in rows] == [0, 1, 2]
    assert [r["candidate_fraction"] for r in rows] == [0.5, 0.25, 0.0]
    assert [r["force_mae_meV_A"] for r in rows] == [80.0, 50.0, 30.0]
    assert committee_members(built) == {f"{k}{i}" * 32 for k in ITERATIONS for i in range(2)}
    text = "\n".join(active_learning_markdown(rows))
    assert "## Active learning" in text and "| 2 | 23 | 4 (0) |" in text and "converged" in text
    assert active_learning_markdown([]) == []
    plot_active_learning(rows, tmp_path / "al.png")
    plot_active_learning([], tmp_path / "empty.png")
    assert (tmp_path / "al.png").stat().st_size > 1000 and (tmp_path / "empty.png").stat().st_size > 1000
