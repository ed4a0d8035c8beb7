"""Scheduled sweeper: no job stays QUEUED forever without a message.

An EventBridge schedule invokes this handler. It lists QUEUED jobs through the ``by_status``
index and, for each one past its deadline:

- invoked, and the endpoint's output or failure object exists (its notification was lost, or
  ``complete`` kept failing): applies that result exactly as ``complete`` would;
- otherwise: fails the job (stage ``timeout``) with a reason, and tells the user.

Deadlines (docs/RELIABILITY.md, "Sweeper"): an invoked job may wait ``REQUEST_TTL_S`` in the
endpoint queue and then run ``INVOCATION_TIMEOUT_S``; a job not yet invoked has had every Lambda
retry of its upload event by ``SWEEP_PENDING_AFTER_S``. ``SWEEP_GRACE_S`` is added to both. The
result objects are checked earlier, from ``SWEEP_GRACE_S`` after the invocation, so a lost
notification costs minutes, not hours. "Now" is the schedule event's ``time``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

try:
    from . import clients, complete, config, jobs, lifecycle, notify, parents, s3_events
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import clients
    import complete
    import config
    import jobs
    import lifecycle
    import notify
    import parents
    import s3_events

log = logging.getLogger("motflow.sweeper")
log.setLevel(logging.INFO)

SWEPT_STATUSES = (jobs.QUEUED,)
_MISSING = {"404", "NoSuchKey", "NotFound"}


class SweepError(RuntimeError):
    """Some jobs could not be swept; raised after all others were handled."""


@dataclass(frozen=True)
class Swept:
    job_id: str
    action: str  # result-applied | timed-out | waiting | changed | a parent's (parents.py)


def parse_schedule_time(event: dict[str, Any]) -> float:
    """Epoch seconds of an EventBridge scheduled event; ValueError for any other envelope."""
    if not isinstance(event, dict) or event.get("source") != "aws.events":
        raise ValueError("not an EventBridge scheduled event (source is not aws.events)")
    if event.get("detail-type") != "Scheduled Event":
        raise ValueError(f"not a scheduled event: detail-type {event.get('detail-type')!r}")
    try:
        stamp = datetime.strptime(str(event["time"]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (KeyError, ValueError):
        raise ValueError(f"scheduled event without a valid time: {event.get('time')!r}") from None
    return stamp.timestamp()


def _epoch(stamp: str) -> float:
    """Epoch seconds of a record timestamp (``jobs.utc_now`` format)."""
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point for the EventBridge schedule."""
    now = parse_schedule_time(event)
    settings = config.SweeperSettings.from_env()
    store = jobs.JobStore(settings.jobs_table)
    swept: list[Swept] = []
    failures: list[str] = []
    for status in SWEPT_STATUSES:
        for record in store.list_jobs(status):
            try:
                swept.append(sweep_job(record, now, settings, store))
            except Exception as error:
                log.exception("could not sweep job %s", record.get("job_id"))
                failures.append(f"{record.get('job_id')}: {type(error).__name__}: {error}")
    if failures:
        raise SweepError(f"{len(failures)} job(s) not swept: " + "; ".join(failures))
    return {"jobs": [asdict(item) for item in swept if item.action != "waiting"]}


def sweep_job(
    record: dict[str, Any], now: float, settings: config.SweeperSettings, store: jobs.JobStore
) -> Swept:
    """Apply a finished result, or time the job out, or leave it (still within its deadline)."""
    job_id = record["job_id"]
    phase = lifecycle.phase_of(record)
    if record.get("segments") and phase == lifecycle.INVOKED and "stitch_invoked_at" not in record:
        # A long video's parent whose segments were all handed over has no deadline of its own
        # until its stitch is requested: its segments do, and one that fails or times out fails
        # the parent. (Not handed over yet: the ordinary PENDING deadline below.)
        return Swept(job_id, parents.advance(store, job_id, settings))
    if phase == lifecycle.INVOKED:
        invoked = _epoch(record["invoked_at"])
        if now >= invoked + settings.grace_s:
            result = _finished_result(record)
            if result is not None:
                outcome = complete.apply_result(
                    result, store, settings.notify_topic_arn, retries=False, invoke=settings
                )
                log.warning("job %s: applied a result whose notification was lost", job_id)
                applied = outcome.action != "duplicate"
                return Swept(job_id, "result-applied" if applied else "changed")
        deadline = invoked + settings.request_ttl_s + settings.invocation_timeout_s
        reason = (
            "The tracking service accepted the job but reported no result within"
            f" {_minutes(deadline - invoked)}. Upload the video again."
        )
    elif phase == lifecycle.PENDING:
        # From the last change, not the upload: a retried attempt is PENDING again later.
        deadline = _epoch(record["updated_at"]) + settings.pending_after_s
        last_error = record.get("last_submit_error")
        reason = (
            "The job could not be handed to the tracking service within"
            f" {_minutes(settings.pending_after_s)}"
            + (f" (last answer: {last_error})" if last_error else "")
            + ". Upload the video again."
        )
    else:
        return Swept(job_id, "changed")
    if now < deadline + settings.grace_s:
        return Swept(job_id, "waiting")
    if store.time_out(job_id, reason, record["updated_at"]):
        log.warning("job %s timed out in phase %s", job_id, phase)
        if record.get("parent"):
            parents.advance(store, record["parent"], settings)
        else:
            notify.tell_user_once(store, settings.notify_topic_arn, job_id)
        return Swept(job_id, "timed-out")
    return Swept(job_id, "changed")


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _finished_result(record: dict[str, Any]) -> complete.InferenceResult | None:
    """The endpoint's result for the job if its output or failure object exists."""
    job_id = record["job_id"]
    output = record.get("inference_output")
    failure = record.get("inference_failure")
    if output and _exists(output):
        return complete.InferenceResult(
            job_id, True, "Completed", output, None, None, jobs.attempt_of(record)
        )
    if failure and _exists(failure):
        return complete.InferenceResult(
            job_id,
            False,
            "Failed",
            None,
            failure,
            "ClientError: Received server error",
            jobs.attempt_of(record),
        )
    return None


def _exists(uri: str) -> bool:
    bucket, key = s3_events.split_s3_uri(uri)
    try:
        clients.client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code")) in _MISSING:
            return False
        raise
    return True
