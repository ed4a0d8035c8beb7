"""Short, human-readable job messages on the user-facing notifications topic."""

from __future__ import annotations

import logging
from typing import Any

try:
    from . import clients, jobs, lifecycle, messages
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import clients
    import jobs
    import lifecycle
    import messages

log = logging.getLogger("motflow.notify")

_SUBJECT_MAX = 99
_VERBS = {
    jobs.SUCCEEDED: "tracked",
    jobs.FAILED: "failed",
    jobs.REJECTED: "rejected",
}


def _file_name(record: dict[str, Any]) -> str:
    return str(record.get("key", record["job_id"])).rsplit("/", 1)[-1]


def subject_for(record: dict[str, Any]) -> str:
    """An SNS-safe subject: UTF-8 without line breaks or control characters, under 100 long."""
    verb = _VERBS.get(record["status"], record["status"].lower())
    name = "".join(c if c.isprintable() else "?" for c in _file_name(record))
    suffix = f" {verb}"
    room = _SUBJECT_MAX - len("motflow: ") - len(suffix)
    if len(name) > room:
        name = name[: room - 3] + "..."
    return f"motflow: {name}{suffix}"


def body_for(record: dict[str, Any]) -> str:
    """What happened to the upload, and where its results are, in a few lines."""
    status = record["status"]
    lines = [f"Video: {record.get('video', _file_name(record))}", f"Job: {record['job_id']}"]
    if status == jobs.SUCCEEDED:
        warnings = record.get("warnings") or []
        if warnings:
            lines[:0] = ["Your video was tracked, with warnings:", *(f"- {w}" for w in warnings)]
        else:
            lines.insert(0, "Your video was tracked.")
        counts = record.get("counts") or {}
        if counts:
            lines.append(
                f"Tracks: {counts.get('tracks', '?')}, boxes: {counts.get('detections', '?')},"
                f" frames processed: {counts.get('frames_processed', '?')}"
            )
        total = (record.get("timings") or {}).get("total_s")
        if total is not None:
            lines.append(f"Processing time: {float(total):.1f} s")
        for name, uri in sorted((record.get("outputs") or {}).items()):
            if uri:
                lines.append(f"{name}: {uri}")
    elif status == jobs.REJECTED:
        lines.insert(0, "Your upload was not processed.")
        lines.append(f"Reason: {record.get('reason', 'unknown')}")
    elif status == jobs.FAILED:
        lines.insert(0, "Tracking your video failed.")
        lines.append(f"Reason: {record.get('reason', 'unknown')}")
        if record.get("failed_stage") == jobs.STAGE_SUBMIT:
            lines.append("The upload event was kept for a replay; no need to upload it again.")
    else:
        lines.insert(0, f"Job state: {status}")
    return "\n".join(lines)


def publish_job(topic_arn: str, record: dict[str, Any]) -> str:
    """Publish the message for the record's current state; returns the SNS message id."""
    response = clients.client("sns").publish(
        TopicArn=topic_arn,
        **messages.notification(record, subject_for(record), body_for(record)),
    )
    log.info("notified %s: job %s is %s", topic_arn, record["job_id"], record["status"])
    return response["MessageId"]


def tell_user_once(store: jobs.JobStore, topic_arn: str, job_id: str) -> dict[str, Any] | None:
    """Publish the job's current outcome unless it was already announced; returns the record.

    Called after every transition and on every duplicate event, so a message lost to a crash
    between the state change and the publish is sent by the next delivery. The message is
    claimed with a conditional write first, so concurrent deliveries publish it once; a failed
    publish gives the claim back and raises (the event is retried).
    """
    record = store.get(job_id)
    if record is None:
        return None
    if record.get("parent"):
        return record  # a long video's segment: the user hears about the parent only
    phase = lifecycle.phase_of(record)
    if phase not in lifecycle.ANNOUNCED or record.get("notified_phase") == phase:
        return record
    if not store.claim_notice(job_id, phase):
        log.info("job %s: the %s message is sent by another delivery (or was sent)", job_id, phase)
        return record
    try:
        publish_job(topic_arn, record)
    except Exception:
        store.release_notice(job_id, phase)
        raise
    store.confirm_notice(job_id, phase, record["status"])
    return record
