"""Campaign progress read from the LaunchPad."""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from li_campaign.core.errors import DatabaseError

if TYPE_CHECKING:
    from li_campaign.db.config import Campaign


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")


def failure_reason(trace: str) -> str:
    """The exception line of a stack trace (plus the next lines of a multi-line message)."""
    lines = [line.rstrip() for line in trace.strip().splitlines() if line.strip()]
    if not lines:
        return "no reason recorded"
    for i in range(len(lines) - 1, -1, -1):
        if _EXCEPTION_LINE.match(lines[i]):
            return " | ".join(line.strip() for line in lines[i : i + 4] if "errors.pydantic.dev" not in line)
    return lines[-1]


def failed_pack_members(campaign: Campaign) -> list[dict]:
    """Calculations that failed inside packs whose other calculations completed.

    Such a pack's job is COMPLETED, so FireWorks does not list them; the pack's output
    (``output.failures``, :class:`~li_campaign.schemas.packing.PackDoc`) does.
    """
    store = campaign.job_store()
    store.connect()
    try:
        packs = store.query({"output.doc_type": "pack"}, properties=["name", "output.failures"], load=False)
        return [
            {"pack": pack.get("name"), **failure}
            for pack in packs
            for failure in (pack.get("output") or {}).get("failures") or []
        ]
    finally:
        store.close()


def campaign_status(campaign: Campaign, queue: str | None = None) -> dict:
    """Return firework counts by state, the reason of every failed firework and lost jobs.

    A part that cannot be read from here is left empty with the reason in ``queue_error``
    (the batch queue) or ``failed_calculations_error`` (the JobStore, e.g. of a read-only
    campaign directory), so the rest is still reported.

    Parameters
    ----------
    campaign
        The campaign.
    queue
        ``"slurm"`` or ``"pbs"``, asked about batch jobs of ``li-campaign launch``
        (default: detected); see :mod:`li_campaign.db.recover`.
    """
    from li_campaign.db.launchpad import open_launchpad
    from li_campaign.db.recover import lost_launches

    with open_launchpad(campaign, write=False) as lp:
        fws = list(lp.fireworks.find({}, {"fw_id": 1, "state": 1, "name": 1, "launches": 1}))
        failed = []
        for fw in fws:
            if fw["state"] != "FIZZLED" or not fw.get("launches"):
                continue
            launch = lp.launches.find_one({"launch_id": fw["launches"][-1]}, {"action": 1, "launch_dir": 1})
            stored = ((launch or {}).get("action") or {}).get("stored_data", {})
            trace = (stored.get("_exception") or {}).get("_stacktrace", "") or stored.get("_message", "")
            reason = failure_reason(trace)
            failed.append({"fw_id": fw["fw_id"], "name": fw["name"], "reason": reason, "launch_dir": (launch or {}).get("launch_dir")})
        workflows = lp.workflows.count_documents({})
        try:
            lost, queue_error = lost_launches(campaign, lp, queue), None
        except DatabaseError as exc:  # the queue cannot be read from here: say so, report the rest
            lost, queue_error = [], str(exc)
    states = Counter(fw["state"] for fw in fws)
    try:
        failed_calculations, failed_calculations_error = failed_pack_members(campaign), None
    except DatabaseError as exc:  # the JobStore cannot be read (a read-only folder): say so, report the rest
        failed_calculations, failed_calculations_error = [], str(exc)
    return {
        "failed_calculations": failed_calculations,
        "failed_calculations_error": failed_calculations_error,
        "n_workflows": workflows,
        "n_fireworks": len(fws),
        "states": dict(sorted(states.items())),
        "failed": failed,
        "lost": lost,
        "queue_error": queue_error,
    }
