"""Shape of the active-learning flow: holdout, training sets, committee jobs, worker categories."""

from __future__ import annotations

import numpy as np
import pytest

from li_campaign.active.jobs import (
    ExploreSelectMaker,
    choose_holdout,
    grow_training_set,
    iteration_flow,
    pointers,
    references,
    subsample_training_set,
    training_set_doc,
)
from li_campaign.core.lithium import bcc_li_conventional
from li_campaign.schemas.active import ActiveLearningIterationDoc, SelectedFrame
from li_campaign.schemas.models import HoldoutErrors
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import spec_from_dict

pytestmark = pytest.mark.filterwarnings("ignore:Some jobs are not connected")

IDS = [f"c:bulk_strain:{i:04d}" for i in range(8)] + [f"c:slab:{i:04d}" for i in range(8, 12)]


def test_holdout_is_fixed_and_never_empty():
    holdout = choose_holdout(IDS, 0.25, seed=4)
    assert len(holdout) == 3 and set(holdout) < set(IDS)
    assert choose_holdout(list(reversed(IDS)), 0.25, seed=4) == holdout
    assert len(choose_holdout(IDS, 0.01, seed=4)) == 1
    with pytest.raises(ValueError, match="at least 4 initial frames"):
        choose_holdout(IDS[:3], 0.1, seed=0)


def test_the_isolated_atom_is_never_held_out_nor_left_out_of_a_subsample():
    """The fidelity campaign's committee could not fit: its holdout had drawn the isolated atom (energy shift)."""
    atom = "c:isolated_atom:0012"
    ids = [*IDS, atom]
    seeds = [seed for seed in range(40) if atom in _plain_draw(ids, 0.25, seed)]
    assert seeds  # draws that used to hold the atom out
    for seed in seeds:
        holdout = choose_holdout(ids, 0.25, seed)
        assert atom not in holdout and len(holdout) == 3
        kept = [i for i in _plain_draw(ids, 0.25, seed) if i != atom]
        assert set(kept) <= set(holdout)  # the rest of the draw is unchanged
    for seed in range(40):
        if atom not in _plain_draw(ids, 0.25, seed):
            assert choose_holdout(ids, 0.25, seed) == _plain_draw(ids, 0.25, seed)  # earlier holdouts stay
        sub = subsample_training_set.original(training_set_doc("c", "h", ids), 0.3, seed, "c", "h")
        assert atom in sub.frame_ids and sub.counts_by_origin["isolated_atom"] == 1


def _plain_draw(ids: list[str], fraction: float, seed: int) -> list[str]:
    """The holdout draw without the train-only rule (as before the fix)."""
    ids = sorted(ids)
    order = np.random.default_rng(seed).permutation(len(ids))
    return sorted(ids[i] for i in order[: max(1, round(fraction * len(ids)))])


def test_training_set_grows_by_the_labelled_frames_only():
    doc = training_set_doc("c", "h", IDS[:4])
    assert doc.counts_by_origin == {"bulk_strain": 4} and doc.n_frames == 4
    grown = grow_training_set.original(doc, ["c:active_learning:iter0-000", None], "c", "h")
    assert grown.n_frames == 5 and grown.counts_by_origin == {"bulk_strain": 4, "active_learning": 1}


def _spec(**active):
    return spec_from_dict({"name": "c", "dft": {"engine": "morse"}, "active_learning": {"committee_size": 3, **active}})


def test_iteration_flow_fits_every_member_with_its_seed_on_gpu_workers():
    flow = iteration_flow(_spec(seeds=[5, 9, 13], max_epochs=7), 2, training_set_doc("c", "h", IDS), ["x"])
    names = [job.name for job in flow.jobs]
    assert names == [
        "fit nequip committee 2 member 0",
        "fit nequip committee 2 member 1",
        "fit nequip committee 2 member 2",
        "register committee 2",
        "active learning explore 2",
    ]
    fits = flow.jobs[:3]
    assert [fit.function.__self__.mlip.seed for fit in fits] == [5, 9, 13]
    assert {fit.function.__self__.mlip.max_epochs for fit in fits} == {7}
    assert all(fit.config.manager_config == {"_category": "gpu", "_n_gpus": 1} for fit in fits)  # mlip.n_gpus
    assert all(job.config.manager_config == {"_category": "gpu"} for job in flow.jobs[3:])
    assert all(job.config.expose_store for job in flow.jobs)
    assert flow.jobs[-1].config.pass_manager_config is False  # its additions keep their own categories
    sub = iteration_flow(_spec(subsample_fraction=0.5), 0, training_set_doc("c", "h", IDS), ["x"])
    assert [job.name for job in sub.jobs][:2] == ["subsample committee 0 member 0", "fit nequip committee 0 member 0"]


