"""Job packing with real jobflow jobs, real stores and the real FireWorks runner."""

from __future__ import annotations

import sys
import warnings

import pytest
from jobflow import Flow, JobStore, run_locally
from jobflow.managers.fireworks import flow_to_workflow
from maggma.stores import MemoryStore

from li_campaign.bulk.jobs import BulkLatticeMaker
from li_campaign.core.errors import InputError
from li_campaign.launch.runner import run_workers
from li_campaign.launch.status import campaign_status
from li_campaign.launch.submit import submit_flow
from li_campaign.execution.packing import PackMember, pack_jobs, run_pack
from li_campaign.flows.campaign import FanOutMaker
from li_campaign.schemas.frames import TrainingFrameDoc
from li_campaign.schemas.kinetics import DiffusionDoc
from li_campaign.schemas.packing import PackDoc
from li_campaign.schemas.spec import spec_from_dict
from tests.flows.jobs_for_packing import (
    FacetResultsMaker,
    energy_of,
    label_jobs,
    make_cell,
    sodium_label_job,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore:Some jobs are not connected"),
    pytest.mark.filterwarnings("ignore:cd is deprecated"),
]


def _store() -> JobStore:
    return JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})


def _run(jobs: list, store: JobStore | None = None) -> tuple[JobStore, dict]:
    store = store or _store()
    responses = run_locally(Flow(jobs), store=store, log=False)
    return store, responses


def test_packs_are_even_in_order_and_named():
    jobs = label_jobs(7)
    packs, outputs = pack_jobs(jobs, 3, "labels")
    assert [pack.name for pack in packs] == [
        "labels 1/3 (2 calculations)",
        "labels 2/3 (2 calculations)",
        "labels 3/3 (3 calculations)",
    ]
    members = [member for pack in packs for member in pack.function_args[0]]
    assert [m["uuid"] for m in members] == [job.uuid for job in jobs]
    assert [m["name"] for m in members] == ["dft label"] * 7
    owner = {m["uuid"]: pack.uuid for pack in packs for m in pack.function_args[0]}
    assert [ref.uuid for ref in outputs] == [owner[job.uuid] for job in jobs]
    assert [ref.attributes for ref in outputs[:3]] == [
        (("a", "results"), ("i", 0)),
        (("a", "results"), ("i", 1)),
        (("a", "results"), ("i", 0)),
    ]


@pytest.mark.parametrize("size", [0, 1])
def test_size_one_packs_nothing(size):
    jobs = label_jobs(3)
    packs, outputs = pack_jobs(jobs, size, "labels")
    assert packs == jobs and outputs == [job.output for job in jobs]


def test_packed_results_equal_unpacked_and_references_resolve_to_the_same_type():
    cell = make_cell(3)
    plain = label_jobs(4, cell.output)
    plain_use = energy_of(plain[2].output)
    packed = label_jobs(4, cell.output)
    packs, outputs = pack_jobs(packed, 2, "labels")
    packed_use = energy_of(outputs[2])
    assert {pack.input_uuids for pack in packs} == {(cell.uuid,)}

    store, responses = _run([cell, *plain, plain_use, *packs, packed_use])
    assert responses[packed_use.uuid][1].output == responses[plain_use.uuid][1].output
    assert responses[packed_use.uuid][1].output[0] == "TrainingFrameDoc"
    for job, pack_ref in zip(plain, outputs):
        alone = job.output.resolve(store)
        in_pack = pack_ref.resolve(store)
        assert type(alone) is type(in_pack) is TrainingFrameDoc
        assert in_pack.model_dump(exclude={"wall_time_s", "provenance"}) == alone.model_dump(
            exclude={"wall_time_s", "provenance"}
        )
    doc = store.query_one({"uuid": packs[0].uuid})["output"]
    assert doc["doc_type"] == "pack" and doc["member_uuids"] == [job.uuid for job in packed[:2]]
    assert doc["result_doc_types"] == ["training_frame"] * 2 and doc["failures"] == []
    assert doc["results"][0]["@class"] == "TrainingFrameDoc" and len(doc["member_wall_s"]) == 2
    assert doc["wall_s"] >= sum(doc["member_wall_s"])
    # the fit reads packed frames back like unpacked ones (dft.pack_size > 1), each id once
    from li_campaign.mlip.jobs import read_frames

    packed_ids = [ref.resolve(store).frame_id for ref in outputs]
    frames = read_frames(store, packed_ids)
    assert sorted(f["frame_id"] for f in frames) == sorted(packed_ids)
    assert [f["energy_eV"] for f in frames] == [in_pack.energy_eV for in_pack in sorted(
        (ref.resolve(store) for ref in outputs), key=lambda d: d.frame_id)]  # fmt: skip


