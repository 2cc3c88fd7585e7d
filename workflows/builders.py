"""Builders file for maggma's ``mrun``: ``mrun workflows/builders.py`` (from the repo root).

The campaign is ``$LI_CAMPAIGN_DIR`` (default ``./campaign``); its database config picks
the stores (embedded montydb or MongoDB), so no store and no credential is written here.
``li-campaign build`` runs the same builders in the same order.
"""

import os

from li_campaign.builders import all_builders
from li_campaign.db.config import Campaign

__builders__ = all_builders(Campaign(os.environ.get("LI_CAMPAIGN_DIR", "campaign")))
