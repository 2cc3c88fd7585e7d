"""``python -m li_campaign.db.worker``: the worker's former path, kept for command lines already written.

Queue adapters (``my_qadapter.yaml`` in a campaign's ``config/``, FireWorks' ``rocket_launch``) and
batch scripts written before the worker moved to :mod:`li_campaign.launch.worker` call it by this
path; it runs the same entry point with the same arguments.
"""

from __future__ import annotations

import sys

from li_campaign.launch.worker import main

if __name__ == "__main__":
    sys.exit(main())