def test_a_failed_member_does_not_stop_the_pack():
    good = label_jobs(2)
    bad = sodium_label_job()
    packs, outputs = pack_jobs([good[0], bad, good[1]], 5, "labels")
    store, responses = _run(packs)
    pack = responses[packs[0].uuid][1].output
    assert isinstance(pack, PackDoc)
    assert pack.result_doc_types == ["training_frame", None, "training_frame"]
    assert pack.results[1] is None and outputs[1].resolve(store) is None
    (failure,) = pack.failures
    assert (failure.name, failure.uuid, failure.error_type) == ("dft label", bad.uuid, "InputError")
    assert "lithium only" in failure.message
    assert isinstance(outputs[2].resolve(store), TrainingFrameDoc)


def test_a_pack_whose_members_all_fail_fails():
    bad = sodium_label_job()
    with pytest.raises(RuntimeError, match=rf"all 1 members of the pack failed: dft label \({bad.uuid}\): InputError"):
        run_pack(pack_jobs([bad, sodium_label_job()], 2, "p")[0][0].function_args[0][:1])
    packs, _ = pack_jobs([bad, sodium_label_job()], 2, "labels")
    store, responses = _run(packs)
    assert packs[0].uuid not in responses and store.query_one({"uuid": packs[0].uuid}) is None


def test_large_data_keys_go_to_the_additional_store():
    maker = FacetResultsMaker()
    sites = [maker.adsorption(facet, -1.0) for facet in ("100", "110", "111")]
    nebs = [maker.diffusion(site.output, 0.1 * (i + 1)) for i, site in enumerate(sites)]
    packs, outputs = pack_jobs(nebs, 3, "nebs")
    assert packs[0]._kwargs == {"data": "images"}
    store, _ = _run([*sites, *packs])
    doc = store.query_one({"uuid": packs[0].uuid})["output"]
    for result in doc["results"]:
        (images_ref,) = [hop["images"] for hop in result["hops"]]
        assert images_ref["@class"] == "OutputReference" or "blob_uuid" in images_ref
    assert store.additional_stores["data"].count() == 3
    resolved = outputs[1].resolve(store)
    assert isinstance(resolved, DiffusionDoc) and resolved.facet == "110"
    assert len(resolved.hops[0].images) == 3 and resolved.hops[0].images[0].composition.reduced_formula == "Li"


def test_pack_parents_are_the_jobs_the_members_use():
    maker = FacetResultsMaker()
    sites = [maker.adsorption(facet, -1.0) for facet in ("100", "110")]
    for site in sites:
        site.name = f"sites {site.function_args[0]}"
    site_packs, site_outputs = pack_jobs(sites, 1, "sites")
    nebs = [maker.diffusion(ref, 0.1) for ref in site_outputs]
    neb_packs, _ = pack_jobs(nebs, 2, "nebs")
    assert set(neb_packs[0].input_uuids) == {site.uuid for site in sites}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wf = flow_to_workflow(Flow([*site_packs, *neb_packs]), store=None)
    fw_ids = {fw.name: fw.fw_id for fw in wf.fws}
    assert sorted(wf.links[fw_ids["nebs 1/1 (2 calculations)"]]) == []
    parents = {parent for parent, children in wf.links.items() if fw_ids["nebs 1/1 (2 calculations)"] in children}
    assert parents == {fw_ids[site.name] for site in sites}


def test_members_that_use_each_other_are_refused():
    maker = FacetResultsMaker()
    site = maker.adsorption("100", -1.0)
    neb = maker.diffusion(site.output, 0.1)
    neb.name = "neb 100"
    site.name = "sites 100"
    with pytest.raises(ValueError, match=r"cannot pack job 'neb 100' with \['sites 100'\]: it uses their output"):
        pack_jobs([site, neb], 2, "p")


def test_members_with_different_fireworks_categories_are_refused_and_the_category_is_kept():
    jobs = label_jobs(3)
    for job in jobs:
        job.update_config({"manager_config": {"_category": "cpu"}})
    packs, _ = pack_jobs(jobs, 3, "labels")
    assert packs[0].config.manager_config == {"_category": "cpu"}
    jobs[2].update_config({"manager_config": {"_category": "gpu"}})
    with pytest.raises(ValueError, match="different FireWorks settings"):
        pack_jobs(jobs, 3, "labels")


