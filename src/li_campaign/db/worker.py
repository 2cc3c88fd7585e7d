"""Run one reserved FireWorks launch offline (``python -m li_campaign.db.worker LAUNCH_DIR``).

The worker never opens the LaunchPad: it runs the firework in ``FW.json`` with
FireWorks' offline ``Rocket`` and writes ``FW_offline.json``, which the runner (or
``lpad recover_offline``) reads back under the lock. Job outputs go straight to the
JobStore, which is built from the campaign config in this process, so no store (and no
credential) is ever serialized into a firework spec.

FireWorks 2.1.4 calls ``monty.io.zopen(path)`` without a mode in offline mode, which
monty >= 2026.7 rejects; :func:`patch_fireworks_zopen` restores the old default ``"rt"``.
"""

from __future__ import annotations

import os
import sys


def patch_fireworks_zopen() -> None:
    """Make FireWorks' offline rocket work with monty >= 2026.7 (``zopen`` needs a mode)."""
    import fireworks.core.rocket as rocket
    from monty.io import zopen

    def zopen_with_default_mode(filename, mode="rt", **kwargs):
        return zopen(filename, mode, **kwargs)

    rocket.zopen = zopen_with_default_mode


def run_offline_launch(launch_dir: str, campaign_dir: str) -> None:
    """Run the firework reserved in ``launch_dir`` with the JobStore of ``campaign_dir``."""
    from fireworks.core.fworker import FWorker
    from fireworks.core.rocket import Rocket
    from jobflow import SETTINGS

    from li_campaign.db.config import Campaign

    campaign = Campaign(campaign_dir)
    patch_fireworks_zopen()
    SETTINGS.JOB_STORE = campaign.job_store()
    os.environ["LI_CAMPAIGN_DIR"] = str(campaign.root)
    os.chdir(launch_dir)
    Rocket(launchpad=None, fworker=FWorker(name="li-campaign"), fw_id=None).run()


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m li_campaign.db.worker LAUNCH_DIR [CAMPAIGN_DIR]``."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m li_campaign.db.worker LAUNCH_DIR [CAMPAIGN_DIR]", file=sys.stderr)
        return 2
    campaign_dir = argv[1] if len(argv) > 1 else os.environ.get("LI_CAMPAIGN_DIR", "campaign")
    run_offline_launch(os.path.abspath(argv[0]), campaign_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
