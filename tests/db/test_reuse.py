"""Calculation reuse (execution.reuse): an identical calculation is computed once, in any store, packed or not."""

from __future__ import annotations

import pytest
from jobflow import Flow, JobStore, run_locally
from maggma.stores import MemoryStore

from li_campaign.execution.packing import pack_jobs
from li_campaign.execution.reuse import calculation_key, expose_store, find_result
from tests.db.reuse_jobs import VolumeMaker

pytestmark = pytest.mark.filterwarnings("ignore:Some jobs are not connected")


def test_the_key_changes_with_each_part_and_not_with_dict_order():
    base = calculation_key("surface_energy", "h" * 64, "m" * 64, {"relax": {"fmax": 0.02, "steps": 10}})
    assert base == calculation_key("surface_energy", "h" * 64, "m" * 64, {"relax": {"steps": 10, "fmax": 0.02}})
    assert len({
        base,
        calculation_key("adsorption_sites", "h" * 64, "m" * 64, {"relax": {"fmax": 0.02, "steps": 10}}),
        calculation_key("surface_energy", "g" * 64, "m" * 64, {"relax": {"fmax": 0.02, "steps": 10}}),
        calculation_key("surface_energy", "h" * 64, "n" * 64, {"relax": {"fmax": 0.02, "steps": 10}}),
        calculation_key("surface_energy", "h" * 64, None, {"relax": {"fmax": 0.02, "steps": 10}}),
        calculation_key("surface_energy", "h" * 64, "m" * 64, {"relax": {"fmax": 0.01, "steps": 10}}),
    }) == 6


def _stores(campaign):
    return {"memory": JobStore(MemoryStore(), additional_stores={"data": MemoryStore()}), "montydb": campaign.job_store()}


@pytest.mark.parametrize("kind", ["memory", "montydb"])
def test_a_second_submission_reuses_every_result_and_names_the_computing_job(kind, campaign, tmp_path):
    store = _stores(campaign)[kind]
    counter = tmp_path / "computed.txt"
    maker = VolumeMaker(counter=str(counter))
    first = [expose_store(maker.make(a)) for a in (3.40, 3.44)]
    run_locally(Flow(first), store=store, log=False)
    second = [expose_store(maker.make(a)) for a in (3.40, 3.44, 3.48)]
    run_locally(Flow(second), store=store, log=False)
    assert counter.read_text().split() == ["3.4", "3.44", "3.48"]  # only the new lattice constant was computed
    store.connect()
    docs = {d["uuid"]: d["output"] for d in store.query({}, properties=["uuid", "output"])}
    assert len(docs) == 5
    for old, new in zip(first, second[:2]):
        assert docs[new.uuid]["provenance"]["reused_from"] == old.uuid
        assert docs[new.uuid]["volume_A3"] == docs[old.uuid]["volume_A3"]
        assert docs[old.uuid]["provenance"]["reused_from"] is None
    assert docs[second[2].uuid]["provenance"]["reused_from"] is None


def test_results_inside_packs_are_found_and_another_model_is_not_reused(campaign, tmp_path):
    store = campaign.job_store()
    counter = tmp_path / "computed.txt"
    maker = VolumeMaker(counter=str(counter))
    members = [maker.make(a) for a in (3.40, 3.44, 3.48)]
    packs, _ = pack_jobs(members, 3, "volumes")
    run_locally(Flow(packs), store=store, log=False)
    again = [expose_store(maker.make(3.44)), expose_store(VolumeMaker(counter=str(counter), model_sha256="x" * 64).make(3.44))]
    run_locally(Flow(again), store=store, log=False)
    assert counter.read_text().split() == ["3.4", "3.44", "3.48", "3.44"]  # the other model computed its own
    store.connect()
    reused = store.query_one({"uuid": again[0].uuid}, load=True)["output"]
    assert reused["provenance"]["reused_from"] == members[1].uuid  # the pack member's own uuid
    assert find_result(reused["provenance"]["calc_key"], store)[1] == members[1].uuid


def test_outside_a_jobflow_run_nothing_is_reused(tmp_path):
    counter = tmp_path / "computed.txt"
    maker = VolumeMaker(counter=str(counter))
    for _ in range(2):
        maker.make.original(maker, 3.44)
    assert counter.read_text().split() == ["3.44", "3.44"]


def test_calculations_are_counted_once_whether_packed_computed_or_reused(campaign, tmp_path):
    from li_campaign.report.counts import count_calculations

    store = campaign.job_store()
    maker = VolumeMaker(counter=str(tmp_path / "computed.txt"))
    packs, _ = pack_jobs([maker.make(a) for a in (3.40, 3.44, 3.48)], 2, "volumes")
    run_locally(Flow([*packs, expose_store(maker.make(3.52))]), store=store, log=False)
    run_locally(Flow([expose_store(maker.make(a)) for a in (3.40, 3.52, 3.56)]), store=store, log=False)
    store.connect()
    counts = count_calculations(store, "reuse")
    assert counts == {"computed": 5, "reused": 2, "by_type": {"volume": 5}}
    assert count_calculations(store, "another campaign")["computed"] == 0


def test_a_rerun_job_or_pack_keeps_its_own_result_as_computed(campaign, tmp_path):
    from li_campaign.report.counts import count_calculations

    store = campaign.job_store()
    counter = tmp_path / "computed.txt"
    maker = VolumeMaker(counter=str(counter))
    single = expose_store(maker.make(3.40))
    packs, _ = pack_jobs([maker.make(a) for a in (3.44, 3.48)], 2, "volumes")
    flow = Flow([single, *packs])
    run_locally(flow, store=store, log=False)
    run_locally(flow, store=store, log=False)  # the same jobs (same uuids) again, as FireWorks reruns them
    assert counter.read_text().split() == ["3.4", "3.44", "3.48"]
    store.connect()
    assert count_calculations(store, "reuse") == {"computed": 3, "reused": 0, "by_type": {"volume": 3}}
