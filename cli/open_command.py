"""`motflow open JOB`: fetch a finished job's report.html (and the annotated video it links to)
into a folder and open it in the browser.

The report links the annotated video by its file name, next to the page, so both are saved in
one folder: ``--out DIR``, or ``motflow-reports/<JOB>/`` under the current directory (kept, so a
report stays where it was opened; opening again overwrites it).
"""

from __future__ import annotations

import argparse
import os
import sys
import webbrowser
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cli import display, jobs_api, jobs_commands, target
from cli.errors import CliError
from lambdas import job_core

REPORTS_FOLDER = "motflow-reports"


def register(commands: Any) -> None:
    opener = jobs_commands.add_command(
        commands, "open", "fetch a finished job's report.html and open it in the browser"
    )
    opener.add_argument("job_id", metavar="JOB_ID")
    opener.add_argument(
        "--out", metavar="DIR", help=f"save it in DIR (default ./{REPORTS_FOLDER}/JOB_ID)"
    )
    opener.add_argument(
        "--no-browser", action="store_true", help="only fetch it and print where it is"
    )
    opener.set_defaults(run=run_open)


def run_open(args: argparse.Namespace) -> int:
    where = target.resolve(args)
    view = jobs_api.job(where, args.job_id)
    jobs_commands.require_succeeded(view, "report", f"motflow open {args.job_id}")
    folder = Path(args.out) if args.out else Path(REPORTS_FOLDER) / args.job_id
    files = fetch_report(where, args.job_id, view.get("outputs") or {}, folder)
    report = files[0]
    opened = False if args.no_browser or not has_display() else open_page(report)
    if args.json:
        display.emit_json(
            {"job_id": args.job_id, "report": str(report), "files": [str(f) for f in files]}
        )
    else:
        print(report)
    if not args.no_browser and not opened:
        print(f"no browser to open it in; open {report} yourself", file=sys.stderr)
    return 0


def fetch_report(
    where: target.Target, job_id: str, outputs: Mapping[str, str], folder: Path
) -> list[Path]:
    """The job's report.html, then the annotated video when it has one, saved under `folder`
    with their own file names (the report links the video by its name)."""
    report = outputs.get(job_core.REPORT_OUTPUT)
    if not report:
        raise CliError(
            f"job {job_id} has no report.html (a job tracked before reports existed)",
            f"see its outputs with `motflow results {job_id}`, or retry it for a report:"
            f" `motflow retry {job_id}`",
        )
    uris = [report]
    if outputs.get(job_core.ANNOTATED_OUTPUT):
        uris.append(outputs[job_core.ANNOTATED_OUTPUT])
    s3 = where.client("s3")
    folder.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for uri in uris:
        try:
            bucket, key = job_core.split_s3_uri(uri)
        except ValueError:
            raise CliError(
                f"job {job_id} names an output outside S3 ({uri})",
                f"see its outputs with `motflow results {job_id}`",
            ) from None
        path = folder / key.rsplit("/", 1)[-1]
        fixes = {"404": f"the file is gone from {uri}; retry the job: `motflow retry {job_id}`"}
        with jobs_api.aws_errors(where, f"downloading {path.name}", fixes):
            s3.download_file(bucket, key, str(path))
        files.append(path)
    return files


def has_display() -> bool:
    """Whether a browser window can appear: always on macOS and Windows, on other systems
    when an X or Wayland display is set."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_page(path: Path) -> bool:
    """Open `path` in the default browser; False when no browser could be started."""
    return webbrowser.open(path.resolve().as_uri())
