"""`li-campaign db verify`: a clean campaign passes; each injected inconsistency exits non-zero, named."""

from __future__ import annotations

import pytest
from jobflow import Flow, job, run_locally

from li_campaign.cli.main import main
from li_campaign.core.hashing import file_sha256, structure_hash
from li_campaign.core.lithium import bcc_li_conventional
from li_campaign.schemas.bulk import BulkDoc
from li_campaign.schemas.models import HoldoutErrors, ModelDoc, ParityData
from li_campaign.schemas.provenance import Provenance

pytestmark = [pytest.mark.faults, pytest.mark.filterwarnings("ignore:cd is deprecated")]

CELL = bcc_li_conventional(3.44)


@job
def model_job(path: str, package: str) -> ModelDoc:
    sha = file_sha256(path)
    return ModelDoc(
        campaign="v",
        architecture="nequip",
        sha256=sha,
        deployed_path=path,
        deploy_mode="eager",
        package_path=package,
        package_sha256=file_sha256(package),
        split={"train": ["f0"], "val": [], "test": []},
        hyperparameters={},
        holdout=HoldoutErrors(n_frames=0, energy_mae_meV_atom=0, energy_rmse_meV_atom=0, force_mae_meV_A=0, force_rmse_meV_A=0),
        parity=ParityData(
            dft_energy_per_atom_eV=[], mlip_energy_per_atom_eV=[], dft_force_components_eV_A=[], mlip_force_components_eV_A=[]
        ),
        training_wall_time_s=0,
        deploy_wall_time_s=0,
        provenance=Provenance(campaign="v", spec_hash="f" * 64, model_sha256=sha),
    )


@job
def bulk_job(sha: str, digest: str | None) -> BulkDoc:
    return BulkDoc(
        lattice_constant_A=3.44,
        energy_per_atom_eV=-1.9,
        bulk_modulus_GPa=13.0,
        volumes_A3_atom=[20.0],
        energies_eV_atom=[-1.9],
        provenance=Provenance(campaign="v", spec_hash="f" * 64, model_sha256=sha, structure_hash=digest),
    )


@pytest.fixture
def verified(campaign, tmp_path):
    """A campaign with one model (real files) and one result that uses it."""
    deployed, package = tmp_path / "model.nequip.zip", tmp_path / "package.nequip.zip"
    deployed.write_bytes(b"deployed model bytes")
    package.write_bytes(b"package bytes")
    model = model_job(str(deployed), str(package))
    result = bulk_job(model.output.sha256, structure_hash(CELL))
    run_locally(Flow([model, result]), store=campaign.job_store(), create_folders=False, ensure_success=True)
    return campaign, deployed, model, result


def verify(campaign, capsys) -> tuple[int, str]:
    code = main(["--campaign-dir", str(campaign.root), "db", "verify"])
    return code, capsys.readouterr().out


def test_a_clean_campaign_verifies(verified, capsys):
    code, out = verify(verified[0], capsys)
    assert code == 0 and out.startswith("verified:")


def test_a_corrupted_model_file_is_named(verified, capsys):
    campaign, deployed, model, _ = verified
    deployed.write_bytes(b"deployed model bytes, then damaged")
    code, out = verify(campaign, capsys)
    assert code == 1
    assert f"PROBLEM model_file: outputs uuid={model.uuid} field=output.deployed_path: {deployed}: sha256 mismatch" in out


def test_a_missing_model_file_is_named(verified, capsys):
    campaign, deployed, model, _ = verified
    deployed.unlink()
    code, out = verify(campaign, capsys)
    assert code == 1 and f"uuid={model.uuid} field=output.deployed_path: {deployed}: model file missing" in out


def test_a_result_of_an_unknown_model_is_named(verified, capsys):
    campaign = verified[0]
    orphan = bulk_job("e" * 64, structure_hash(CELL))
    run_locally(orphan, store=campaign.job_store(), create_folders=False, ensure_success=True)
    code, out = verify(campaign, capsys)
    assert code == 1
    assert (
        f"PROBLEM model_missing: outputs uuid={orphan.uuid} field=output.provenance.model_sha256: "
        "model eeeeeeeeeeee… is not in the model registry"
    ) in out


def test_a_result_without_its_structure_hash_is_named(verified, capsys):
    campaign, _, model, _ = verified
    stored = campaign.job_store()
    stored.connect()
    sha = stored.get_output(model.uuid)["sha256"]
    no_hash = bulk_job(sha, None)
    run_locally(no_hash, store=campaign.job_store(), create_folders=False, ensure_success=True)
    code, out = verify(campaign, capsys)
    assert code == 1
    assert f"structure_hash_missing: outputs uuid={no_hash.uuid} field=output.provenance.structure_hash" in out


def test_an_oversized_document_is_named(verified, capsys):
    campaign = verified[0]
    docs = campaign.job_store().docs_store  # written past the JobStore's size guard, as an old or foreign writer would
    docs.connect()
    docs.update({"uuid": "big-1", "index": 1, "output": {"doc_type": "note", "blob": "x" * (17 * 1024**2)}}, key=["uuid", "index"])
    code, out = verify(campaign, capsys)
    assert code == 1 and "PROBLEM oversized: outputs uuid=big-1 field=(document): 17.0 MiB > limit 16 MiB" in out
