"""``li-campaign``: init, submit, run, launch, status, recover, build, report, db.

Every command works on one campaign directory (``--campaign-dir``, default
``$LI_CAMPAIGN_DIR`` or ``./campaign``). Errors that a user can fix (bad spec, unknown
facet, missing model file, unreachable database) print one message naming the field or
file and exit with status 2; nothing half-done is stored. Commands that change the
campaign (init, submit, run, launch, recover, build) first check that they can write
all of it, so a read-only campaign is refused before anything is written.

Each command imports its own modules when it runs (every one of them imports pydantic, some
the ML stack), so ``li-campaign --help``, ``--version`` and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from li_campaign import __version__
from li_campaign.core.errors import InputError, LiCampaignError


def _campaign(args, writes: bool = False):
    """Open the campaign; a command that ``writes`` first checks that it can write all of it."""
    # deferred: heavy (pydantic, yaml)
    from li_campaign.db.config import Campaign

    campaign = Campaign(args.campaign_dir)
    if writes:
        campaign.require_writable(args.command)
    return campaign


def cmd_init(args) -> int:
    # deferred: heavy (pydantic, yaml)
    from li_campaign.db.config import Campaign, DbConfig
    from li_campaign.db.launchpad import initialise_launchpad

    config = DbConfig.from_file(args.db) if args.db else DbConfig()
    campaign = Campaign.create(args.campaign_dir, config)
    created = initialise_launchpad(campaign)
    state = "initialised" if created else "already initialised (nothing reset)"
    print(f"campaign {campaign.root}: {config.mode} database {state}")
    return 0


def cmd_submit(args) -> int:
    # deferred: heavy (pydantic, yaml)
    from li_campaign.schemas.spec import load_spec

    spec = load_spec(args.spec)
    campaign = _campaign(args, writes=True)
    # the flow modules import the ML stack (seconds): only once the spec and campaign are usable
    from li_campaign.launch.submit import submit_flow
    from li_campaign.flows.campaign import CampaignMaker

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
    # deferred: heavy (pydantic, yaml)
    from li_campaign.launch.runner import run_workers

    campaign = _campaign(args, writes=True)
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers {args.workers}: at least one worker is needed")
    workers = args.workers or (1 if args.gpus is not None else os.cpu_count() or 1)
    summary = run_workers(
        campaign, n_workers=workers, max_launches=args.max_jobs, progress=not args.no_progress,
        gpus=args.gpus, category=args.category, staged=args.staged,
    )
    if summary.gpus is not None:
        print(f"workers pinned to GPUs: {','.join(summary.gpus) or 'none (CPU workers)'}")
    print(f"ran {summary.launched} jobs: {summary.completed} completed, {len(summary.fizzled)} failed; states {summary.states}")
    for line in summary.fizzled:
        print(f"  failed: {line}")
    for line in summary.not_run:
        print(f"  not run here: {line}")
    if summary.fizzled:
        print("  `li-campaign status` shows the reasons")
    return 1 if summary.fizzled else 0


def cmd_launch(args) -> int:
    # deferred: heavy (pydantic, yaml)
    from li_campaign.launch.queue import launch_nodes_to_queue, launch_to_queue, load_fworker, load_qadapter

    summary = (launch_nodes_to_queue if args.per_node else launch_to_queue)(
        _campaign(args, writes=True),
        load_fworker(args.fworker),
        load_qadapter(args.qadapter),
        max_queued=args.max_queued,
        sleep_s=args.sleep,
        once=args.once,
        timeout_s=args.timeout,
    )
    what = "node jobs" if args.per_node else "batch jobs"
    print(f"submitted {summary.submitted} {what}, {summary.completed} completed; stopped: {summary.reason_stopped}")
    for item in summary.lost:
        print(f"  lost: fw {item['fw_id']} {item['name']}: {item['reason']}")
    for reason in summary.not_staged:
        print(f"  failed, inputs not staged: {reason}")
    return 1 if summary.lost or summary.not_staged else 0


def cmd_recover(args) -> int:
    # deferred: heavy (pydantic, yaml)
    from li_campaign.launch.recover import recover_campaign

    summary = recover_campaign(_campaign(args, writes=True), queue=args.queue)
    print(f"recovered {summary.completed} finished jobs; {len(summary.rerun)} lost jobs set to run again")
    for item in summary.rerun:
        print(f"  rerun: fw {item['fw_id']} {item['name']}: {item['reason']}")
    return 0


def cmd_status(args) -> int:
    # deferred: heavy (pydantic, yaml)
    from li_campaign.launch.status import campaign_status

    status = campaign_status(_campaign(args), queue=args.queue)
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(f"{status['n_workflows']} workflow(s), {status['n_fireworks']} jobs: "
          + ", ".join(f"{k} {v}" for k, v in status["states"].items()))
    if status["embedded_ceiling_warning"]:
        print(f"WARNING: {status['embedded_ceiling_warning']}")
    for fail in status["failed"]:
        print(f"  FIZZLED fw {fail['fw_id']} {fail['name']}: {fail['reason']}")
    for calc in status["failed_calculations"]:
        print(f"  FAILED calculation {calc['name']} (in {calc['pack']}): {calc['error_type']}: {calc['message']}")
    for lost in status["lost"]:
        print(f"  LOST fw {lost['fw_id']} {lost['name']}: {lost['reason']}")
    if status["lost"]:
        print("  `li-campaign recover` runs lost jobs again")
    if status["queue_error"]:
        print(f"  lost batch jobs unknown: {status['queue_error']}")
    if status["failed_calculations_error"]:
        print(f"  failed calculations inside packs unknown: {status['failed_calculations_error']}")
    if status["invalid_bands"]:
        print("NEB bands that give no barrier (left out of the minima):")
        for facet in dict.fromkeys(band["facet"] for band in status["invalid_bands"]):
            print(f"  {facet}:")
            for band in (b for b in status["invalid_bands"] if b["facet"] == facet):
                what = "INVALID" if band["kind"] == "invalid band" else "REJECTED"
                print(f"    {what} {band['path'] + ': ' if band['path'] else ''}{band['reason']}")
    if status["invalid_bands_error"]:
        print(f"  invalid NEB bands unknown: {status['invalid_bands_error']}")
    return 0


def cmd_build(args) -> int:
    # deferred: heavy (maggma, pymongo)
    from li_campaign.builders import run_builders

    counts = run_builders(_campaign(args, writes=True))
    for name, n in counts.items():
        print(f"{name}: processed {n}")
    return 0


def cmd_report(args) -> int:
    # deferred: heavy (matplotlib, pymatgen, scipy)
    from li_campaign.db.config import check_writable_path
    from li_campaign.report import collect_report, write_report

    campaign = _campaign(args)
    if args.json:
        report = collect_report(campaign, args.model)
        report.pop("parity", None)  # plot data; in report.json of the report folder
        for key in ("phonon_band", "phonon_dos"):
            (report["bulk"] or {}).pop(key, None)
        print(json.dumps(report, indent=2))
        return 0
    out = Path(args.out) if args.out else campaign.root / "report"
    check_writable_path(out, "report")
    path = write_report(campaign, out, args.model)
    print(f"report written to {path}")
    return 0


def cmd_db_check(args) -> int:
    # deferred: heavy (pydantic, yaml)
    from li_campaign.db.check import check_database

    report = check_database(_campaign(args))
    for key, value in report.items():
        print(f"{key}: {value}")
    return 0


def cmd_db_verify(args) -> int:
    # deferred: heavy (jobflow, maggma, pymongo)
    from li_campaign.db.verify import verify_campaign

    problems = verify_campaign(_campaign(args))
    for problem in problems:
        print(f"PROBLEM {problem}")
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 1
    print("verified: every result's model is registered, every model file matches its sha256, "
          "every structure result has its structure hash, no document over the size limit")
    return 0


def cmd_db_migrate(args) -> int:
    # deferred: heavy (pydantic, pymongo)
    from li_campaign.db.config import DbConfig
    from li_campaign.db.migrate import migrate_campaign

    config = DbConfig.from_file(args.to)
    source = _campaign(args)
    report = migrate_campaign(source, config, args.target_dir, merge=args.merge, progress=print)
    print("\n".join(report.summary_lines()))
    if not report.ok:
        print("migration NOT verified: the parts marked MISMATCH (or the firework states) differ in the target",
              file=sys.stderr)
        return 1
    print(f"verified: every copied document and model file is in the target with its sha256; "
          f"continue with `li-campaign --campaign-dir {args.target_dir} run` (the source is unchanged)")
    return 0


def cmd_db_init(args) -> int:
    # deferred: heavy (pydantic, pymongo)
    from li_campaign.db.indexes import init_database_indexes

    campaign = _campaign(args)
    if campaign.mode == "embedded":
        print(
            f"campaign {campaign.root}: embedded database (montydb) keeps no secondary or unique indexes; "
            "nothing to create. Every write is an upsert on the store's key (job outputs: uuid + index, "
            "derived collections: their key), so results stay unique."
        )
        return 0
    results = init_database_indexes(campaign)
    for result in results:
        unique = " unique" if result.spec.unique else ""
        print(f"{result.status:8s} {result.spec.collection}: {result.spec.name}{unique}")
    n_new = sum(result.status != "exists" for result in results)
    print(f"{n_new} index(es) created or replaced, {len(results) - n_new} already present")
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
    p.add_argument("-n", "--workers", type=int, default=None,
                   help="parallel workers (default: cores; with --gpus: one per GPU, or 1 when no GPU is selected)")
    p.add_argument("--gpus", default=None, metavar="auto|N|0,2",
                   help="pin one worker to each GPU: auto = all visible (CUDA_VISIBLE_DEVICES, else nvidia-smi), "
                        "N = the first N, or a list of ids; 0 or none visible: CPU workers")
    p.add_argument("--category", default=None, help="only run jobs of this category (gpu: model jobs, cpu: DFT)")
    p.add_argument("--max-jobs", type=int, default=None, help="stop after starting this many jobs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--staged", action="store_true",
                   help="workers open no database: inputs are written into each launch folder when the job is "
                        "reserved, outputs inserted when it is read back (as a staged batch worker)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("launch", help="keep a SLURM/PBS queue fed with jobs (qlaunch with the campaign's lock)")
    p.add_argument("--fworker", required=True, help="FireWorks worker file, e.g. launchers/fworker_cpu.yaml")
    p.add_argument("--qadapter", required=True, help="FireWorks queue adapter, e.g. launchers/qadapter_slurm_cpu.yaml")
    p.add_argument("--max-queued", type=int, default=20, help="most batch jobs queued or running at once (default 20)")
    p.add_argument("--sleep", type=float, default=30.0, help="seconds between queue checks (default 30)")
    p.add_argument("--once", action="store_true", help="one round only (for cron)")
    p.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--per-node", action="store_true",
                   help="submit node jobs that each run `li-campaign run --gpus auto --category <fworker category>` "
                        "(one worker per GPU of the node) instead of one batch job per job; --max-queued counts nodes")
    p.set_defaults(func=cmd_launch)

    p = sub.add_parser("status", help="job counts by state, why jobs failed, lost jobs, NEB bands without a barrier")
    p.add_argument("--json", action="store_true")
    p.add_argument("--queue", choices=["slurm", "pbs"], help="batch system (default: detected)")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("recover", help="read back finished batch jobs; run jobs of dead workers again")
    p.add_argument("--queue", choices=["slurm", "pbs"], help="batch system (default: detected)")
    p.set_defaults(func=cmd_recover)

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
    c = dbsub.add_parser("init", help="create the MongoDB indexes (idempotent; nothing to do when embedded)")
    c.set_defaults(func=cmd_db_init)
    c = dbsub.add_parser("verify", help="check results, model files and document sizes; exit 1 naming each problem")
    c.set_defaults(func=cmd_db_verify)
    c = dbsub.add_parser(
        "migrate",
        help="copy this campaign (LaunchPad, JobStore, derived collections, model files) into another database "
             "(e.g. embedded into MongoDB), verify counts and hashes; the source is only read",
    )
    c.add_argument("--to", required=True, help="database config of the target (db_config/*.yaml)")
    c.add_argument("--target-dir", required=True,
                   help="campaign directory of the target: a new or empty folder, or a campaign initialised with --to")
    c.add_argument("--merge", action="store_true",
                   help="add to a target that already holds a campaign (ids shifted, its documents kept)")
    c.set_defaults(func=cmd_db_migrate)
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
