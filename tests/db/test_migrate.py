"""``li-campaign db migrate``: a campaign moves to another database and continues there.

Real FireWorks LaunchPads, real montydb stores and real workers. The MongoDB code path
(pymongo LaunchPad, maggma MongoStore and GridFSStore, indexes) runs against one mongomock
server that every pymongo client of this process talks to, as in test_mongodb_mode.py.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from datetime import datetime
from pathlib import Path

import mongomock
import mongomock.collection
import mongomock.gridfs
import mongomock.store
import pymongo
import pytest
import yaml
from fireworks import FWorker
from jobflow import Flow

from li_campaign.cli.main import main
from li_campaign.core.errors import DatabaseError, InputError
from li_campaign.db.config import Campaign, DbConfig
from li_campaign.db.launchpad import initialise_launchpad, open_launchpad
from li_campaign.db.migrate import campaign_contents, document_sha256, migrate_campaign
from li_campaign.launch.runner import run_workers
from li_campaign.launch.submit import submit_flow
from li_campaign.db.verify import verify_campaign
from li_campaign.execution.reuse import expose_store, find_result
from tests.db.jobs_for_tests import add, fail, fan
from tests.db.migrate_jobs import big, register_model
from tests.conftest import REPO
from tests.db.reuse_jobs import VolumeMaker

pytestmark = pytest.mark.filterwarnings("ignore:Some jobs are not connected")

SECRET = "s3cret-pw"
UNREACHABLE_URI = "mongodb://alice" + f":{SECRET}@127.0.0.1:1/?authSource=admin"  # built: no credential literal
MODEL_BYTES = b"a deployed model, stand-in bytes\n"
MODEL_SHA = hashlib.sha256(MODEL_BYTES).hexdigest()


def _fw_id(lp, job_uuid: str) -> int:
    """The firework that runs the jobflow job ``job_uuid``."""
    return lp.fireworks.find_one({"spec._tasks.job.uuid": job_uuid}, {"fw_id": 1})["fw_id"]


def _source_campaign(campaign: Campaign, counter: Path) -> dict:
    """Run a small campaign to the end, then leave it with a failed, a running, a reserved and a ready job.

    Its parts: a dynamic flow (fireworks added by a running job), a calculation with a reuse key,
    an output with large data in the blob store, a model file with its model document and
    registry entry, a failed job with a waiting child.
    """
    model = campaign.models_dir / f"{MODEL_SHA}.nequip.zip"
    model.write_bytes(MODEL_BYTES)
    volume = expose_store(VolumeMaker(counter=str(counter), model_sha256=MODEL_SHA).make(3.40))
    blob, registered, failed = big(300), register_model(str(model)), fail("the calculation diverged")
    dynamic = fan(2)
    submit_flow(
        campaign,
        Flow([dynamic, add(dynamic.output, 10), volume, blob, registered, failed, add(failed.output, 1)]),
        "spec-a",
    )
    summary = run_workers(campaign, n_workers=2, progress=False)
    assert len(summary.fizzled) == 1, summary
    with campaign.derived_store("models") as registry:  # the model registry, as ModelRegistryBuilder writes it
        registry.update({"sha256": MODEL_SHA, "deployed_path": str(model), "package_path": str(model),
                         "package_sha256": MODEL_SHA, "last_updated": datetime(2026, 12, 4, 10, 0, 0, 123456)})
    ready, running, reserved = add(1, 2), add(3, 4), add(5, 6)
    submit_flow(campaign, Flow([ready, running, reserved]), "spec-b")
    with open_launchpad(campaign) as lp:
        lp.checkout_fw(FWorker(name="elsewhere"), str(campaign.launches_dir), fw_id=_fw_id(lp, running.uuid))
        lp.reserve_fw(FWorker(name="elsewhere"), str(campaign.launches_dir), fw_id=_fw_id(lp, reserved.uuid))
    return {"volume": volume, "blob": blob, "registered": registered, "ready": ready, "model": model}


def _pythonpath() -> str:
    """PYTHONPATH for worker processes, which import the jobs from ``tests.*``."""
    return os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))


@pytest.fixture(autouse=True)
def _workers_import_tests(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", _pythonpath())


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> tuple[Campaign, dict]:
    """The source campaign of this module's tests (:func:`_source_campaign`); every test only reads it."""
    root = tmp_path_factory.mktemp("source")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", _pythonpath())
        campaign = Campaign.create(root / "campaign", DbConfig())
        initialise_launchpad(campaign)
        return campaign, _source_campaign(campaign, root / "computed.txt")


