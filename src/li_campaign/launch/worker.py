"""Run one reserved FireWorks launch offline (``python -m li_campaign.launch.worker LAUNCH_DIR``).

The worker never opens the LaunchPad: it runs the firework in ``FW.json`` with
FireWorks' offline ``Rocket`` and writes ``FW_offline.json``, which the runner (or
``lpad recover_offline``) reads back under the lock. Job outputs go straight to the
JobStore, which is built from the campaign config in this process, so no store (and no
credential) is ever serialized into a firework spec.

With ``--staged`` the worker opens no database at all: the job's inputs were resolved when
it was reserved, it runs against :class:`~li_campaign.launch.staging.StagedJobStore` (files in
``staged/`` of the launch folder), and the runner or ``li-campaign launch`` / ``recover``
inserts its outputs into the JobStore (:mod:`li_campaign.launch.staging`).

FireWorks 2.1.4 calls ``monty.io.zopen(path)`` without a mode in offline mode, which
monty >= 2026.7 rejects; :func:`patch_fireworks_zopen` restores the old default ``"rt"``.
"""

from __future__ import annotations

import argparse
import os
import sys

import fireworks.core.rocket as rocket
from fireworks.core.fworker import FWorker
from fireworks.core.rocket import Rocket
from jobflow import SETTINGS
from monty.io import zopen

from li_campaign.db.config import Campaign
from li_campaign.launch.staging import StagedJobStore


def patch_fireworks_zopen() -> None:
    """Make FireWorks' offline rocket work with monty >= 2026.7 (``zopen`` needs a mode)."""

    def zopen_with_default_mode(filename, mode="rt", **kwargs):
        return zopen(filename, mode, **kwargs)

    rocket.zopen = zopen_with_default_mode


def run_offline_launch(launch_dir: str, campaign_dir: str) -> None:
    """Run the firework reserved in ``launch_dir`` with the JobStore of ``campaign_dir``."""
    campaign = Campaign(campaign_dir)
    patch_fireworks_zopen()
    SETTINGS.JOB_STORE = campaign.job_store()
    os.environ["LI_CAMPAIGN_DIR"] = str(campaign.root)
    os.chdir(launch_dir)
    Rocket(launchpad=None, fworker=FWorker(name="li-campaign"), fw_id=None).run()


def run_staged_launch(launch_dir: str, campaign_dir: str) -> None:
    """Run the staged firework of ``launch_dir`` against its local files; no database is opened.

    ``campaign_dir`` is only passed on to the job (``LI_CAMPAIGN_DIR``: the fit writes the
    deployed model into the campaign's ``models`` folder).
    """
    patch_fireworks_zopen()
    SETTINGS.JOB_STORE = StagedJobStore(launch_dir)
    os.environ["LI_CAMPAIGN_DIR"] = os.path.abspath(campaign_dir)
    os.chdir(launch_dir)
    Rocket(launchpad=None, fworker=FWorker(name="li-campaign"), fw_id=None).run()


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m li_campaign.launch.worker [singleshot --offline] [--staged] [--campaign-dir D] [LAUNCH_DIR]``.

    The ``singleshot --offline --fw_id N`` form is what FireWorks' queue launcher writes
    into a batch script (it appends ``--fw_id``); the firework is always the one reserved
    in ``FW.json`` of the launch folder (default: the current directory).
    """
    parser = argparse.ArgumentParser(prog="python -m li_campaign.launch.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("where", nargs="*", metavar="[singleshot] [LAUNCH_DIR]",
                        help="`singleshot` is accepted for FireWorks' queue launcher; LAUNCH_DIR has FW.json (default: .)")
    parser.add_argument("--offline", action="store_true", help="accepted; the worker always runs offline")
    parser.add_argument("--fw_id", type=int, help="accepted; the firework is the one in FW.json")
    parser.add_argument("--staged", action="store_true",
                        help="run against the launch folder's staged inputs; open no database (li_campaign.launch.staging)")
    parser.add_argument("--campaign-dir", default=os.environ.get("LI_CAMPAIGN_DIR", "campaign"))
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    where = [item for item in args.where if item != "singleshot"]
    if len(where) > 1:
        parser.error(f"one launch folder expected, got {where}")
    launch_dir = where[0] if where else "."
    run = run_staged_launch if args.staged else run_offline_launch
    run(os.path.abspath(launch_dir), args.campaign_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
