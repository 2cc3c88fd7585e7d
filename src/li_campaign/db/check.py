"""``li-campaign db check``: which database mode is active and whether it answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from li_campaign.core.errors import DatabaseError
from li_campaign.db.launchpad import is_initialised, open_launchpad
from li_campaign.db.settings import redact_uri

if TYPE_CHECKING:
    from li_campaign.db.config import Campaign


def check_database(campaign: Campaign) -> dict:
    """Open the LaunchPad and the JobStore once; return a report (raises DatabaseError if unreachable)."""
    report: dict = {"mode": campaign.mode, "campaign_dir": str(campaign.root)}
    if campaign.mode == "embedded":
        report["launchpad"] = str(campaign.fireworks_db_file)
        report["jobstore"] = str(campaign.montydb_dir)
    else:
        report["launchpad"] = f"{redact_uri(campaign.config.mongodb_uri())} db={campaign.config.launchpad_database}"
        report["jobstore"] = f"{redact_uri(campaign.config.mongodb_uri())} db={campaign.config.database}"
    try:
        with open_launchpad(campaign, write=False) as lp:
            if campaign.mode == "mongodb":
                lp.connection.admin.command("ping")
            report["launchpad_initialised"] = is_initialised(lp)
            report["n_fireworks"] = lp.fireworks.count_documents({})
        store = campaign.job_store()
        store.connect()
        report["n_job_outputs"] = store.count()
        store.close()
    except DatabaseError:
        raise
    except Exception as exc:  # pymongo ServerSelectionTimeoutError, OperationFailure (auth), ...
        raise DatabaseError(
            f"{campaign.mode} database not reachable ({report['launchpad']}): {type(exc).__name__}: "
            f"{redact_uri(str(exc))[:300]}"
        ) from None
    report["reachable"] = True
    return report
