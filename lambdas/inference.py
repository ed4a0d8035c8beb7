"""Applying a SageMaker async inference result to its job: shared by ``complete`` (results
from the SNS topics) and the sweeper (result objects found after a notification was lost).

A result moves the job to SUCCEEDED or FAILED once, scoped to its attempt; a transient failure
is first retried as a new attempt; a segment's result moves its parent on (lambdas/parents.py).
The handlers import this module, never each other.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

try:
    from . import (
        clients,
        config,
        invocation,
        jobs,
        lifecycle,
        manifests,
        parents,
        reasons,
        s3_events,
    )
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import clients
    import config
    import invocation
    import jobs
    import lifecycle
    import manifests
    import parents
    import reasons
    import s3_events

try:
    from . import job_metrics
    from .job_logging import bind_job
except ImportError:  # Lambda runtime: modules are top-level
    import job_metrics
    from job_logging import bind_job

log = logging.getLogger("motflow.complete")
log.setLevel(logging.INFO)

_FAILURE_DETAIL_BYTES = 2048
_WARNINGS_KEPT = 10
_WARNING_MAX = 300


class ResultBeforeInvocation(invocation.JobBusy):
    """A result of the job's current attempt came before the invoke lease's holder recorded the
    request (``lifecycle.HELD_BY_LEASE``): nothing was applied; retry the event later."""


class SummaryUnreadable(ValueError):
    """The success notification's output location holds no readable summary JSON."""


@dataclass(frozen=True)
class InferenceResult:
    job_id: str
    succeeded: bool
    status: str
    output_location: str | None
    failure_location: str | None
    failure_reason: str | None
    attempt: int = 1  # the attempt the notification is about (from the InferenceId)


@dataclass(frozen=True)
class Outcome:
    job_id: str | None
    status: str | None
    # succeeded | failed | retried | duplicate | duplicate-reply | unknown-job | ignored
    action: str


# A success whose summary is the reply of a duplicate request (model_code/claims.py): not a result.
DUPLICATE_REPLY = "duplicate-reply"


def parse_notification(message: str) -> InferenceResult | None:
    """The inference result in an SNS message body, or None for test and foreign messages."""
    try:
        data = json.loads(message)
    except (TypeError, json.JSONDecodeError):
        log.warning("ignoring a non-JSON notification: %.200s", message)
        return None
    if not isinstance(data, dict) or not (data.get("inferenceId") and data.get("invocationStatus")):
        log.info("ignoring a notification without an inference result: %.200s", message)
        return None
    response = data.get("responseParameters") or {}
    status = str(data["invocationStatus"])
    job_id, attempt = jobs.split_inference_id(str(data["inferenceId"]))
    return InferenceResult(
        job_id=job_id,
        succeeded=status == "Completed",
        status=status,
        output_location=response.get("outputLocation"),
        failure_location=response.get("failureLocation") or data.get("failureLocation"),
        failure_reason=data.get("failureReason"),
        attempt=attempt,
    )


def apply_result(
    result: InferenceResult,
    store: jobs.JobStore,
    *,
    retries: bool = True,
    invoke: config.InvokeSettings | None = None,
) -> Outcome:
    """Move the job to SUCCEEDED or FAILED once; duplicates, late messages and results of an
    attempt the record has moved past are no-ops. The terminal write carries the user's message
    (its outbox); the table's stream delivers it. With `retries`, a transient failure is first
    retried as a new attempt (the sweeper applies failures as final). `invoke` sends a long
    video's stitch request (default: this Lambda's retry settings). A result that comes before
    its invocation is recorded raises ResultBeforeInvocation (its event is retried)."""
    bind_job(result.job_id)
    record = store.get(result.job_id)
    if record is None:
        log.warning("notification for unknown job %s: ignored", result.job_id)
        return Outcome(result.job_id, None, "unknown-job")
    event = lifecycle.INFERENCE_OK if result.succeeded else lifecycle.INFERENCE_FAILED
    hold_back_early(result, record, event)
    if retries and not result.succeeded:
        retried = retry_if_transient(result, record, store)
        if retried is not None:
            return retried
    changed = False
    phase = lifecycle.phase_of(record)
    current = result.attempt == jobs.attempt_of(record)
    if current and lifecycle.next_phase(phase, event) is not None:
        if result.succeeded:
            changed = _succeed(result, store, record)
            if changed is None:
                return Outcome(result.job_id, record["status"], DUPLICATE_REPLY)
        else:
            reason = failure_reason(result)
            details = {}
            if result.failure_location:
                details["inference_failure"] = result.failure_location
            changed = store.fail_inference(record, reason, details, result.attempt)
        if not changed:  # a holder may have leased the record since it was read
            hold_back_early(result, store.get(result.job_id) or record, event)
    if changed and not result.succeeded and not record.get("parent"):
        job_metrics.emit(store.table_name, jobs.FAILED)
    if record.get("parent"):
        return _segment_outcome(result, store, changed, invoke)
    latest = store.get(result.job_id) or record
    if not changed:
        log.info(
            "%s notification for job %s in state %s: no-op",
            result.status,
            result.job_id,
            latest["status"],
        )
        return Outcome(result.job_id, latest["status"], "duplicate")
    return Outcome(result.job_id, latest["status"], latest["status"].lower())