def _states(campaign: Campaign) -> dict[int, str]:
    with open_launchpad(campaign, write=False) as lp:
        return {fw["fw_id"]: fw["state"] for fw in lp.fireworks.find({}, {"fw_id": 1, "state": 1})}


def _fingerprint(campaign: Campaign) -> dict:
    """The LaunchPad file's bytes and every stored document's hash: what must not change in a source."""
    jobs = campaign.job_store()
    jobs.connect()
    docs = sorted(document_sha256(doc) for doc in jobs.docs_store.query({}))
    blobs = sorted(document_sha256(doc) for doc in jobs.additional_stores["data"].query({}))
    jobs.close()
    files = {p.name: p.read_bytes() for p in campaign.models_dir.iterdir()}
    return {"launchpad": campaign.fireworks_db_file.read_bytes(), "docs": docs, "blobs": blobs, "files": files}


def _config_file(tmp_path: Path, **fields) -> Path:
    path = tmp_path / "target_db.yaml"
    path.write_text(yaml.safe_dump(fields))
    return path


@pytest.fixture
def mongo_server(monkeypatch):
    """One mongomock server behind every pymongo client of this process (LaunchPad, maggma stores, indexes)."""
    import maggma.stores.gridfs
    import maggma.stores.mongolike

    monkeypatch.delenv("MONGOMOCK_SERVERSTORE_FILE", raising=False)  # mongomock-persistence would load that file
    server = mongomock.store.ServerStore()
    mongomock.gridfs.enable_gridfs_integration()

    def client(host=None, port=None, **kwargs):
        return mongomock.MongoClient(host, port, _store=server, **kwargs)

    for module in (pymongo, maggma.stores.mongolike, maggma.stores.gridfs):
        monkeypatch.setattr(module, "MongoClient", client)
    # mongomock 4.3 predates pymongo 4.11, whose ReplaceOne (maggma's MongoStore.update) always passes `sort`
    add_replace = mongomock.collection.BulkOperationBuilder.add_replace

    def add_replace_with_sort(self, selector, doc, upsert, collation=None, hint=None, sort=None):
        assert sort is None, "a sorted replace is not what maggma writes"
        return add_replace(self, selector, doc, upsert, collation=collation, hint=hint)

    monkeypatch.setattr(mongomock.collection.BulkOperationBuilder, "add_replace", add_replace_with_sort)
    monkeypatch.setenv("LI_CAMPAIGN_MONGODB_URI", "mongodb://migrate-test:27017/")
    return client()


