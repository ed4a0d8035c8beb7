"""`python -m local run VIDEO [VIDEO ...]`: the whole upload -> track -> notify flow locally.

`python -m local up` starts the same stack and keeps it running until Ctrl-C, so the `motflow`
command (submit, status, list, watch, results, retry) can talk to it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from local import discovery
from local.stack import LocalStack, StackError, local_stack
from model_code.progress import TerminalBar, read_progress
from stacks import contract
from stacks.settings import Settings, SettingsError

RESULTS_FOLDER = "results"  # in the working directory, like the run folders


def new_run_dir(root: Path) -> Path:
    """A new, empty run folder under `root`, named by the time and unique even for runs started
    in the same second (``mkdtemp`` creates it atomically)."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Path(tempfile.mkdtemp(prefix=f"{stamp}-", dir=root))


def main(argv: list[str] | None = None) -> int:
    return run(_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """`run` or `up`, from arguments parsed by `add_commands`' parsers."""
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    videos = [Path(video) for video in getattr(args, "videos", [])]
    missing = [str(video) for video in videos if not video.is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        settings = local_settings(args.context, annotate=args.annotate)
    except (ValueError, SettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # Background shells start children with SIGINT ignored; Ctrl-C and kill must both stop us.
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)

    run_dir = new_run_dir(discovery.runs_dir())
    run_name = run_dir.name
    if args.command == "up":
        return serve(args, settings, run_dir)
    results_dir = Path(args.results) if args.results else Path.cwd() / RESULTS_FOLDER / run_name
    started = time.monotonic()
    try:
        print(f"starting the local stack in {run_dir} ...", file=sys.stderr)
        with local_stack(run_dir, settings) as stack:
            print(f"stack ready in {time.monotonic() - started:.1f} s", file=sys.stderr)
            show = sys.stderr.isatty() and not args.quiet
            rows = run_videos(
                stack,
                videos,
                results_dir,
                args.timeout,
                run_name,
                show_progress=show,
                as_lines=not args.json,
            )
    except KeyboardInterrupt:
        print("interrupted: the local stack was stopped", file=sys.stderr)
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
        return 130
    except Exception as error:
        return _stack_failed(error, run_dir)
    if not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    else:
        print(f"run state kept in {run_dir}", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, default=str), flush=True)
    _print_locations(rows)
    timed_out = [row["key"] for row in rows if row.get("timed_out")]
    if timed_out:
        print(
            f"error: {len(timed_out)} job(s) not finished after {args.timeout:.0f} s: "
            + ", ".join(timed_out),
            file=sys.stderr,
        )
        return 1
    return 0


def serve(args: argparse.Namespace, settings: Settings, run_dir: Path) -> int:
    """Run the local stack until interrupted; `motflow` finds it through its discovery file."""
    try:
        print(f"starting the local stack in {run_dir} ...", file=sys.stderr)
        with local_stack(run_dir, settings) as stack:
            print(
                f"local stack ready: s3://{stack.resources.input_bucket}/"
                f"{settings.input_prefix} (AWS at {stack.aws_endpoint_url}); "
                "use `motflow submit VIDEO` in another terminal, Ctrl-C stops it",
                file=sys.stderr,
                flush=True,
            )
            while True:
                stack.check_alive()
                # No long poll: a request in flight when Ctrl-C stops the stack is a broken pipe.
                print_notifications(stack, as_json=args.json, wait_s=0)
                time.sleep(2.0)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    except Exception as error:
        return _stack_failed(error, run_dir)
    if not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return 0


def print_notifications(stack: LocalStack, *, as_json: bool, wait_s: int) -> int:
    """Print each user notification published since the last call (waiting up to `wait_s` for
    one): its JSON body on stdout with `as_json`, else its subject and text on stderr."""
    sqs = stack.client("sqs")
    url = stack.resources.console_queue_url
    reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s)
    messages = reply.get("Messages", [])
    for message in messages:
        envelope = json.loads(message["Body"])
        if as_json:
            print(envelope["Message"], flush=True)
        else:
            body = json.loads(envelope["Message"])
            print(f"notification: {envelope.get('Subject', '')}", file=sys.stderr)
            print(f"  {body.get('text', '')}".replace("\n", "\n  "), file=sys.stderr, flush=True)
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return len(messages)


