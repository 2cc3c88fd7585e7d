"""Where a running job finds its campaign (set by the workers)."""

from __future__ import annotations

import os

from li_campaign.core.errors import DatabaseError
from li_campaign.db.config import Campaign


def current_campaign() -> Campaign:
    """Return the campaign named by ``LI_CAMPAIGN_DIR`` (set by ``li-campaign run`` and ``launch``)."""
    root = os.environ.get("LI_CAMPAIGN_DIR")
    if not root:
        raise DatabaseError("LI_CAMPAIGN_DIR is not set: jobs must run through li-campaign workers")
    return Campaign(root)
