"""Where a running job finds its campaign (set by the workers)."""

from __future__ import annotations

import os

from li_campaign.core.errors import DatabaseError
from li_campaign.db.config import Campaign


def current_campaign() -> Campaign:
    """Return the campaign named by ``LI_CAMPAIGN_DIR`` (set by ``li-campaign run`` and ``launch``).

    Its database files are not opened: a job uses the campaign's folders (the models), and
    reads and writes documents through the JobStore it runs with, which in a staged job is
    no database at all (:mod:`li_campaign.launch.staging`).
    """
    root = os.environ.get("LI_CAMPAIGN_DIR")
    if not root:
        raise DatabaseError("LI_CAMPAIGN_DIR is not set: jobs must run through li-campaign workers")
    return Campaign(root, check_stores=False)