def test_pack_size_must_be_positive_and_names_the_field():
    with pytest.raises(InputError, match=r"fanout\.pack_size: Input should be greater than or equal to 1"):
        spec_from_dict({"name": "x", "fanout": {"pack_size": 0}})
    assert spec_from_dict({"name": "x"}).fanout.pack_size == 20


def test_fanout_maker_packs_surfaces_and_sites_then_nebs():
    spec = spec_from_dict({"name": "x", "fanout": {"pack_size": 4}})
    bulk = BulkLatticeMaker().make({"sha256": "a" * 64})
    flow = FanOutMaker(spec=spec).make({"sha256": "a" * 64}, bulk.output)
    names = [job.name for job in flow.jobs]
    assert names == [
        "fan-out pack 1/2 (3 calculations)",
        "fan-out pack 2/2 (3 calculations)",
        "fan-out NEB pack 1/1 (3 calculations)",
    ]
    first, second, nebs = flow.jobs
    assert [m["name"] for m in first.function_args[0]] == ["surface energy 100", "adsorption sites 100", "surface energy 110"]
    assert first.input_uuids == second.input_uuids == (bulk.uuid,)
    assert set(nebs.input_uuids) == {first.uuid, second.uuid} and nebs._kwargs == {"data": "images"}
    assert [m["name"] for m in nebs.function_args[0]] == ["surface NEB 100", "surface NEB 110", "surface NEB 111"]

    unpacked = FanOutMaker(spec=spec_from_dict({"name": "x", "fanout": {"pack_size": 1}})).make({"sha256": "a" * 64}, bulk.output)
    assert len(unpacked.jobs) == 9 and unpacked.jobs[-1].name == "surface NEB 111"


def test_packs_run_through_fireworks_and_a_pack_that_fails_is_reported(campaign):
    packs, outputs = pack_jobs([*label_jobs(3), sodium_label_job()], 4, "labels")
    all_bad, _ = pack_jobs([sodium_label_job(), sodium_label_job()], 2, "bad labels")
    submit_flow(campaign, Flow([*packs, *all_bad]), "hash-pack")
    summary = run_workers(campaign, n_workers=2, progress=False)
    assert summary.launched == 2 and summary.states == {"COMPLETED": 1, "FIZZLED": 1}
    store = campaign.job_store()
    store.connect()
    assert [ref.resolve(store).frame_id for ref in outputs[:3]] == [f"li-pack:bulk_rattle:{i}" for i in range(3)]
    assert outputs[3].resolve(store) is None
    (failed,) = campaign_status(campaign)["failed"]
    assert "all 2 members of the pack failed" in failed["reason"] and "lithium only" in failed["reason"]
    (calculation,) = campaign_status(campaign)["failed_calculations"]  # inside the completed pack
    assert calculation["pack"] == packs[0].name and calculation["error_type"] == "InputError"
    assert "lithium only" in calculation["message"]


def test_a_batched_pack_records_its_executor_and_passes_a_system_exit_on(monkeypatch):
    def member(name, function):
        return PackMember(name=name, uuid=name, function=function, args=(), kwargs={})

    monkeypatch.setenv("LI_CAMPAIGN_EXECUTOR", "one-by-one")
    assert run_pack([member("a", lambda: 1)], batched=True).execution == {"executor": "one-by-one"}
    monkeypatch.setenv("LI_CAMPAIGN_EXECUTOR", "batched")
    doc = run_pack([member("a", lambda: 1), member("b", lambda: 2)], batched=True)
    assert doc.results == [1, 2] and doc.execution["executor"] == "batched" and doc.execution["model_calls"] == 0
    with pytest.raises(SystemExit) as info:  # e.g. the runner's SIGTERM: not recorded as a member failure
        run_pack([member("a", lambda: 1), member("c", lambda: sys.exit(3))], batched=True)
    assert info.value.code == 3  # the member's own exit, passed on unchanged


def test_a_pack_stored_under_the_old_module_path_still_decodes_and_runs():
    """Packs submitted before run_pack moved to execution.packing name li_campaign.flows.packing.run_pack."""
    from jobflow import Job

    (pack,), _ = pack_jobs(label_jobs(2), 2, "labels")
    data = pack.as_dict()
    assert data["function"]["@module"] == "li_campaign.execution.packing"
    data["function"]["@module"] = "li_campaign.flows.packing"
    old = Job.from_dict(data)
    assert old.function is run_pack
    store, responses = _run([old])
    assert responses[old.uuid][1].output is not None
