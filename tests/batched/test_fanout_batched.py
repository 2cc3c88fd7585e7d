"""The fan-out flow runs its packs batched where the executor says so, with the one-by-one results (real nequip package, CPU)."""

from __future__ import annotations

import pytest
from ase.build import bulk
from jobflow import run_locally

from li_campaign.core.hashing import file_sha256
from li_campaign.flows.fanout import FanOutMaker
from li_campaign.mlip.calculator import load_calculator
from li_campaign.schemas.bulk import BulkDoc
from li_campaign.schemas.models import HoldoutErrors, ModelDoc, ParityData
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import CampaignSpec
from tests.mlip.test_deploy import packaged  # noqa: F401  (module fixture: a tiny trained, packaged NequIP)

pytestmark = pytest.mark.slow

SPEC = CampaignSpec.model_validate(
    {
        "name": "batched",
        "fanout": {
            "facets": ["100", "110"],
            "slab": {"min_slab_size_A": 5.0, "min_vacuum_A": 8.0, "min_lateral_A": 6.0, "fix_bottom_A": 1.5},
            "relax": {"fmax_eV_A": 0.05, "max_steps": 150, "optimizer": "FIRE"},
            "neb": {"n_images": 3, "fmax_eV_A": 0.1, "max_steps": 100, "climb": True},
            "pack_size": 10,
        },
    }
)


@pytest.fixture(scope="module")
def model(packaged):  # noqa: F811
    package, _ = packaged
    sha = file_sha256(package)
    provenance = Provenance(campaign="batched", spec_hash="0" * 64, model_sha256=sha)
    doc = ModelDoc(
        campaign="batched", architecture="nequip", sha256=sha, deployed_path=str(package), deploy_mode="eager",
        package_path=str(package), package_sha256=sha, split={"train": [], "val": [], "test": []}, hyperparameters={},
        holdout=HoldoutErrors(n_frames=0, energy_mae_meV_atom=0, energy_rmse_meV_atom=0, force_mae_meV_A=0, force_rmse_meV_A=0),
        parity=ParityData(dft_energy_per_atom_eV=[], mlip_energy_per_atom_eV=[], dft_force_components_eV_A=[], mlip_force_components_eV_A=[]),
        training_wall_time_s=0, deploy_wall_time_s=0, provenance=provenance,
    )
    cell = bulk("Li", "bcc", a=3.44, cubic=True)
    cell.calc = load_calculator(package, sha, "eager")
    energy = float(cell.get_potential_energy()) / len(cell)
    bulk_doc = BulkDoc(
        lattice_constant_A=3.44, energy_per_atom_eV=energy, bulk_modulus_GPa=13.0, volumes_A3_atom=[20.35],
        energies_eV_atom=[energy], provenance=provenance,
    )
    return doc, bulk_doc


def _packs(model_docs, store=None) -> list:
    flow = FanOutMaker(spec=SPEC).make(*model_docs)
    responses = run_locally(flow, store=store, create_folders=False, ensure_success=True)
    return [responses[job.uuid][1].output for job in flow.jobs]


def _numbers(packs) -> dict:
    """γ of each facet, every site's adsorption energy, every hop barrier, by member name."""
    out = {}
    for pack in packs:
        for name, doc in zip(pack.member_names, pack.results):
            if doc["doc_type"] == "surface_energy":
                out[name] = doc["surface_energy_J_m2"]
            elif doc["doc_type"] == "adsorption":
                out[name] = {site["label"]: site["adsorption_energy_eV"] for site in doc["sites"]}
            elif doc["doc_type"] == "diffusion":
                out[name] = [hop["barrier_forward_eV"] for hop in doc["hops"]]
    return out


def test_fanout_packs_are_batched_on_request_and_agree_with_one_by_one(model, campaign, monkeypatch):
    monkeypatch.delenv("LI_CAMPAIGN_EXECUTOR", raising=False)
    one_by_one = _packs(model)  # a CPU worker: one by one
    assert {p.execution["executor"] for p in one_by_one} == {"one-by-one"}

    monkeypatch.setenv("LI_CAMPAIGN_EXECUTOR", "batched")  # what a GPU worker chooses by itself
    batched = _packs(model, store=campaign.job_store())  # the campaign's montydb store, read from the members
    assert {p.execution["executor"] for p in batched} == {"batched"}
    surfaces = batched[0].execution
    assert surfaces["models"][model[0].package_sha256[:12]]["model_form"] == "eager"
    assert surfaces["model_calls"] < surfaces["structures_evaluated"]  # the members' calls were batched
    assert not any(p.failures for p in batched)

    expected, got = _numbers(one_by_one), _numbers(batched)
    assert set(got) == set(expected) and len(expected) == 6  # 2 facets x (γ, sites, NEB)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=2e-3), name