@contextlib.contextmanager
def progress_bar(stack: LocalStack, job_ids: list[str], enabled: bool) -> Iterator[None]:
    """While the block runs, draw the progress the running job's container reports."""
    if not enabled:
        yield
        return
    stop = threading.Event()
    bar = TerminalBar(sys.stderr)
    s3 = stack.client("s3")

    def draw() -> None:
        while not stop.wait(1.0):
            for job_id in job_ids:
                record = stack.job(job_id) or {}
                if record.get("status") != stack.jobs.QUEUED:
                    continue
                report = None
                with contextlib.suppress(Exception):
                    prefix = contract.results_prefix(job_id)
                    report = read_progress(s3, stack.resources.work_bucket, prefix)
                if report:
                    bar(report)
                    break

    thread = threading.Thread(target=draw, name="progress-bar", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        bar.close()


def upload_key(prefix: str, run_name: str, index: int, video: Path) -> str:
    """A key no other upload of this run shares: two files with one base name, or one file given
    twice, become separate uploads (and separate jobs); the base name is kept."""
    return f"{prefix}{run_name}/{index:03d}/{video.name}"


def run_videos(
    stack: LocalStack,
    videos: list[Path],
    results_dir: Path,
    timeout_s: float,
    run_name: str = "run",
    show_progress: bool = False,
    as_lines: bool = True,
) -> list[dict[str, Any]]:
    """Upload every video, wait for every job, print one JSON line each (unless `as_lines` is
    false: the caller prints the rows), download results.

    A job still running at the timeout gets a row with its current status and ``"timed_out":
    true``; the rows of the jobs that finished are printed all the same.
    """
    uploads = []
    for index, video in enumerate(videos, start=1):
        key = upload_key(stack.settings.input_prefix, run_name, index, video)
        key, job_id = stack.upload(video, key)
        uploads.append((key, job_id, time.monotonic()))
        print(f"uploaded {video} -> s3://{stack.resources.input_bucket}/{key}", file=sys.stderr)
    finished_at: dict[str, float] = {}
    job_ids = [job_id for _, job_id, _ in uploads]
    with progress_bar(stack, job_ids, show_progress):
        records = stack.wait_terminal(job_ids, timeout_s, finished_at, partial=True)
    rows = []
    for key, job_id, uploaded_at in uploads:
        record = records.get(job_id) or stack.job(job_id) or {}
        done = job_id in records
        files = stack.download_results(job_id, results_dir / job_id) if done else []
        row = {
            "key": key,
            "job_id": job_id,
            "status": record.get("status", "NO RECORD"),
            "reason": record.get("reason"),
            "warnings": record.get("warnings", []),
            "outputs": record.get("outputs"),
            "seconds": round((finished_at[job_id] if done else time.monotonic()) - uploaded_at, 1),
            "local_results": [str(path) for path in files],
        }
        if not done:
            row["timed_out"] = True
        if as_lines:
            print(json.dumps(row, default=str), flush=True)
        rows.append(row)
    return rows


def local_settings(context: list[str], *, annotate: bool) -> Settings:
    """Deployment settings from `KEY=VALUE` pairs (as `cdk -c`), annotating unless told not to."""
    values: dict[str, Any] = {"annotate": annotate}
    for pair in context:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--context expects KEY=VALUE, got {pair!r}")
        values[name.strip()] = value
    return Settings.from_context(values)


def _print_locations(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        paths = {Path(path).name: path for path in row["local_results"]}
        if "tracks.txt" not in paths:
            print(f"{row['key']}: {row['status']}, no tracks ({row['reason']})", file=sys.stderr)
            continue
        print(f"tracks ({row['key']}): {paths['tracks.txt']}", file=sys.stderr)
        if "tracks.json" in paths:
            print(f"  {_track_overview(Path(paths['tracks.json']))}", file=sys.stderr)
        if "annotated.mp4" in paths:
            print(f"annotated video ({row['key']}): {paths['annotated.mp4']}", file=sys.stderr)


def _track_overview(tracks_json: Path) -> str:
    """One line a person can check at a glance: each id, its label and the frames it spans."""
    tracks = json.loads(tracks_json.read_text(encoding="utf-8"))["tracks"]
    spans = "; ".join(
        f"id {t['id']} {t['label']} frames {t['first_frame']}-{t['last_frame']}" for t in tracks
    )
    return f"{len(tracks)} track(s): {spans}" if tracks else "no tracks"


def _stack_failed(error: Exception, run_dir: Path) -> int:
    kind = "" if isinstance(error, StackError) else f"{type(error).__name__}: "
    print(f"error: the local stack failed: {kind}{error}", file=sys.stderr)
    print(f"run state (logs) kept in {run_dir}", file=sys.stderr)
    return 1


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    add_commands(parser)
    return parser


def add_commands(parser: argparse.ArgumentParser) -> None:
    """`run` and `up` under `parser`: `python -m local` and `motflow local` share them."""
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start the local stack and track the given videos")
    run.add_argument("videos", nargs="+", metavar="VIDEO", help="video files to upload")
    run.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for all jobs")
    run.add_argument("--results", help="folder for downloaded results (default results/<run>/)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    up = commands.add_parser("up", help="start the local stack and keep it running (Ctrl-C stops)")
    for command in (run, up):
        command.add_argument("-v", "--verbose", action="store_true", help="log each step")
        command.add_argument(
            "--keep", action="store_true", help="keep .local-runs/<run>/ (logs, model)"
        )
        command.add_argument(
            "--no-annotate",
            dest="annotate",
            action="store_false",
            help="skip the annotated video (written by default for local runs)",
        )
        command.add_argument(
            "-c",
            "--context",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a deployment setting, as with `cdk -c` (e.g. -c stride=2); repeatable",
        )
        command.add_argument(
            "--json",
            action="store_true",
            help="stdout is JSON only: run prints one array of job rows, up one line per"
            " notification",
        )


if __name__ == "__main__":
    sys.exit(main())
