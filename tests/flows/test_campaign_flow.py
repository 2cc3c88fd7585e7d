"""The campaign flow: stages, their FireWorks categories, the bulk stage switch."""

from __future__ import annotations

import pytest
from jobflow.managers.fireworks import flow_to_workflow

from li_campaign.flows.campaign import CampaignMaker
from li_campaign.schemas.spec import spec_from_dict

pytestmark = pytest.mark.filterwarnings("ignore:Some jobs are not connected")


def _spec(**patch):
    return spec_from_dict({"name": "flow-test", "bulk": {"finite_temperature": {"temperatures_K": [100, 300]}}, **patch})


def test_every_stage_is_in_the_flow_with_its_category():
    flow = CampaignMaker(spec=_spec()).make()
    categories = {job.name: job.config.manager_config["_category"] for job, _ in flow.iterflow()}
    assert categories["training set"] == categories["dft bulk eos"] == categories["dft elastic constants"] == "cpu"
    for name in ("fit nequip", "bulk lattice", "elastic constants", "vacancy", "phonons",
                 "finite temperature 100 K", "finite temperature 300 K"):
        assert categories[name] == "gpu", name
    workflow = flow_to_workflow(flow)
    assert {fw.spec["_category"] for fw in workflow.fws} == {"cpu", "gpu"}


def test_bulk_stage_uses_the_model_eos_and_the_teacher_uses_its_own():
    flow = CampaignMaker(spec=_spec()).make()
    jobs = {job.name: job for job, _ in flow.iterflow()}
    model_eos, teacher_eos = jobs["bulk lattice"].uuid, jobs["dft bulk eos"].uuid
    for name in ("elastic constants", "vacancy", "phonons", "finite temperature 300 K"):
        assert model_eos in jobs[name].input_uuids, name
    assert jobs["dft elastic constants"].input_uuids == (teacher_eos,)
    teacher_dft = jobs["dft elastic constants"].maker.dft
    assert teacher_dft.gpaw.kspacing_inv_A == 0.15  # the denser mesh of bulk.dft_elastic_kspacing_inv_A
    assert jobs["dft bulk eos"].maker.dft.gpaw.kspacing_inv_A == 0.25  # the labels' own


def test_the_teacher_elastic_constants_can_be_switched_off():
    names = {job.name for job, _ in CampaignMaker(spec=_spec(bulk={"dft_elastic": False})).make().iterflow()}
    assert "dft elastic constants" not in names
    assert {"elastic constants", "dft bulk eos", "phonons"} <= names  # the model's Cij and the teacher's EOS stay


def test_bulk_stage_can_be_switched_off():
    names = {job.name for job, _ in CampaignMaker(spec=_spec(bulk={"enabled": False})).make().iterflow()}
    assert "phonons" not in names and "dft elastic constants" not in names
    assert "bulk lattice" in names  # the fan-out still needs the model's EOS


def test_large_cell_diffusion_adds_one_gpu_job_per_facet_and_temperature_only_when_enabled():
    def large(spec) -> dict[str, str]:
        flow = CampaignMaker(spec=spec).make()
        return {
            job.name: job.config.manager_config["_category"]
            for job, _ in flow.iterflow()
            if job.name.startswith("large-cell adatom diffusion")
        }

    assert large(_spec()) == {}
    assert large(_spec(fanout={"large_cell_diffusion": {"facets": ["110"], "temperatures_K": [300]}})) == {}
    enabled = _spec(fanout={"large_cell_diffusion": {"enabled": True, "facets": ["100", "111"], "temperatures_K": [250, 350]}})
    assert large(enabled) == {
        f"large-cell adatom diffusion {facet} {t} K": "gpu" for facet in ("100", "111") for t in (250, 350)
    }
    # the jobs pass through FireWorks: their Maker (with the spec section) serializes and comes back equal
    workflow = flow_to_workflow(CampaignMaker(spec=enabled).make())
    (fw,) = [fw for fw in workflow.fws if fw.name == "large-cell adatom diffusion 100 250 K"]
    maker = fw.tasks[0]["job"].maker
    assert maker.large_cell == enabled.fanout.large_cell and type(maker).from_dict(maker.as_dict()).as_dict() == maker.as_dict()
