"""Run a flow with jobflow's local manager inside a fresh embedded campaign (the long active-learning tests)."""

from __future__ import annotations

import os
from pathlib import Path

from jobflow import Flow, run_locally


def run_in_new_campaign(root: Path, flow: Flow):
    """Create an embedded campaign under ``root``, run ``flow`` into its JobStore, return (campaign, connected store).

    ``LI_CAMPAIGN_DIR`` points at the campaign while the flow runs (jobs that reuse results read it).
    """
    from li_campaign.db.config import Campaign, DbConfig
    from li_campaign.db.launchpad import initialise_launchpad

    campaign = Campaign.create(root / "campaign", DbConfig())
    initialise_launchpad(campaign)
    old = os.environ.get("LI_CAMPAIGN_DIR")
    os.environ["LI_CAMPAIGN_DIR"] = str(campaign.root)
    try:
        store = campaign.job_store()
        run_locally(flow, store=store, create_folders=True, root_dir=root / "runs", log=False, ensure_success=True)
    finally:
        if old is None:
            os.environ.pop("LI_CAMPAIGN_DIR", None)
        else:
            os.environ["LI_CAMPAIGN_DIR"] = old
    store.connect()
    return campaign, store
