"""The 16 MB guard: large lists of a job output go to the large-data store automatically."""

from __future__ import annotations

import bson
import pytest
from jobflow import Flow, job, run_locally
from maggma.stores import MemoryStore

from li_campaign.builders.base import job_outputs_store
from li_campaign.db.stores import (
    MAX_OUTPUT_DOC_BYTES,
    MONGODB_MAX_DOC_BYTES,
    LargeDataJobStore,
    OutputTooLargeError,
    SafeMontyStore,
)

N_FLOATS = 1_400_000  # about 20 MiB as a BSON array


@job
def trajectory(n: int) -> dict:
    """A result with a large array (e.g. an MD trajectory) and small fields."""
    return {"doc_type": "trajectory", "energies": [0.5 + i * 1e-6 for i in range(n)], "meta": {"n": n}}


@job
def count(values: list[float]) -> int:
    """A downstream job that needs the whole array."""
    return len(values)


@job(data="images")
def neb() -> dict:
    """A result whose images jobflow routes by name; small enough to stay as it is."""
    return {"doc_type": "diffusion", "images": [[0.0] * 3] * 10, "hops": [{"barrier_eV": 0.1}]}


def _run_and_check(store) -> None:
    big = trajectory(N_FLOATS)
    n = count(big.output["energies"])
    small = neb()
    run_locally(Flow([big, n, small]), store=store, log=False, ensure_success=True)
    store.connect()
    raw = store.docs_store.query_one({"uuid": big.uuid})
    size = len(bson.encode({k: v for k, v in raw.items() if k != "_id"}))
    assert size < MAX_OUTPUT_DOC_BYTES < MONGODB_MAX_DOC_BYTES
    assert raw["output"]["energies"]["store"] == "data" and raw["output"]["meta"] == {"n": N_FLOATS}
    assert store.get_output(n.uuid) == N_FLOATS  # the downstream job got the full list
    loaded = store.get_output(big.uuid, load=True)["energies"]
    assert len(loaded) == N_FLOATS and loaded[-1] == pytest.approx(0.5 + (N_FLOATS - 1) * 1e-6)
    assert store.query_one({"uuid": big.uuid}, properties=["output.energies"])["output"]["energies"] == loaded
    neb_doc = store.docs_store.query_one({"uuid": small.uuid})
    assert neb_doc["output"]["images"]["store"] == "data" and neb_doc["output"]["hops"] == [{"barrier_eV": 0.1}]


def test_large_list_round_trips_through_a_memory_job_store():
    _run_and_check(LargeDataJobStore(MemoryStore("outputs"), {"data": MemoryStore("blobs")}, load=True))


def test_large_list_round_trips_through_the_embedded_campaign_store(campaign):
    store = campaign.job_store()
    assert isinstance(store, LargeDataJobStore) and isinstance(store.docs_store, SafeMontyStore)
    _run_and_check(store)
    source = job_outputs_store(campaign)  # what the builders read
    source.connect()
    doc = source.query_one({"output.doc_type": "trajectory"}, properties=["output.energies"])
    assert len(doc["output"]["energies"]) == N_FLOATS


def test_largest_lists_move_first_and_only_as_many_as_needed():
    store = LargeDataJobStore(MemoryStore(), {"data": MemoryStore()}, max_doc_bytes=50_000)
    store.connect()
    output = {"parity": {"forces": [1.0] * 4000, "energies": [1.0] * 100}, "positions": [[0.0, 0.0, 0.0]] * 1000}
    store.update({"uuid": "a", "index": 1, "name": "fit", "output": output})
    raw = store.docs_store.query_one()["output"]
    assert raw["parity"]["forces"]["store"] == "data"  # ~56 kB: enough alone
    assert raw["positions"] == [[0.0, 0.0, 0.0]] * 1000 and raw["parity"]["energies"] == [1.0] * 100
    assert store.get_output("a", load=True) == output


def test_output_that_cannot_fit_names_the_job_and_size():
    store = LargeDataJobStore(MemoryStore(), {"data": MemoryStore()})
    store.connect()
    doc = {"uuid": "u-big", "index": 1, "name": "huge text", "output": {"log": "x" * (17 * 1024**2)}}
    with pytest.raises(OutputTooLargeError, match=r"job 'huge text' \(u-big, index 1\): output document is 17\.0 MiB"):
        store.update(doc)
    assert store.docs_store.count() == 0


def test_store_needs_a_data_store():
    with pytest.raises(ValueError, match="additional store named 'data'"):
        LargeDataJobStore(MemoryStore())
