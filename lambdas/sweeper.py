"""Scheduled sweeper: every record past its deadline gets its phase's way out.

An EventBridge schedule invokes this handler. It queries the sparse ``by_deadline`` index for
records whose deadline has passed (every open record has one, and so has a terminal record whose
message is not sent yet; jobs.JobStore writes them with each transition), reads each one again
and does what its phase calls for:

- terminal, message unsent (the stream's notifier kept failing): sends it, marks it sent;
- terminal, nothing left to do: takes it out of the index;
- PENDING (never handed over): fails it (stage ``timeout``) naming the last answer;
- INVOKED, the endpoint's output or failure object exists (its notification was lost, or
  ``complete`` kept failing): applies that result exactly as ``complete`` would (both call
  ``inference.apply_result``), for the attempt the record is on;
- INVOKED, no object, past ``invoked_at`` + ``DEADLINE_INVOKED_S`` (queue TTL + invocation
  timeout + grace: no result can come any more): fails it (stage ``timeout``);
- INVOKED otherwise: looks again at the next recheck;
- a long video's parent waiting on its segments: moves it on (lambdas/parents.py).

"Now" is the schedule event's ``time``. Every write is conditional on what the sweeper read, so
a record that moved meanwhile is left to its new phase.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

try:
    from . import clients, config, inference, jobs, lifecycle, notify, parents, s3_events
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import clients
    import config
    import inference
    import jobs
    import lifecycle
    import notify
    import parents
    import s3_events

try:
    from . import job_metrics
    from .job_logging import job_context
except ImportError:  # Lambda runtime: modules are top-level
    import job_metrics
    from job_logging import job_context

log = logging.getLogger("motflow.sweeper")
log.setLevel(logging.INFO)

_MISSING = {"404", "NoSuchKey", "NotFound"}


class SweepError(RuntimeError):
    """Some jobs could not be swept; raised after all others were handled."""


@dataclass(frozen=True)
class Swept:
    job_id: str
    # sent | settled | result-applied | timed-out | rechecking | changed | a parent's (parents.py)
    action: str


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
    store = jobs.JobStore(settings.jobs_table, deadlines=settings.deadlines)
    swept: list[Swept] = []
    failures: list[str] = []
    for listed in store.due(now):
        with job_context(listed.get("job_id")):
            try:
                record = store.get(listed["job_id"])
                if record is not None and jobs.DEADLINE in record:
                    swept.append(sweep_job(record, now, settings, store))
            except Exception as error:
                log.exception("could not sweep job %s", listed.get("job_id"))
                failures.append(f"{listed.get('job_id')}: {type(error).__name__}: {error}")
    if failures:
        raise SweepError(f"{len(failures)} job(s) not swept: " + "; ".join(failures))
    return {"jobs": [asdict(item) for item in swept]}


def sweep_job(
    record: dict[str, Any], now: float, settings: config.SweeperSettings, store: jobs.JobStore
) -> Swept:
    """The way out of the record's phase (it is past its deadline, or the caller says so)."""
    job_id = record["job_id"]
    if float(record[jobs.DEADLINE]) > now:
        return Swept(job_id, "changed")  # moved on since the index was read
    phase = lifecycle.phase_of(record)
    if phase not in lifecycle.OPEN:
        outbox = notify.unsent(record)
        if outbox is not None:
            log.warning("job %s: sending a message the stream did not deliver", job_id)
            notify.send_outbox(store, settings.notify_topic_arn, job_id, outbox)
            return Swept(job_id, "sent")
        return Swept(job_id, "settled" if store.settle(record) else "changed")
    deadlines = store.deadlines
    if record.get("segments") and phase == lifecycle.INVOKED and "stitch_invoked_at" not in record:
        action = parents.advance(store, job_id, settings, now)
        if action in ("waiting", "stitch-claimed-elsewhere"):
            latest = store.get(job_id)
            if latest is not None and jobs.DEADLINE in latest:
                store.extend_deadline(latest, now + deadlines.recheck_s)
        return Swept(job_id, action)
    if phase == lifecycle.INVOKED:
        invoked = _epoch(record["invoked_at"])
        result = _finished_result(record)
        if result is not None:
            outcome = inference.apply_result(result, store, retries=False, invoke=settings)
            if outcome.action != inference.DUPLICATE_REPLY:
                log.warning("job %s: applied a result whose notification was lost", job_id)
                return Swept(
                    job_id, "result-applied" if outcome.action != "duplicate" else "changed"
                )
        final = invoked + deadlines.invoked_s
        if now < final:
            store.extend_deadline(record, min(now + deadlines.recheck_s, final))
            return Swept(job_id, "rechecking")
        reason = (
            "The tracking service accepted the job but reported no result within"
            f" {_minutes(deadlines.invoked_s)}. Upload the video again."
        )
    else:
        last_error = record.get("last_submit_error")
        reason = (
            "The job could not be handed to the tracking service in time"
            + (f" (last answer: {last_error})" if last_error else "")
            + ". Upload the video again."
        )
    if not store.time_out(record, reason):
        return Swept(job_id, "changed")
    log.warning("job %s timed out in phase %s", job_id, phase)
    if not record.get("parent"):
        job_metrics.emit(store.table_name, jobs.FAILED)
    if record.get("parent"):
        parents.advance(store, record["parent"], settings, now)
    return Swept(job_id, "timed-out")


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _finished_result(record: dict[str, Any]) -> inference.InferenceResult | None:
    """The endpoint's result for the job if its output or failure object exists."""
    job_id = record["job_id"]
    output = record.get("inference_output")
    failure = record.get("inference_failure")
    if output and _exists(output):
        return inference.InferenceResult(
            job_id, True, "Completed", output, None, None, jobs.attempt_of(record)
        )
    if failure and _exists(failure):
        return inference.InferenceResult(
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
