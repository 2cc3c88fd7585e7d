"""Old home of :mod:`li_campaign.execution.packing`, kept because stored flows name it.

A pack job serializes its function as ``li_campaign.flows.packing.run_pack`` when it was
submitted before the move; FireWorks workers decode it from this module. New code imports
from :mod:`li_campaign.execution.packing`.
"""

from li_campaign.execution.packing import PackMember, pack_jobs, run_pack

__all__ = ["PackMember", "pack_jobs", "run_pack"]
