"""The user's message for a job's outcome, written into the record as its *outbox*.

A terminal transition (``jobs.JobStore``) stores ``outbox_for(record)`` in the same conditional
write that changes the state, so a state change and its message cannot be separated by a crash.
The notifier (lambdas/notifier.py), driven by the table's stream, publishes the outbox and marks
it sent; the sweeper publishes any outbox still unsent at its deadline. Each message carries a
stable deduplication id, ``<job id>:<phase>``, as the ``dedup_id`` message attribute: delivery is
at least once, and a repeat (SNS's answer to a successful publish was lost, or a publisher died
before marking it sent) has the same id.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol

try:
    from . import clients, lifecycle, messages
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import clients
    import lifecycle
    import messages

log = logging.getLogger("motflow.notify")

_SUBJECT_MAX = 99
_VERBS = {
    lifecycle.SUCCEEDED: "tracked",
    lifecycle.FAILED: "failed",
    lifecycle.REJECTED: "rejected",
}
OUTBOX = "outbox"  # the record attribute holding the message to send
SENT = "notified_id"  # the dedup id of the last outbox sent


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
    if status == lifecycle.SUCCEEDED:
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
    elif status == lifecycle.REJECTED:
        lines.insert(0, "Your upload was not processed.")
        lines.append(f"Reason: {record.get('reason', 'unknown')}")
    elif status == lifecycle.FAILED:
        lines.insert(0, "Tracking your video failed.")
        lines.append(f"Reason: {record.get('reason', 'unknown')}")
        if record.get("failed_stage") == lifecycle.STAGE_SUBMIT:
            lines.append("The upload event was kept for a replay; no need to upload it again.")
    else:
        lines.insert(0, f"Job state: {status}")
    return "\n".join(lines)


def dedup_id(job_id: str, phase: str) -> str:
    """The message's stable deduplication id: one per job and announced phase."""
    return f"{job_id}:{phase}"


def outbox_for(record: dict[str, Any]) -> dict[str, Any] | None:
    """The message for the outcome `record` describes (its state after the transition), or None
    when nobody is told: a long video's segment (the user hears about the parent only), or a
    phase that is not announced."""
    if record.get("parent"):
        return None
    phase = lifecycle.phase_of(record)
    if phase not in lifecycle.ANNOUNCED:
        return None
    identity = dedup_id(record["job_id"], phase)
    kwargs = messages.notification(record, subject_for(record), body_for(record))
    attributes = {
        **kwargs["MessageAttributes"],
        "dedup_id": {"DataType": "String", "StringValue": identity},
    }
    return {
        "id": identity,
        "phase": phase,
        "status": record["status"],
        "subject": kwargs["Subject"],
        "message": kwargs["Message"],
        # A JSON string: DynamoDB would otherwise keep the attribute map's shape, but SNS's
        # attribute names and values must come back exactly as written.
        "attributes": json.dumps(attributes, ensure_ascii=False, sort_keys=True),
    }


def publish_outbox(topic_arn: str, outbox: dict[str, Any]) -> str:
    """Publish an outbox message; returns the SNS message id. botocore's standard retries may
    resend a publish whose answer was lost: the copy has the same ``dedup_id``."""
    response = clients.client("sns").publish(
        TopicArn=topic_arn,
        Subject=outbox["subject"],
        Message=outbox["message"],
        MessageAttributes=json.loads(outbox["attributes"]),
    )
    log.info("notified %s: %s", topic_arn, outbox["id"])
    return response["MessageId"]


class MarksSent(Protocol):
    """The one store operation sending needs (jobs.JobStore; jobs imports this module)."""

    def mark_sent(self, job_id: str, outbox_id: str) -> bool: ...


def send_outbox(store: MarksSent, topic_arn: str, job_id: str, outbox: dict[str, Any]) -> None:
    """Publish `outbox` and mark it sent: the stream's notifier, or the sweeper at the record's
    deadline. A crash in between publishes again next time, with the same ``dedup_id``."""
    publish_outbox(topic_arn, outbox)
    store.mark_sent(job_id, outbox["id"])


def notification(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The message the record's outbox holds, as published: ``{"subject", "message"}`` with the
    message's JSON body decoded; None when the record has no (readable) outbox."""
    outbox = record.get(OUTBOX)
    if not isinstance(outbox, Mapping) or not isinstance(outbox.get("message"), str):
        return None
    try:
        body = json.loads(outbox["message"])
    except ValueError:
        return None
    return {"subject": outbox.get("subject"), "message": body}


def unsent(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """The record's outbox if it was not sent yet."""
    if not record:
        return None
    outbox = record.get(OUTBOX)
    if not isinstance(outbox, dict) or record.get(SENT) == outbox.get("id"):
        return None
    return outbox