def hold_back_early(result: InferenceResult, record: dict[str, Any], event: str) -> None:
    """Raise ResultBeforeInvocation when a live invoke lease holds `event` of the record's
    current attempt back (lifecycle.HELD_BY_LEASE)."""
    if result.attempt != jobs.attempt_of(record):
        return
    if lifecycle.held_back(record, event, time.time()):
        raise ResultBeforeInvocation(
            f"job {result.job_id}: a {result.status} result of attempt {result.attempt} came"
            " before its invocation was recorded (invoke lease held until epoch"
            f" {record.get('lease_until')}); the event will be retried"
        )


def _segment_outcome(
    result: InferenceResult,
    store: jobs.JobStore,
    changed: bool,
    invoke: config.InvokeSettings | None,
) -> Outcome:
    """A long video's segment: move its parent on (lambdas/parents.py), tell nobody directly.
    Runs on duplicates too, so a crash between the two steps is finished by a redelivery."""
    segment = store.get(result.job_id) or {}
    settings = invoke or config.RetrySettings.from_env()
    action = parents.advance(store, segment["parent"], settings) if segment else "unknown-job"
    log.info("segment %s (%s): %s", result.job_id, segment.get("status"), action)
    status = segment.get("status")
    return Outcome(result.job_id, status, status.lower() if changed and status else "duplicate")


def _succeed(result: InferenceResult, store: jobs.JobStore, record: dict[str, Any]) -> bool | None:
    """Apply a success; None when its summary is a duplicate request's reply (no result)."""
    attempt = result.attempt
    if not result.output_location:
        reason = "The tracking finished but SageMaker reported no output location."
        return store.fail_inference(record, reason, {}, attempt)
    try:
        summary = read_summary(result.output_location)
    except SummaryUnreadable as error:
        log.error("job %s: unreadable summary: %s", result.job_id, error)
        reason = "The tracking finished but its results could not be read. Upload the video again."
        return store.fail_inference(record, reason, {"failure_detail": str(error)}, attempt)
    if summary.get("duplicate"):
        # A second request for an attempt another worker had claimed (model_code/claims.py).
        log.info("job %s: ignoring the reply of a duplicate request", result.job_id)
        return None
    succeeded = store.succeed(record, result_fields(summary, result.output_location), attempt)
    if succeeded and not record.get("parent"):  # a segment is part of its parent's job
        job_metrics.emit(store.table_name, jobs.SUCCEEDED, *job_metrics.summary_figures(summary))
    return succeeded


def read_summary(uri: str) -> dict[str, Any]:
    """The summary JSON object at `uri`. Transient S3 errors propagate (the event is retried)."""
    bucket, key = s3_events.split_s3_uri(uri)
    try:
        body = clients.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise SummaryUnreadable(f"{uri} does not exist") from None
        raise
    try:
        summary = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SummaryUnreadable(f"{uri} is not JSON ({error})") from None
    if not isinstance(summary, dict):
        raise SummaryUnreadable(f"{uri} holds a JSON {type(summary).__name__}, not an object")
    return summary


