"""Database configs: embedded and mongodb modes build the right stores (no server needed)."""

from __future__ import annotations

import pytest
from maggma.stores import GridFSStore, MongoStore

from li_campaign.core.errors import DatabaseError, InputError
from li_campaign.db.config import Campaign, DbConfig
from li_campaign.db.stores import SafeMontyStore


def test_embedded_stores(campaign):
    store = campaign.job_store()
    assert isinstance(store.docs_store, SafeMontyStore)
    assert isinstance(store.additional_stores["data"], SafeMontyStore)
    assert isinstance(campaign.derived_store("facet_summary"), SafeMontyStore)
    with pytest.raises(KeyError, match="unknown derived collection"):
        campaign.derived_store("nope")


def test_mongodb_stores_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_URI", "mongodb://u" + ":p@db.example.org:27017/?authSource=admin")
    campaign = Campaign.create(tmp_path / "c", DbConfig(mode="mongodb", uri_env="MY_URI", database="lic"))
    assert "p@" not in (tmp_path / "c" / "campaign.yaml").read_text()
    store = campaign.job_store()
    assert isinstance(store.docs_store, MongoStore) and store.docs_store.database == "lic"
    assert store.docs_store.collection_name == "outputs"
    assert isinstance(store.additional_stores["data"], GridFSStore)
    assert isinstance(campaign.derived_store("bep_regression"), MongoStore)


def test_mongodb_without_uri(tmp_path, monkeypatch):
    monkeypatch.delenv("LI_CAMPAIGN_MONGODB_URI", raising=False)
    campaign = Campaign.create(tmp_path / "c", DbConfig(mode="mongodb"))
    with pytest.raises(DatabaseError, match="LI_CAMPAIGN_MONGODB_URI is not set"):
        campaign.job_store()


def test_bad_db_config_names_the_field(tmp_path):
    path = tmp_path / "db.yaml"
    path.write_text("mode: postgres\n")
    with pytest.raises(InputError, match="db.yaml: invalid database config: mode"):
        DbConfig.from_file(path)


def test_switching_mode_of_an_existing_campaign_is_refused(campaign):
    with pytest.raises(InputError, match="already initialised with mode=embedded"):
        Campaign.create(campaign.root, DbConfig(mode="mongodb"))
