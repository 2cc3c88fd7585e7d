"""Campaign progress read from the LaunchPad."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from li_campaign.db.config import Campaign


def campaign_status(campaign: Campaign) -> dict:
    """Return firework counts by state and the reason of every failed firework."""
    from li_campaign.db.launchpad import open_launchpad

    with open_launchpad(campaign, write=False) as lp:
        fws = list(lp.fireworks.find({}, {"fw_id": 1, "state": 1, "name": 1, "launches": 1}))
        failed = []
        for fw in fws:
            if fw["state"] != "FIZZLED" or not fw.get("launches"):
                continue
            launch = lp.launches.find_one({"launch_id": fw["launches"][-1]}, {"action": 1, "launch_dir": 1})
            stored = ((launch or {}).get("action") or {}).get("stored_data", {})
            trace = (stored.get("_exception") or {}).get("_stacktrace", "") or stored.get("_message", "")
            reason = trace.strip().splitlines()[-1] if trace.strip() else "no reason recorded"
            failed.append({"fw_id": fw["fw_id"], "name": fw["name"], "reason": reason, "launch_dir": (launch or {}).get("launch_dir")})
        workflows = lp.workflows.count_documents({})
    states = Counter(fw["state"] for fw in fws)
    return {"n_workflows": workflows, "n_fireworks": len(fws), "states": dict(sorted(states.items())), "failed": failed}
