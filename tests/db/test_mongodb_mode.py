"""Production (mongodb) mode without a server: configs, TLS options, indexes, unreachable server."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import mongomock
import pymongo
import pytest
from maggma.stores import GridFSStore, MongoStore
from pymongo.errors import DuplicateKeyError

from li_campaign.core.errors import DatabaseError, InputError
from li_campaign.db.config import Campaign, DbConfig
from li_campaign.db.indexes import INDEXES, create_indexes
from li_campaign.db.launchpad import open_launchpad
from li_campaign.db.stores import LargeDataJobStore

REPO = Path(__file__).resolve().parents[2]
SECRET = "s3cret-pw"
UNREACHABLE_URI = "mongodb://alice" + f":{SECRET}@127.0.0.1:1/?authSource=admin"  # built: no credential literal
CA_FILE = "/etc/ssl/certs/ca-certificates.crt"
CLI = str(Path(sys.executable).with_name("li-campaign"))


def _mongodb_campaign(tmp_path: Path, **config) -> Campaign:
    return Campaign.create(tmp_path / "c", DbConfig(mode="mongodb", server_selection_timeout_ms=300, **config))


@pytest.mark.parametrize("name", ["mongodb.yaml", "mongodb.example.yaml"])
def test_shipped_configs_parse(name):
    config = DbConfig.from_file(REPO / "db_config" / name)
    assert config.mode == "mongodb" and config.uri_env == "LI_CAMPAIGN_MONGODB_URI"


def test_example_config_turns_tls_on():
    config = DbConfig.from_file(REPO / "db_config" / "mongodb.example.yaml")
    assert config.mongoclient_kwargs() == {
        "serverSelectionTimeoutMS": 5000,
        "connectTimeoutMS": 20000,
        "tls": True,
        "tlsCAFile": CA_FILE,
    }


def test_tls_options_reach_every_store(tmp_path, monkeypatch):
    monkeypatch.setenv("LI_CAMPAIGN_MONGODB_URI", UNREACHABLE_URI)
    monkeypatch.setenv("KEY_PW", "key-pw")
    key_file = tmp_path / "client.pem"
    key_file.write_text("not used before a connection")
    campaign = _mongodb_campaign(
        tmp_path,
        tls=True,
        tls_ca_file=CA_FILE,
        tls_certificate_key_file=key_file,
        tls_certificate_key_file_password_env="KEY_PW",
        tls_allow_invalid_hostnames=True,
    )
    saved = (campaign.root / "campaign.yaml").read_text()
    assert "key-pw" not in saved and SECRET not in saved and str(key_file) in saved
    expected = {
        "serverSelectionTimeoutMS": 300,
        "connectTimeoutMS": 20000,
        "tls": True,
        "tlsCAFile": CA_FILE,
        "tlsCertificateKeyFile": str(key_file),
        "tlsCertificateKeyFilePassword": "key-pw",
        "tlsAllowInvalidHostnames": True,
    }
    jobs = campaign.job_store()
    assert isinstance(jobs, LargeDataJobStore)
    assert isinstance(jobs.docs_store, MongoStore) and jobs.docs_store.mongoclient_kwargs == expected
    assert isinstance(jobs.additional_stores["data"], GridFSStore)
    assert jobs.additional_stores["data"].mongoclient_kwargs == expected
    assert campaign.derived_store("facet_summary").mongoclient_kwargs == expected


def test_launchpad_gets_the_same_client_options(tmp_path, monkeypatch):
    """The LaunchPad's pymongo client is built with the config's options (recorded, then unreachable)."""
    monkeypatch.setenv("LI_CAMPAIGN_MONGODB_URI", UNREACHABLE_URI)
    campaign = _mongodb_campaign(tmp_path, tls=True, tls_ca_file=CA_FILE)
    seen = []

    class RecordingClient(pymongo.MongoClient):
        def __init__(self, host, **kwargs):
            seen.append(kwargs)
            super().__init__(host, **kwargs)

    monkeypatch.setattr(pymongo, "MongoClient", RecordingClient)
    with pytest.raises(DatabaseError, match="mongodb database not reachable"):
        with open_launchpad(campaign, write=False):
            pass
    assert seen == [campaign.config.mongoclient_kwargs()]


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("mode: mongodb\ntls_ca_file: /etc/ca.pem\n", "tls_ca_file given but tls is false"),
        ("mode: mongodb\ntls: true\ntls_ca_file: certs/ca.pem\n", "tls_ca_file: Value error, must be an absolute path"),
        ("mode: mongodb\nuri_env: 'mongodb://u" + ":pw@h'\n", "uri_env: String should match pattern"),
        ("mode: mongodb\npassword: pw\n", "password: Extra inputs are not permitted"),
        (
            "mode: mongodb\ntls: true\ntls_certificate_key_file_password_env: PW\n",
            "tls_certificate_key_file_password_env given without tls_certificate_key_file",
        ),
    ],
)
def test_bad_tls_config_names_the_field(tmp_path, yaml_text, message):
    path = tmp_path / "db.yaml"
    path.write_text(yaml_text)
    with pytest.raises(InputError, match="db.yaml: invalid database config") as info:
        DbConfig.from_file(path)
    assert message in str(info.value) and "pw@" not in str(info.value)


def test_missing_tls_file_and_key_password_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("LI_CAMPAIGN_MONGODB_URI", UNREACHABLE_URI)
    missing = _mongodb_campaign(tmp_path, tls=True, tls_ca_file=tmp_path / "nope.pem")
    with pytest.raises(DatabaseError, match=r"tls_ca_file: file .*nope\.pem not found"):
        missing.job_store()
    config = DbConfig(
        mode="mongodb", tls=True, tls_certificate_key_file=CA_FILE, tls_certificate_key_file_password_env="NO_SUCH_PW"
    )
    with pytest.raises(DatabaseError, match="NO_SUCH_PW .tls_certificate_key_file_password_env. is not set"):
        config.mongoclient_kwargs()


def test_missing_uri_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("MY_MONGO_URI", raising=False)
    campaign = _mongodb_campaign(tmp_path, uri_env="MY_MONGO_URI")
    for action in (campaign.job_store, campaign.database, lambda: campaign.derived_store("models")):
        with pytest.raises(DatabaseError, match="environment variable MY_MONGO_URI is not set"):
            action()


@pytest.mark.parametrize("command", [["db", "check"], ["db", "init"]])
def test_unreachable_server_fails_fast_without_the_password(tmp_path, cli_env, command):
    _mongodb_campaign(tmp_path)
    env = {**cli_env, "LI_CAMPAIGN_DIR": str(tmp_path / "c"), "LI_CAMPAIGN_MONGODB_URI": UNREACHABLE_URI}
    start = time.monotonic()
    result = subprocess.run([CLI, *command], env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - start
    assert result.returncode == 2, result.stderr
    assert "mongodb database not reachable" in result.stderr and "127.0.0.1:1" in result.stderr
    assert "ServerSelectionTimeoutError" in result.stderr
    assert SECRET not in result.stderr + result.stdout and "alice" not in result.stderr
    assert "Traceback" not in result.stderr
    assert elapsed < 20  # interpreter start-up plus the 0.3 s server selection timeout


def test_db_init_in_embedded_mode_explains_and_succeeds(campaign, cli_env):
    result = subprocess.run([CLI, "db", "init"], env=cli_env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "no secondary or unique indexes" in result.stdout and "upsert on the store's key" in result.stdout


def test_indexes_are_created_once_on_a_mongo_database():
    db = mongomock.MongoClient()["li_campaign"]
    first = create_indexes(db)
    assert [r.status for r in first] == ["created"] * len(INDEXES)
    assert [r.status for r in create_indexes(db)] == ["exists"] * len(INDEXES)
    outputs = db["outputs"].index_information()
    assert outputs["uuid_1_index_1"]["unique"] is True
    assert outputs["output.frame_id_1"]["sparse"] is True
    assert {"output.doc_type_1_completed_at_1", "output.provenance.spec_hash_1"} <= set(outputs)
    assert db["surface_energies"].index_information()["uuid_1"]["unique"] is True
    assert db["models"].index_information()["sha256_1"]["unique"] is True
    assert "model_sha256_1_facet_1" in db["facet_summary"].index_information()
    assert "metadata.blob_uuid_1" in db["outputs_blobs.files"].index_information()


def test_unique_index_rejects_a_duplicate_result():
    db = mongomock.MongoClient()["li_campaign"]
    create_indexes(db)
    db["outputs"].insert_one({"uuid": "u1", "index": 1, "output": {"doc_type": "bulk"}})
    db["outputs"].insert_one({"uuid": "u1", "index": 2, "output": {"doc_type": "bulk"}})  # a re-run: allowed
    with pytest.raises(DuplicateKeyError, match="E11000 Duplicate Key Error"):
        db["outputs"].insert_one({"uuid": "u1", "index": 1, "output": {"doc_type": "bulk"}})
    db["training_frames"].insert_one({"frame_id": "f1"})
    with pytest.raises(DuplicateKeyError, match="E11000 Duplicate Key Error"):
        db["training_frames"].insert_one({"frame_id": "f1"})


def test_index_made_by_maggma_is_replaced_and_duplicates_are_reported():
    db = mongomock.MongoClient()["li_campaign"]
    db["models"].create_index("sha256")  # what maggma's ensure_index makes when a build ran first
    (result,) = create_indexes(db, tuple(spec for spec in INDEXES if spec.collection == "models")[:1])
    assert result.status == "replaced" and db["models"].index_information()["sha256_1"]["unique"] is True
    db["bulk"].insert_many([{"uuid": "same"}, {"uuid": "same"}])
    with pytest.raises(DatabaseError, match="bulk: cannot create the unique index on uuid"):
        create_indexes(db, tuple(spec for spec in INDEXES if spec.collection == "bulk"))
