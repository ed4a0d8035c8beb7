"""`motflow submit | status | list | results | watch | retry`: jobs on a deployed or local stack
(`motflow open` is `cli/open_command.py`)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from cli import display, jobs_api, target
from cli.errors import CliError
from lambdas import job_core

# How long a job may take to appear after its upload (the submit Lambda runs first).
APPEAR_TIMEOUT_S = 120.0
EXIT_JOB_NOT_SUCCEEDED = 1


def register(commands: Any) -> None:
    submit = add_command(commands, "submit", "upload a video (or copy an S3 object) as a new job")
    submit.add_argument("source", metavar="VIDEO_OR_S3_URI", help="a video file or s3://bucket/key")
    _option_arguments(submit)
    submit.add_argument("--tag", help="a label carried to the record and the notification")
    submit.add_argument(
        "--analytics",
        metavar="SPEC_JSON",
        help="analytics spec JSON (lines, zones, classes, calibration): writes analytics.json",
    )
    _wait_arguments(submit)
    submit.set_defaults(run=run_submit)

    status = add_command(commands, "status", "show one job's state, progress and outputs")
    status.add_argument("job_id", metavar="JOB_ID")
    status.set_defaults(run=run_status)

    listing = add_command(commands, "list", "list jobs, newest first")
    listing.add_argument("--status", type=str.upper, choices=jobs_api.DISPLAY_STATES)
    listing.add_argument("--since", help="only jobs created this long ago or later (30m, 6h, 7d)")
    listing.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    listing.set_defaults(run=run_list)

    results = add_command(
        commands, "results", "show a finished job's outputs, optionally fetch them"
    )
    results.add_argument("job_id", metavar="JOB_ID")
    results.add_argument("--download", metavar="DIR", help="copy the result files into DIR")
    results.set_defaults(run=run_results)

    watch = add_command(commands, "watch", "follow a job to its end with a progress bar")
    watch.add_argument("job_id", metavar="JOB_ID")
    _wait_arguments(watch, flag=False)
    watch.set_defaults(run=run_watch)

    retry = add_command(commands, "retry", "run a job's exact upload again as a new job")
    retry.add_argument("job_id", metavar="JOB_ID")
    _option_arguments(retry)
    _wait_arguments(retry)
    retry.set_defaults(run=run_retry)


def add_command(commands: Any, name: str, summary: str) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=summary, description=summary)
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    target.add_arguments(parser)
    return parser


def _option_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--option",
        "-o",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a job option (stride=2, classes=person,car, annotate=true, tracker.track_buffer_s=2)",
    )


def _wait_arguments(parser: argparse.ArgumentParser, flag: bool = True) -> None:
    if flag:
        parser.add_argument("--wait", action="store_true", help="follow the job to its end")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to follow it")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between checks")


def run_submit(args: argparse.Namespace) -> int:
    jobs_api.check_source(args.source)  # the file before the stack: the cheaper mistake first
    options = jobs_api.parse_options(args.option)
    if args.analytics:
        options = {**options, "analytics": jobs_api.read_analytics_spec(args.analytics)}
    where = target.resolve(args)
    jobs_api.check_for_target(where, options)
    key, job_id = jobs_api.submit(where, args.source, options, args.tag)
    if args.wait:
        _print_start(args, job_id, key)
        return follow(where, job_id, args)
    _print_start(args, job_id, key)
    return 0


def _print_start(args: argparse.Namespace, job_id: str, key: str) -> None:
    if args.json and not getattr(args, "wait", False):
        display.emit_json({"job_id": job_id, "key": key})
    elif not args.json:
        print(job_id)
        print(f"submitted {key}; follow it with `motflow watch {job_id}`", file=sys.stderr)


def run_status(args: argparse.Namespace) -> int:
    view = jobs_api.job(target.resolve(args), args.job_id)
    if args.json:
        display.emit_json(view)
    else:
        print("\n".join(display.status_lines(view)))
    return 0


def run_list(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CliError(f"--limit must be at least 1, got {args.limit}", "e.g. --limit 20")
    since = jobs_api.parse_duration(args.since) if args.since else None
    views = jobs_api.list_jobs(target.resolve(args), args.status, since, args.limit)
    if args.json:
        display.emit_json(views)
    else:
        print("\n".join(display.list_lines(views)))
    return 0


def run_results(args: argparse.Namespace) -> int:
    where = target.resolve(args)
    view = require_succeeded(jobs_api.job(where, args.job_id), "results")
    files = jobs_api.download(where, args.job_id, Path(args.download)) if args.download else []
    if args.json:
        display.emit_json({**view, "downloaded": [str(path) for path in files]})
        return 0
    for name, uri in sorted(view["outputs"].items()):
        print(f"{name:<12}  {uri}")
    for path in files:
        print(f"downloaded    {path}")
    return 0


def require_succeeded(view: dict[str, Any], what: str, then: str = "") -> dict[str, Any]:
    """`view` if its job SUCCEEDED; else a CliError saying its state and what to do: `what` is
    what only a job that succeeded has ("results", "report"), `then` the command to run after."""
    job_id, status = view["job_id"], view["status"]
    if status == job_core.SUCCEEDED:
        return view
    detail = f": {view['reason']}" if view.get("reason") else ""
    if status in job_core.TERMINAL_STATES:
        fix = (
            f"it has no {what}; see why with `motflow status {job_id}`, fix the cause and"
            f" `motflow retry {job_id}`"
        )
    else:
        after = f", then `{then}`" if then else ""
        fix = f"it is not finished: follow it with `motflow watch {job_id}`{after}"
    raise CliError(f"job {job_id} is {status}{detail}", fix)


def run_watch(args: argparse.Namespace) -> int:
    return follow(target.resolve(args), args.job_id, args)


def run_retry(args: argparse.Namespace) -> int:
    options = jobs_api.parse_options(args.option)
    where = target.resolve(args)
    record = jobs_api.require_record(where, args.job_id)
    if record.get("status") not in job_core.TERMINAL_STATES:
        raise CliError(
            f"job {args.job_id} is still {record.get('status')}",
            f"wait for it (`motflow watch {args.job_id}`) before retrying",
        )
    jobs_api.check_for_target(where, jobs_api.retry_options(record, options))
    job_id = jobs_api.retry(where, record, options)
    _print_start(args, job_id, record["key"])
    return follow(where, job_id, args) if args.wait else 0


def follow(where: target.Target, job_id: str, args: argparse.Namespace) -> int:
    """Poll until the job ends; a live bar on a terminal, one line per change otherwise."""
    jobs_api.wait_for_record(where, job_id, APPEAR_TIMEOUT_S)
    live = sys.stderr.isatty() and not args.json
    deadline = time.monotonic() + args.timeout
    shown = None
    while True:
        view = jobs_api.job(where, job_id)
        parts = (
            display.progress_text(view.get("progress")),
            display.segments_text(view.get("segments")),
        )
        line = "  ".join([view["status"], *(part for part in parts if part)])
        if line != shown:
            if args.json:
                display.emit_json(
                    {
                        "job_id": job_id,
                        "status": view["status"],
                        **({"progress": view["progress"]} if view.get("progress") else {}),
                    }
                )
            elif live:
                print(f"\r\033[K{line}", end="", file=sys.stderr, flush=True)
            else:
                print(line, file=sys.stderr, flush=True)
            shown = line
        if view["status"] in job_core.TERMINAL_STATES:
            break
        if time.monotonic() >= deadline:
            raise CliError(
                f"job {job_id} is still {view['status']} after {args.timeout:.0f} s",
                f"keep following it with `motflow watch {job_id}`",
            )
        time.sleep(args.interval)
    if live:
        print(file=sys.stderr)
    # The job's message: the notification its outcome is published as.
    message = job_core.notification(jobs_api.require_record(where, job_id))
    if args.json:
        display.emit_json({**view, **({"notification": message} if message else {})})
    else:
        print("\n".join(display.status_lines(view)))
        if message:
            print("\n".join(display.notification_lines(message)))
    return 0 if view["status"] == job_core.SUCCEEDED else EXIT_JOB_NOT_SUCCEEDED
