"""The real builders on a real embedded campaign whose fan-out results are partly packed."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobflow import Flow, run_locally

from li_campaign.builders import run_builders
from li_campaign.db.config import Campaign, DbConfig
from li_campaign.execution.packing import pack_jobs
from tests.flows.jobs_for_packing import SHA, FacetResultsMaker, label_jobs, sodium_label_job

pytestmark = [
    pytest.mark.filterwarnings("ignore:Some jobs are not connected"),
    pytest.mark.filterwarnings("ignore:cd is deprecated"),
]

FACETS = {"100": (0.46, -1.3, 0.01), "110": (0.49, -1.1, 0.04), "111": (0.52, -1.4, 0.08)}


def _query(campaign: Campaign, name: str) -> list[dict]:
    store = campaign.derived_store(name)
    store.connect()
    docs = list(store.query())
    store.close()
    return docs


def _facet_flow(facets: dict, size: int) -> tuple[Flow, list]:
    """Surface + adsorption jobs packed together, then the NEBs packed; also return the member jobs."""
    maker = FacetResultsMaker()
    stage1 = []
    for facet, (gamma, e_ads, _) in facets.items():
        stage1 += [maker.surface(facet, gamma), maker.adsorption(facet, e_ads)]
    packs1, outputs = pack_jobs(stage1, size, "pack")
    nebs = [maker.diffusion(ref, barrier) for ref, (_, _, barrier) in zip(outputs[1::2], facets.values())]
    packs2, _ = pack_jobs(nebs, size, "neb pack")
    return Flow([*packs1, *packs2]), [*stage1, *nebs]


def _run(campaign: Campaign, flow: Flow) -> None:
    run_locally(flow, store=campaign.job_store(), log=False, ensure_success=True)


@pytest.fixture
def campaign(tmp_path: Path) -> Campaign:
    return Campaign.create(tmp_path / "c", DbConfig())


def test_each_packed_calculation_gets_its_own_derived_document(campaign: Campaign):
    flow, members = _facet_flow(FACETS, 4)
    _run(campaign, flow)
    packed_frames, frame_jobs = pack_jobs([*label_jobs(3), sodium_label_job()], 2, "labels")
    unpacked_frames = label_jobs(5)[3:]
    _run(campaign, Flow([*packed_frames, *unpacked_frames]))

    counts = run_builders(campaign)
    assert counts["surface_energies"] == counts["adsorption_energies"] == counts["diffusion_barriers"] == 3
    assert counts["facet_summary"] == 3 and counts["bep_regression"] == 1
    assert counts["training_frames"] == 5  # 3 packed (a 4th member failed) + 2 unpacked

    surfaces = {doc["facet"]: doc for doc in _query(campaign, "surface_energies")}
    member_uuids = {job.uuid for job in members}
    pack_uuids = {job.uuid for job in flow.jobs}
    for facet, (gamma, _, _) in FACETS.items():
        doc = surfaces[facet]
        assert doc["surface_energy_J_m2"] == gamma and doc["model_sha256"] == SHA
        assert doc["uuid"] in member_uuids and doc["pack_uuid"] in pack_uuids
        assert "relaxed_structure" not in doc and doc["state"] == "successful"
    barriers = {doc["facet"]: doc["min_barrier_eV"] for doc in _query(campaign, "diffusion_barriers")}
    assert barriers == {facet: values[2] for facet, values in FACETS.items()}
    summaries = {doc["facet"]: doc for doc in _query(campaign, "facet_summary")}
    assert summaries["110"]["min_adsorption_energy_eV"] == -1.1
    frames = {doc["frame_id"]: doc for doc in _query(campaign, "training_frames")}
    assert sorted(frames) == [f"li-pack:bulk_rattle:{i}" for i in range(5)]
    assert "pack_uuid" in frames["li-pack:bulk_rattle:0"] and "pack_uuid" not in frames["li-pack:bulk_rattle:4"]
    assert "structure" not in frames["li-pack:bulk_rattle:0"] and "forces_eV_A" not in frames["li-pack:bulk_rattle:0"]


def test_packed_outputs_are_built_incrementally(campaign: Campaign):
    _run(campaign, _facet_flow({"100": FACETS["100"], "110": FACETS["110"]}, 4)[0])
    first = run_builders(campaign)
    assert first["surface_energies"] == 2
    assert all(count == 0 for count in run_builders(campaign).values())

    _run(campaign, _facet_flow({"111": FACETS["111"]}, 2)[0])
    again = run_builders(campaign)
    assert again["surface_energies"] == again["adsorption_energies"] == again["diffusion_barriers"] == 1
    assert again["facet_summary"] == 1 and again["training_frames"] == 0
    assert len(_query(campaign, "surface_energies")) == 3
    assert all(count == 0 for count in run_builders(campaign).values())
