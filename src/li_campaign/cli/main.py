"""``li-campaign``: init, submit, run, status, build, report, db check.

Every command works on one campaign directory (``--campaign-dir``, default
``$LI_CAMPAIGN_DIR`` or ``./campaign``). Errors that a user can fix (bad spec, unknown
facet, missing model file, unreachable database) print one message naming the field or
file and exit with status 2; nothing half-done is stored.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from li_campaign import __version__
from li_campaign.core.errors import InputError, LiCampaignError


def _campaign(args):
    from li_campaign.db.config import Campaign

    return Campaign(args.campaign_dir)


def cmd_init(args) -> int:
    from li_campaign.db.config import Campaign, DbConfig
    from li_campaign.db.launchpad import initialise_launchpad

    config = DbConfig.from_file(args.db) if args.db else DbConfig()
    campaign = Campaign.create(args.campaign_dir, config)
    created = initialise_launchpad(campaign)
    state = "initialised" if created else "already initialised (nothing reset)"
    print(f"campaign {campaign.root}: {config.mode} database {state}")
    return 0


def cmd_submit(args) -> int:
    from li_campaign.db.submit import submit_flow
    from li_campaign.flows.campaign import CampaignMaker
    from li_campaign.schemas.spec import load_spec

    spec = load_spec(args.spec)
    campaign = _campaign(args)
    flow = CampaignMaker(spec=spec).make()
    try:
        fw_ids = submit_flow(campaign, flow, spec.spec_hash(), force=args.force)
    except InputError as exc:
        if args.skip_existing and "already submitted" in str(exc):
            print(f"{args.spec}: already submitted, nothing added")
            return 0
        raise
    print(f"submitted campaign '{spec.name}' from {args.spec}: {len(fw_ids)} jobs (more are added as jobs run)")
    return 0


def cmd_run(args) -> int:
    from li_campaign.db.runner import run_workers

    campaign = _campaign(args)
    summary = run_workers(
        campaign, n_workers=args.workers, max_launches=args.max_jobs, progress=not args.no_progress
    )
    print(f"ran {summary.launched} jobs: {summary.completed} completed, {len(summary.fizzled)} failed; states {summary.states}")
    for line in summary.fizzled:
        print(f"  failed: {line}")
    if summary.fizzled:
        print("  `li-campaign status` shows the reasons")
    return 1 if summary.fizzled else 0


def cmd_status(args) -> int:
    from li_campaign.db.status import campaign_status

    status = campaign_status(_campaign(args))
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(f"{status['n_workflows']} workflow(s), {status['n_fireworks']} jobs: "
          + ", ".join(f"{k} {v}" for k, v in status["states"].items()))
    for fail in status["failed"]:
        print(f"  FIZZLED fw {fail['fw_id']} {fail['name']}: {fail['reason']}")
    return 0


def cmd_build(args) -> int:
    from li_campaign.builders import run_builders

    counts = run_builders(_campaign(args))
    for name, n in counts.items():
        print(f"{name}: processed {n}")
    return 0


def cmd_report(args) -> int:
    from li_campaign.report import collect_report, write_report

    campaign = _campaign(args)
    if args.json:
        report = collect_report(campaign, args.model)
        report.pop("parity", None)  # plot data; in report.json of the report folder
        print(json.dumps(report, indent=2))
        return 0
    out = Path(args.out) if args.out else campaign.root / "report"
    path = write_report(campaign, out, args.model)
    print(f"report written to {path}")
    return 0


def cmd_db_check(args) -> int:
    from li_campaign.db.check import check_database

    report = check_database(_campaign(args))
    for key, value in report.items():
        print(f"{key}: {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``li-campaign``."""
    parser = argparse.ArgumentParser(prog="li-campaign", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"li-campaign {__version__}")
    parser.add_argument(
        "--campaign-dir",
        default=os.environ.get("LI_CAMPAIGN_DIR", "campaign"),
        help="campaign directory (default: $LI_CAMPAIGN_DIR or ./campaign)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="create the campaign directory and its databases")
    p.add_argument("--db", help="database config (db_config/*.yaml); default: embedded")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("submit", help="validate a campaign spec and submit its workflow")
    p.add_argument("spec", help="campaign spec, e.g. workflows/demo.yaml")
    p.add_argument("--force", action="store_true", help="submit even if this spec was submitted before")
    p.add_argument("--skip-existing", action="store_true", help="exit quietly if this spec was submitted before")
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("run", help="run jobs with local workers until none is ready")
    p.add_argument("-n", "--workers", type=int, default=os.cpu_count() or 1, help="parallel workers (default: cores)")
    p.add_argument("--max-jobs", type=int, default=None, help="stop after starting this many jobs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("status", help="job counts by state and why jobs failed")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("build", help="run the maggma builders (derived collections)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("report", help="write the report folder, or print it as JSON")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of writing files")
    p.add_argument("--out", help="report folder (default: <campaign>/report)")
    p.add_argument("--model", help="sha256 of the model to report (default: newest)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("db", help="database commands")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    c = dbsub.add_parser("check", help="say which database mode is active and whether it is reachable")
    c.set_defaults(func=cmd_db_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``li-campaign``."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except LiCampaignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