def result_fields(summary: dict[str, Any], output_location: str) -> dict[str, Any]:
    """The record fields a success sets: artifact URIs, counts, timings, video facts."""
    artifacts = summary.get("artifacts") or {}
    outputs = {name: uri for name, uri in artifacts.items() if uri}
    fields: dict[str, Any] = {"outputs": outputs, "summary_location": output_location}
    pairs = (("counts", "counts"), ("timings", "timings"), ("video", "video_info"))
    # A job with an analytics spec: its headline figures (bounded by the spec's limits).
    for source, target in (*pairs, ("analytics", "analytics")):
        if isinstance(summary.get(source), dict):
            fields[target] = summary[source]
    warnings = summary.get("warnings")
    if isinstance(warnings, list) and warnings:
        fields["warnings"] = [str(w)[:_WARNING_MAX] for w in warnings[:_WARNINGS_KEPT]]
    return fields


def failure_reason(result: InferenceResult) -> str:
    """A short reason the user can act on (lambdas/reasons.py). The whole error body, traceback
    included, goes to the log here and stays in the failure object."""
    detail = _failure_detail(result.failure_location) if result.failure_location else None
    log.error(
        "job %s failed: %s; failure object %s: %s",
        result.job_id,
        result.failure_reason,
        result.failure_location,
        detail,
    )
    return reasons.explain(result.failure_reason, detail, result.status, result.job_id).text


def retry_if_transient(
    result: InferenceResult, record: dict[str, Any], store: jobs.JobStore
) -> Outcome | None:
    """Resubmit a transient failure (worker died, timeout) as a new attempt, at most
    ``INFERENCE_MAX_ATTEMPTS`` runs in all; None when the failure is final and must be applied.

    A new attempt has its own manifest (attempt number), InferenceId and container claim, so a
    late duplicate of the old request stays a no-op. A failure of an older attempt than the
    record's is stale: it finishes a retry whose invocation did not happen yet, else it is a
    no-op. A failure of a request whose holder died before recording it (PENDING, lease run
    out) is retried too. The user hears nothing until the job's terminal state.
    """
    current = jobs.attempt_of(record)
    phase = lifecycle.phase_of(record)
    if result.attempt < current:
        if lifecycle.next_phase(phase, lifecycle.LEASE) is not None:
            return _invoke_attempt(record, store)
        return Outcome(result.job_id, record["status"], "duplicate")
    if lifecycle.next_phase(phase, lifecycle.RETRY) is None:
        return None
    detail = _failure_detail(result.failure_location) if result.failure_location else None
    explained = reasons.explain(result.failure_reason, detail, result.status, result.job_id)
    settings = config.RetrySettings.from_env() if explained.transient else None
    if settings is None or current >= settings.inference_max_attempts:
        return None
    manifest = manifests.write_attempt_manifest(record, current + 1, settings)
    if not store.retry(result.job_id, current, explained.text, manifest):
        latest = store.get(result.job_id) or record
        hold_back_early(result, latest, lifecycle.RETRY)
        return Outcome(result.job_id, latest["status"], "duplicate")
    log.warning("job %s: attempt %d failed (%s); retrying", result.job_id, current, explained.text)
    return _invoke_attempt(store.get(result.job_id) or record, store, settings)


def _invoke_attempt(
    record: dict[str, Any], store: jobs.JobStore, settings: config.RetrySettings | None = None
) -> Outcome:
    settings = settings or config.RetrySettings.from_env()
    lease_until = time.time() + settings.invoke_lease_s
    outcome = invocation.invoke_job(record, settings, store, lease_until)
    action = "retried" if outcome.action == "queued" else outcome.action
    return Outcome(record["job_id"], outcome.status, action)


def _failure_detail(uri: str) -> str | None:
    try:
        bucket, key = s3_events.split_s3_uri(uri)
        response = clients.client("s3").get_object(
            Bucket=bucket, Key=key, Range=f"bytes=0-{_FAILURE_DETAIL_BYTES - 1}"
        )
        text = response["Body"].read().decode("utf-8", errors="replace").strip()
    except (ValueError, ClientError) as error:
        log.warning("could not read the failure body at %s: %s", uri, error)
        return None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return text or None
    if isinstance(parsed, dict):
        for field in ("message", "error", "errorMessage"):
            if isinstance(parsed.get(field), str):
                return parsed[field]
    return text or None
