"""Submit jobflow flows to a campaign's LaunchPad."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from jobflow.managers.fireworks import flow_to_workflow

from li_campaign.core.errors import InputError
from li_campaign.db.launchpad import open_launchpad

if TYPE_CHECKING:
    from jobflow import Flow

    from li_campaign.db.config import Campaign


def submit_flow(campaign: Campaign, flow: Flow, spec_hash: str, force: bool = False) -> list[int]:
    """Add ``flow`` as one FireWorks workflow; refuse a spec that was already submitted.

    The JobStore is *not* serialized into the firework specs (``store=None``): workers
    build it from the campaign config, so no database credential ends up in a spec.

    Parameters
    ----------
    campaign
        Target campaign.
    flow
        The flow to submit.
    spec_hash
        sha256 of the campaign spec, stored in the workflow metadata.
    force
        Submit even if a workflow with the same spec hash exists.

    Returns
    -------
    list[int]
        The new firework ids.
    """
    with warnings.catch_warnings():  # independent branches (e.g. the DFT teacher) are intended
        warnings.filterwarnings("ignore", message="Some jobs are not connected")
        wf = flow_to_workflow(flow, store=None)
    wf.metadata.update({"spec_hash": spec_hash, "li_campaign": True})
    with open_launchpad(campaign) as lp:
        existing = lp.workflows.find_one({"metadata.spec_hash": spec_hash}, {"nodes": 1, "name": 1})
        if existing and not force:
            raise InputError(
                f"this spec (sha256 {spec_hash[:12]}…) was already submitted as workflow "
                f"'{existing['name']}'; nothing was added (use --force to submit it again)"
            )
        mapping = lp.add_wf(wf)
    return sorted(mapping.values())