def test_campaign_continues_in_the_target_and_the_source_is_untouched(source, tmp_path, capsys):
    campaign, made = source
    before = _fingerprint(campaign)
    source_states = _states(campaign)
    assert set(source_states.values()) == {"COMPLETED", "FIZZLED", "WAITING", "READY", "RUNNING", "RESERVED"}
    target_dir = tmp_path / "cluster"

    code = main(["--campaign-dir", str(campaign.root), "db", "migrate", "--to", str(_config_file(tmp_path, mode="embedded")),
                 "--target-dir", str(target_dir)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "verified: every copied document" in out
    assert int(re.search(r"model paths rewritten: (\d+)", out).group(1)) >= 4  # output and registry: 2 each
    for part in ("launchpad.fireworks", "launchpad.workflows", "launchpad.launches", "jobstore.outputs ",
                 "jobstore.outputs_blobs", "derived.models", "model files"):  # fmt: skip
        assert part in out
    assert "MISMATCH" not in out
    assert _fingerprint(campaign) == before  # the source is only read

    target = Campaign(target_dir)
    assert _states(target) == source_states  # ids and states, FIZZLED, RUNNING and RESERVED among them
    assert verify_campaign(target) == []
    copied_model = target.models_dir / made["model"].name
    assert copied_model.read_bytes() == MODEL_BYTES
    jobs = target.job_store()
    jobs.connect()
    assert jobs.get_output(made["registered"].uuid)["deployed_path"] == str(copied_model)
    assert jobs.get_output(made["blob"].uuid, load=True)["values"] == [float(i) / 7 for i in range(300)]
    with target.derived_store("models") as registry:
        entry = registry.query_one({})
    assert entry["deployed_path"] == str(copied_model)
    assert entry["last_updated"].replace(microsecond=0) == datetime(2026, 12, 4, 10, 0, 0)
    with open_launchpad(target, write=False) as lp:
        launches_before = lp.launches.count_documents({})

    # extend the campaign in the target: the ready job runs, the stored calculation is found, only 3.48 is computed
    counter = tmp_path / "computed.txt"
    maker = VolumeMaker(counter=str(counter), model_sha256=MODEL_SHA)
    again, new = expose_store(maker.make(3.40)), expose_store(maker.make(3.48))
    submit_flow(target, Flow([again, new]), "spec-c")
    summary = run_workers(target, n_workers=2, progress=False)
    assert summary.completed == 3 and summary.fizzled == []
    assert counter.read_text().split() == ["3.48"]
    jobs.connect()
    assert jobs.get_output(again.uuid)["provenance"]["reused_from"] == made["volume"].uuid
    assert jobs.get_output(made["ready"].uuid) == 3
    with open_launchpad(target, write=False) as lp:
        assert lp.launches.count_documents({}) == launches_before + 3  # nothing that had completed ran again
    after = _states(target)
    assert {fw_id: state for fw_id, state in after.items() if fw_id in source_states and state != source_states[fw_id]} == {
        fw_id: "COMPLETED" for fw_id, state in source_states.items() if state == "READY"
    }
    assert _fingerprint(campaign) == before


def test_mongodb_target_gets_everything_and_runs_the_ready_job(source, tmp_path, mongo_server, monkeypatch):
    from fireworks.core.rocket_launcher import launch_rocket
    from jobflow import SETTINGS

    campaign, made = source
    source_states = _states(campaign)
    config = DbConfig(mode="mongodb", server_selection_timeout_ms=300)
    report = migrate_campaign(campaign, config, tmp_path / "cluster")
    assert report.ok, "\n".join(report.lines())
    assert report.source_states == report.target_states and report.paths_rewritten >= 4
    target = Campaign(tmp_path / "cluster")
    assert target.mode == "mongodb" and _states(target) == source_states
    contents = campaign_contents(target)
    assert contents == campaign_contents(campaign)
    database = mongo_server["li_campaign"]  # GridFS holds the blobs, the unique indexes exist
    assert database["outputs_blobs.files"].count_documents({}) == contents["jobstore.outputs_blobs"] > 0
    assert database["outputs"].index_information()["uuid_1_index_1"]["unique"] is True
    jobs = target.job_store()
    jobs.connect()
    assert jobs.get_output(made["blob"].uuid, load=True)["values"][299] == 299 / 7
    key = jobs.get_output(made["volume"].uuid)["provenance"]["calc_key"]
    assert find_result(key, jobs)[1] == made["volume"].uuid  # the reuse key finds the result in MongoDB
    assert verify_campaign(target) == []

    # the READY job runs against MongoDB (FireWorks' own rocket, in this process where mongomock answers)
    monkeypatch.setattr(SETTINGS, "JOB_STORE", jobs)
    monkeypatch.chdir(tmp_path)
    with open_launchpad(target) as lp:
        ready = _fw_id(lp, made["ready"].uuid)
        assert launch_rocket(lp, FWorker(), fw_id=ready)
        assert lp.get_fw_by_id(ready).state == "COMPLETED"
    assert jobs.get_output(made["ready"].uuid) == 3


def test_non_empty_target_is_refused_without_merge_and_merge_shifts_the_ids(source, tmp_path):
    campaign = source[0]
    target_dir = tmp_path / "cluster"
    assert migrate_campaign(campaign, DbConfig(), target_dir).ok
    target = Campaign(target_dir)
    written = _fingerprint(target), campaign_contents(target)
    with pytest.raises(DatabaseError, match=r"cluster \(embedded\): not empty \(launchpad.workflows 2, .*use --merge.*nothing was written"):
        migrate_campaign(campaign, DbConfig(), target_dir)
    with pytest.raises(DatabaseError, match="already holds 2 workflow.s. of this campaign .migrated before.; nothing was written"):
        migrate_campaign(campaign, DbConfig(), target_dir, merge=True)
    assert (_fingerprint(target), campaign_contents(target)) == written

    other = Campaign.create(tmp_path / "other", DbConfig())
    initialise_launchpad(other)
    submit_flow(other, Flow([add(7, 8)]), "spec-other")
    n_before = len(_states(target))
    report = migrate_campaign(other, DbConfig(), target_dir, merge=True)
    assert report.ok, "\n".join(report.lines())
    assert report.fw_id_offset == n_before and report.target_states == {"READY": 1}
    assert _states(target)[n_before + 1] == "READY"
    assert run_workers(target, n_workers=1, progress=False).completed == 2  # its job, and the one READY before


def test_a_moved_source_gets_its_model_paths_rewritten_too(source, tmp_path):
    """The campaign directory was copied (to the cluster) before the migration: its stored paths name the old place."""
    campaign, made = source
    moved = tmp_path / "copied_to_cluster"
    shutil.copytree(campaign.root, moved)
    report = migrate_campaign(Campaign(moved), DbConfig(), tmp_path / "cluster")
    assert report.ok and report.paths_rewritten >= 4
    target = Campaign(tmp_path / "cluster")
    jobs = target.job_store()
    jobs.connect()
    assert jobs.get_output(made["registered"].uuid)["deployed_path"] == str(target.models_dir / made["model"].name)
    assert verify_campaign(target) == []


@pytest.mark.parametrize("use_cli", [True, False])
def test_unreachable_target_is_refused_and_nothing_is_created(source, tmp_path, monkeypatch, capsys, use_cli):
    campaign = source[0]
    monkeypatch.setenv("LI_CAMPAIGN_MONGODB_URI", UNREACHABLE_URI)
    config = _config_file(tmp_path, mode="mongodb", server_selection_timeout_ms=300)
    target_dir = tmp_path / "cluster"
    if use_cli:
        code = main(["--campaign-dir", str(campaign.root), "db", "migrate", "--to", str(config), "--target-dir", str(target_dir)])
        err = capsys.readouterr().err
        assert code == 2
    else:
        with pytest.raises(DatabaseError) as info:
            migrate_campaign(campaign, DbConfig.from_file(config), target_dir)
        err = str(info.value)
    assert "cannot be opened: mongodb database not reachable" in err and "127.0.0.1:1" in err
    assert "nothing was written to it" in err and SECRET not in err and "Traceback" not in err
    assert not target_dir.exists()


def test_bad_target_folders_and_configs_are_named(source, tmp_path):
    campaign = source[0]
    with pytest.raises(InputError, match="--target-dir is the source campaign"):
        migrate_campaign(campaign, DbConfig(), campaign.root)
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="occupied: --target-dir is neither an initialised campaign nor an empty folder"):
        migrate_campaign(campaign, DbConfig(), occupied)
    assert [p.name for p in occupied.iterdir()] == ["notes.txt"]
    Campaign.create(tmp_path / "mongo", DbConfig(mode="mongodb"))
    with pytest.raises(InputError, match="campaign already initialised with mode=mongodb"):
        migrate_campaign(campaign, DbConfig(), tmp_path / "mongo")
    bad = tmp_path / "bad.yaml"
    bad.write_text("mode: mongodb\npassword: pw\n")
    assert main(["--campaign-dir", str(campaign.root), "db", "migrate", "--to", str(bad), "--target-dir", str(tmp_path / "t")]) == 2
    assert not (tmp_path / "t").exists()


def test_status_warns_when_an_embedded_campaign_passes_the_ceiling(campaign, monkeypatch, capsys):
    from li_campaign.launch import status
    from li_campaign.launch.status import campaign_status

    submit_flow(campaign, Flow([add(1, 2), add(3, 4)]), "spec-a")
    assert campaign_status(campaign)["embedded_ceiling_warning"] is None
    assert (Path(__file__).parents[2] / "benchmarks/results/embedded_launchpad_2026-12-04.txt").is_file()
    monkeypatch.setattr(status, "EMBEDDED_CEILING_FIREWORKS", 1)
    assert main(["--campaign-dir", str(campaign.root), "status"]) == 0
    out = capsys.readouterr().out
    assert "WARNING: 2 fireworks, LaunchPad file 0 MB: past the embedded database's ceiling (1 fireworks" in out
    assert "li-campaign db migrate --to db_config/mongodb.yaml" in out
