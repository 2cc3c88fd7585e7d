"""Duplicates: reruns and repeated submissions leave one result document per calculation."""

from __future__ import annotations

import pytest
from jobflow import Flow
from maggma.stores import MemoryStore

from li_campaign.db.indexes import INDEXES, JOB_OUTPUT_INDEXES, create_indexes
from li_campaign.db.launchpad import open_launchpad
from li_campaign.launch.runner import run_workers
from li_campaign.db.stores import LargeDataJobStore
from li_campaign.launch.submit import submit_flow
from li_campaign.execution.reuse import expose_store
from li_campaign.schemas.registry import RESULT_TYPES
from tests.db.jobs_for_tests import add
from tests.db.reuse_jobs import VolumeMaker

pytestmark = pytest.mark.faults


def _store(campaign):
    store = campaign.job_store()
    store.connect()
    return store


def test_rerunning_a_completed_job_keeps_one_output(campaign):
    job = add(2, 2)
    submit_flow(campaign, Flow([job]), "dup-rerun")
    run_workers(campaign, progress=False)
    with open_launchpad(campaign) as lp:
        (fw,) = lp.fireworks.find({}, {"fw_id": 1})
        lp.rerun_fw(fw["fw_id"])
    assert run_workers(campaign, progress=False).states == {"COMPLETED": 1}
    with open_launchpad(campaign, write=False) as lp:
        assert lp.launches.count_documents({}) == 2  # it really ran twice
    assert _store(campaign).count({"uuid": job.uuid}) == 1


def test_a_forced_resubmission_stores_each_result_once(campaign, tmp_path):
    counter = tmp_path / "computed.txt"
    maker = VolumeMaker(counter=str(counter))
    first = [expose_store(maker.make(a)) for a in (3.40, 3.44)]
    submit_flow(campaign, Flow(first), "dup-spec")
    run_workers(campaign, progress=False)
    second = [expose_store(maker.make(a)) for a in (3.40, 3.44)]
    submit_flow(campaign, Flow(second), "dup-spec", force=True)  # `li-campaign submit --force`
    assert run_workers(campaign, progress=False).states == {"COMPLETED": 4}
    assert sorted(counter.read_text().split()) == ["3.4", "3.44"]  # computed once each
    outputs = list(_store(campaign).query({"output.doc_type": "volume"}, properties=["uuid", "output.provenance"]))
    computed = [doc for doc in outputs if doc["output"]["provenance"]["reused_from"] is None]
    assert sorted(doc["uuid"] for doc in computed) == sorted(job.uuid for job in first)
    assert len({doc["output"]["provenance"]["calc_key"] for doc in computed}) == 2


def test_every_result_collection_has_a_unique_key_index():
    unique = {(spec.collection, spec.fields) for spec in INDEXES if spec.unique}
    assert ("outputs", ("uuid", "index")) in unique
    assert ("models", ("sha256",)) in unique
    assert {(result.collection, (result.key,)) for result in RESULT_TYPES} <= unique


def test_jobstore_writes_of_the_same_job_replace_under_the_unique_index():
    docs = MemoryStore("outputs", key="uuid")  # maggma's mongomock-backed store
    docs.connect()
    create_indexes(docs._collection.database, JOB_OUTPUT_INDEXES)
    store = LargeDataJobStore(docs, {"data": MemoryStore()})
    store.connect()
    for value in (1, 2):  # a job that ran twice (rerun) writes the same (uuid, index)
        store.update({"uuid": "u1", "index": 1, "name": "add", "output": value})
    assert docs._collection.count_documents({"uuid": "u1"}) == 1 and store.get_output("u1") == 2
