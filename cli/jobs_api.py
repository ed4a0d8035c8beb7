"""What the job commands do against a `Target`: submit, read, list, download, retry.

The job record is the jobs table's; the displayed state adds one thing the table does not hold:
a QUEUED job whose container has written ``results/<job_id>/progress.json`` is shown RUNNING,
with that progress (docs/ARCHITECTURE.md, Job states).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cli.errors import CliError
from cli.target import Target
from lambdas import job_core
from model_code.progress import PROGRESS_JSON, read_progress
from stacks import contract

RUNNING = "RUNNING"
DISPLAY_STATES = (
    job_core.QUEUED,
    RUNNING,
    job_core.SUCCEEDED,
    job_core.FAILED,
    job_core.REJECTED,
)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@contextlib.contextmanager
def aws_errors(target: Target, what: str, fixes: Mapping[str, str] | None = None) -> Iterator[None]:
    """AWS failures become one-line CliErrors naming what was being done; `fixes` gives the
    advice for error codes whose cause is the caller's input rather than the stack."""
    try:
        yield
    except ClientError as error:
        details = error.response.get("Error", {})
        code, message = details.get("Code", "error"), details.get("Message", "")
        if fixes and code in fixes:
            fix = fixes[code]
        elif code in ("AccessDenied",):
            fix = "check your AWS permissions and the stack"
        else:
            fix = "check the stack (`motflow list` reaches it), or redeploy"
        cause = f"{what} failed on {target.description}: {code} {message}".strip()
        raise CliError(cause, fix) from None
    except BotoCoreError as error:
        raise CliError(
            f"{what} failed: {target.description} is unreachable ({error})",
            "check the stack is running (local: `motflow local up`) and your network",
        ) from None


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` texts (``tracker.KEY=VALUE`` for tracker settings) as checked options."""
    texts: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise CliError(f"--option expects KEY=VALUE, got {pair!r}", "e.g. --option stride=2")
        texts[name.strip()] = value
    try:
        return job_core.parse_options(texts)
    except job_core.OptionError as error:
        if str(error).startswith("unknown option"):
            raise CliError(str(error), "check the spelling") from None
        raise CliError(str(error), "e.g. --option stride=2 --option classes=person,car") from None


def check_for_target(target: Target, options: Mapping[str, Any]) -> None:
    """Options the stack's deployment cannot run (a class its detector does not have, another
    detector, a tracker setting above its bound) are refused before anything is uploaded, by
    the check submit runs. Without the deployment's facts, submit does it (a REJECTED job)."""
    if not target.deployment:
        return
    try:
        job_core.check_for_deployment(
            options,
            target.deployment.get("job_options") or {},
            bool(target.deployment.get("trained_classes")),
        )
    except job_core.OptionError as error:
        raise CliError(str(error), "fix the option; nothing was uploaded") from None


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        raise CliError(f"--since expects a duration like 30m, 6h or 7d, got {text!r}", "e.g. 2h")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def _store(target: Target) -> job_core.JobStore:
    return job_core.store(target.jobs_table, target.client("dynamodb"))


def get_record(target: Target, job_id: str) -> dict[str, Any] | None:
    with aws_errors(target, "reading the job"):
        return _store(target).get(job_id)


def require_record(target: Target, job_id: str) -> dict[str, Any]:
    record = get_record(target, job_id)
    if record is None:
        raise CliError(
            f"no job {job_id} on {target.description}",
            "check the id with `motflow list`; a job just submitted appears within seconds",
        )
    return record


def get_progress(target: Target, job_id: str) -> dict[str, Any] | None:
    """The progress the job's container last reported, or None."""
    s3 = target.client("s3")
    with aws_errors(target, "reading the job's progress"):
        return read_progress(s3, target.work_bucket, contract.results_prefix(job_id))


def segment_counts(target: Target, record: Mapping[str, Any]) -> dict[str, int] | None:
    """How far a long video's segments are: {total, succeeded, failed}; None for other jobs."""
    ids = record.get("segments") or []
    if not ids:
        return None
    with aws_errors(target, "reading the segments' records"):
        found = _store(target).get_many(ids)
    states = [found.get(job_id, {}).get("status") for job_id in ids]
    failed = sum(1 for state in states if state in (job_core.FAILED, job_core.REJECTED))
    return {"total": len(ids), "succeeded": states.count(job_core.SUCCEEDED), "failed": failed}


def display_state(
    record: Mapping[str, Any],
    progress: Mapping[str, Any] | None,
    segments: Mapping[str, int] | None = None,
) -> str:
    status = str(record.get("status"))
    started = progress is not None or bool(segments and segments["succeeded"])
    return RUNNING if status == job_core.QUEUED and started else status


def job_view(
    record: Mapping[str, Any],
    progress: Mapping[str, Any] | None,
    segments: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """What `status`, `watch` and `list` show about a job."""
    state = display_state(record, progress, segments)
    view = {
        "job_id": record["job_id"],
        "status": state,
        "reason": record.get("reason"),
        "tag": record.get("tag"),
        "video": record.get("video"),
        "options": record.get("options") or {},
        "created_at": record.get("created_at"),
        "updated_at": record.get("updated_at"),
        "completed_at": record.get("completed_at"),
        "attempt": record.get("attempt", 1),
        "retry_of": record.get("retry_of"),
        "progress": dict(progress) if state == RUNNING and progress else None,
        "counts": record.get("counts") or {},
        "timings": record.get("timings") or {},
        "outputs": record.get("outputs") or {},
        "warnings": list(record.get("warnings") or []),
        "segments": dict(segments) if segments else None,
    }
    return view


def job(target: Target, job_id: str) -> dict[str, Any]:
    record = require_record(target, job_id)
    queued = record.get("status") == job_core.QUEUED
    progress = get_progress(target, job_id) if queued else None
    return job_view(record, progress, segment_counts(target, record) if queued else None)


def list_jobs(
    target: Target, status: str | None, since: timedelta | None, limit: int
) -> list[dict[str, Any]]:
    """Newest first, through the ``by_status`` index, at most `limit` jobs."""
    wanted = [status] if status else list(DISPLAY_STATES)
    stored = sorted({job_core.QUEUED if s == RUNNING else s for s in wanted}, key=wanted.index)
    cutoff = None if since is None else job_core.timestamp(datetime.now(UTC) - since)
    found: list[dict[str, Any]] = []
    store = _store(target)
    with aws_errors(target, "listing jobs"):
        for stored_status in stored:
            found.extend(store.list_jobs(stored_status, limit, since=cutoff, newest_first=True))
    found.sort(key=lambda r: str(r.get(job_core.STATUS_INDEX_SORT, "")), reverse=True)
    views = []
    for record in found:
        if record.get("parent"):
            continue  # a long video's segment: its parent is the user's job
        progress = None
        if record.get("status") == job_core.QUEUED and (
            status is None or status in (RUNNING, job_core.QUEUED)
        ):
            progress = get_progress(target, record["job_id"])
        view = job_view(record, progress)
        if status is None or view["status"] == status:
            views.append(view)
        if len(views) >= limit:
            break
    return views


def _upload_key(target: Target, name: str) -> str:
    return f"{target.input_prefix}{name}"


def read_analytics_spec(path: str) -> dict[str, Any]:
    """An analytics spec file, checked as submit checks it (it travels as upload metadata)."""
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise CliError(
            f"cannot read the analytics spec {path}: {error.strerror}", "check the path"
        ) from None
    except json.JSONDecodeError as error:
        raise CliError(
            f"the analytics spec {path} is not valid JSON ({error.msg})", "fix it"
        ) from None
    try:
        return job_core.validate_analytics_spec(spec)
    except job_core.OptionError as error:
        raise CliError(str(error), "fix the analytics spec") from None


def submit(
    target: Target, source: str, options: Mapping[str, Any], tag: str | None
) -> tuple[str, str]:
    """Upload a local file (or copy an S3 object) into the input prefix; (key, job id)."""
    try:
        metadata = job_core.to_metadata(options, tag)
    except job_core.OptionError as error:
        raise CliError(str(error), "pass fewer or shorter options") from None
    s3 = target.client("s3")
    if source.startswith("s3://"):
        try:
            bucket, key = job_core.split_s3_uri(source)
        except ValueError:
            raise CliError(f"{source!r} is not an S3 object URI", "use s3://bucket/key") from None
        target_key = _upload_key(target, key.rsplit("/", 1)[-1])
        source_fixes = {
            "NoSuchBucket": f"check the bucket in {source}: it does not exist or you cannot see it",
            "NoSuchKey": f"check the key in {source}: there is no such object",
            "404": f"check {source}: there is no such object",
        }
        with aws_errors(target, f"copying {source}", source_fixes):
            reply = s3.copy_object(
                Bucket=target.input_bucket,
                Key=target_key,
                CopySource={"Bucket": bucket, "Key": key},
                Metadata=metadata,
                MetadataDirective="REPLACE",
            )
        etag = reply.get("CopyObjectResult", {}).get("ETag")
    else:
        path = check_source(source)
        target_key = _upload_key(target, path.name)
        with aws_errors(target, f"uploading {path.name}"), path.open("rb") as body:
            reply = s3.put_object(
                Bucket=target.input_bucket, Key=target_key, Body=body, Metadata=metadata
            )
        etag = reply.get("ETag")
    version = reply.get("VersionId") or job_core.normalise_etag(etag)
    return target_key, job_core.job_id_for(target.input_bucket, target_key, version)


def check_source(source: str) -> Path:
    """A local source that is a readable file (an ``s3://`` URI is checked when copied)."""
    path = Path(source)
    if source.startswith("s3://") or path.is_file():
        return path
    if path.is_dir():
        raise CliError(
            f"{source} is a folder, not a video file",
            "pass one video file (submit each file of a folder separately) or an s3:// URI",
        )
    raise CliError(f"no such file: {source}", "pass a video file or an s3:// URI")


def retry_options(record: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """A retry's options: the job's own with `options` on top (tracker settings one by one)."""
    return job_core.merge_options(record.get("options") or {}, options)


def retry(target: Target, record: Mapping[str, Any], options: Mapping[str, Any]) -> str:
    """Copy exactly the job's uploaded version onto its key with the options: a new job."""
    bucket, key, version = record.get("bucket"), record.get("key"), record.get("version_id")
    if not bucket or not key:
        raise CliError(f"job {record['job_id']} names no upload", "submit the video again")
    s3 = target.client("s3")
    source: dict[str, str] = {"Bucket": bucket, "Key": key}
    if version:
        source["VersionId"] = version
    merged = retry_options(record, options)
    try:
        metadata = job_core.to_metadata(merged, record.get("tag"), retry_of=record["job_id"])
    except job_core.OptionError as error:
        raise CliError(str(error), "pass fewer or shorter options") from None
    with aws_errors(target, f"copying {key} for a retry"):
        reply = s3.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource=source,
            Metadata=metadata,
            MetadataDirective="REPLACE",
        )
    etag = reply.get("CopyObjectResult", {}).get("ETag")
    new_version = reply.get("VersionId") or job_core.normalise_etag(etag)
    return job_core.job_id_for(bucket, key, new_version)


def download(target: Target, job_id: str, destination: Path) -> list[Path]:
    """Every object under ``results/<job_id>/`` into `destination`."""
    s3 = target.client("s3")
    prefix = contract.results_prefix(job_id)
    files: list[Path] = []
    with aws_errors(target, "downloading results"):
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=target.work_bucket, Prefix=prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                name = item["Key"][len(prefix) :]
                if not name or "/" in name or name == PROGRESS_JSON:
                    continue
                path = destination / name
                path.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(target.work_bucket, item["Key"], str(path))
                files.append(path)
    return files


def wait_for_record(target: Target, job_id: str, timeout_s: float) -> dict[str, Any]:
    """The job's record once the submit Lambda wrote it."""
    deadline = time.monotonic() + timeout_s
    while True:
        record = get_record(target, job_id)
        if record is not None:
            return record
        if time.monotonic() >= deadline:
            raise CliError(
                f"job {job_id} did not appear within {timeout_s:.0f} s",
                "check that the upload trigger is deployed (or the local stack is up) and the"
                " file is under the input prefix",
            )
        time.sleep(1.0)