def test_next_iteration_labels_on_cpu_workers_then_refits():
    spec = _spec(max_iterations=4)
    selected = [
        SelectedFrame(origin="bulk_md", label="bulk md 300 K step 6", is_slab=False, max_force_std_eV_A=0.1,
                      structure=bcc_li_conventional(3.44).as_dict()),
    ] * 2
    errors = HoldoutErrors(n_frames=1, energy_mae_meV_atom=1, energy_rmse_meV_atom=1, force_mae_meV_A=1, force_rmse_meV_A=1)
    doc = ActiveLearningIterationDoc(
        iteration_id="c:active_learning:iter1", campaign="c", iteration=1, committee_id="c:committee:iter1",
        member_sha256s=["a", "b", "c"], n_training_frames=12, n_holdout_frames=1, holdout=errors, n_explored=2,
        n_accurate=0, n_candidates=2, n_failed=0, accurate_fraction=0, candidate_fraction=1, failed_fraction=0,
        max_force_std_eV_A=[0.1, 0.1], origins=["bulk_md"] * 2, candidates_by_origin={"bulk_md": 2}, failed_by_origin={},
        selected=selected, trust_lower_eV_A=0.05, trust_upper_eV_A=0.3, converged=False, stop_reason=None,
        exploration_wall_time_s=1.0, provenance=Provenance(campaign="c", spec_hash="h"),
    )
    flow = ExploreSelectMaker(spec=spec, iteration=1, holdout_ids=["x"])._next_iteration(doc, training_set_doc("c", "h", IDS))
    jobs = list(flow.iterflow())
    categories = {job.name: job.config.manager_config["_category"] for job, _ in jobs}
    assert categories["dft label active learning 1-000"] == categories["dft label active learning 1-001"] == "cpu"
    assert categories["grow training set 2"] == "cpu"
    assert categories["fit nequip committee 2 member 0"] == categories["active learning explore 2"] == "gpu"
    label = next(job for job, _ in jobs if job.name == "dft label active learning 1-001")
    assert label.function_kwargs["frame_id"] == "c:active_learning:iter1-001" and label.function_kwargs["origin"] == "active_learning"
    # without explore_fanout the explore jobs wait for nothing but the committee and the training set
    explore = next(job for job, _ in jobs if job.name == "active learning explore 2")
    assert explore.function.__self__.sources is None


def test_explore_fanout_starts_the_loop_after_the_fanout_and_its_spot_checks():
    from fireworks import Workflow
    from jobflow.managers.fireworks import flow_to_workflow

    from li_campaign.flows.campaign import CampaignMaker

    spec = _spec(explore_fanout=True)
    flow = CampaignMaker(spec=spec).make()
    jobs = {job.name: job for job, _ in flow.iterflow()}
    loop = jobs["active learning"]
    sources = loop.function.__self__.sources
    assert sources["validation"].uuid == jobs["teacher spot checks"].uuid
    fanout_uuids = {ref.uuid for kind in ("surface", "adsorption", "diffusion") for ref in sources["fanout"][kind].values()}
    assert fanout_uuids and fanout_uuids <= {job.uuid for name, job in jobs.items() if name.startswith("fan-out")}
    # the loop's first job waits for the training set, the fan-out and the spot checks
    assert set(loop.input_uuids) == {jobs["training set"].uuid, jobs["teacher spot checks"].uuid, *fanout_uuids}

    # the iterations it adds carry the references in their explore job's maker, not as inputs: jobflow refuses
    # inputs from outside a flow that a running job adds (checked: FireWorks' conversion without external refs)
    iteration = iteration_flow(spec, 0, training_set_doc("c", "h", IDS), ["x"], pointers(sources))
    explore = iteration.jobs[-1]
    assert explore.input_uuids == (iteration.jobs[-2].uuid,) and references(explore.function.__self__.sources) == sources
    stored = Workflow.from_dict(flow_to_workflow(iteration).to_dict())
    (fw,) = [fw for fw in stored.fws if fw.name == "active learning explore 0"]
    assert references(fw.tasks[0]["job"].function.__self__.sources) == sources  # survives FireWorks' serialization

    no_checks = spec.model_copy(update={"validation": spec.validation.model_copy(update={"enabled": False})})
    off = CampaignMaker(spec=no_checks).make()
    loop = next(job for job, _ in off.iterflow() if job.name == "active learning")
    assert loop.function.__self__.sources["validation"] is None and loop.function.__self__.sources["fanout"]
