"""The user-facing job notification: a JSON body, a human subject, and filterable attributes.

Subscribers parse the body (``job_id``, ``status``, ``reason``, ``tag``, ``input``, ``outputs``,
``counts``, ``timings``, ``warnings``, and ``text``: the same facts as a few readable lines) and
filter on the ``status`` and ``tag`` message attributes. docs/schemas/notification.schema.json
describes the body.
"""

from __future__ import annotations

import json
from typing import Any

try:
    from . import lifecycle
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import lifecycle

NOTIFICATION_VERSION = 1
_SUBJECT_MAX = 99
# SNS message attribute values may not be empty; longer tags are cut for the attribute only.
_ATTRIBUTE_MAX = 256
_VERBS = {
    lifecycle.SUCCEEDED: "tracked",
    lifecycle.FAILED: "failed",
    lifecycle.REJECTED: "rejected",
}


def file_name(record: dict[str, Any]) -> str:
    return str(record.get("key", record["job_id"])).rsplit("/", 1)[-1]


def subject_for(record: dict[str, Any]) -> str:
    """An SNS-safe subject: UTF-8 without line breaks or control characters, under 100 long."""
    verb = _VERBS.get(record["status"], record["status"].lower())
    if record["status"] == lifecycle.SUCCEEDED and record.get("warnings"):
        verb = "tracked, with warnings"
    name = "".join(c if c.isprintable() else "?" for c in file_name(record))
    suffix = f" {verb}"
    room = _SUBJECT_MAX - len("motflow: ") - len(suffix)
    if len(name) > room:
        name = name[: room - 3] + "..."
    return f"motflow: {name}{suffix}"


def text_for(record: dict[str, Any]) -> str:
    """What happened to the upload, and where its results are, in a few lines."""
    status = record["status"]
    lines = [f"Video: {record.get('video', file_name(record))}", f"Job: {record['job_id']}"]
    if record.get("tag"):
        lines.append(f"Tag: {record['tag']}")
    if status == lifecycle.SUCCEEDED:
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
        lines.extend(f"Warning: {warning}" for warning in record.get("warnings") or [])
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
            lines.append("The upload event was kept for a retry; no need to upload it again.")
    else:
        lines.insert(0, f"Job state: {status}")
    return "\n".join(lines)


def body_for(record: dict[str, Any]) -> dict[str, Any]:
    """The notification body: the job's outcome as data, plus `text` for people."""
    version = record.get("version_id") or record.get("etag")
    return {
        "version": NOTIFICATION_VERSION,
        "job_id": record["job_id"],
        "status": record["status"],
        "reason": record.get("reason"),
        "failed_stage": record.get("failed_stage"),
        "tag": record.get("tag"),
        "input": {
            "uri": record.get("video"),
            "version": version,
            "size_bytes": record.get("size_bytes"),
        },
        "options": record.get("options"),
        "outputs": record.get("outputs") or {},
        "counts": record.get("counts") or {},
        "timings": record.get("timings") or {},
        "warnings": list(record.get("warnings") or []),
        "created_at": record.get("created_at"),
        "completed_at": record.get("completed_at"),
        "text": text_for(record),
    }


def attributes_for(record: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Message attributes subscribers filter on: ``job_id``, ``status`` and ``tag`` (if any)."""
    attributes = {
        "job_id": {"DataType": "String", "StringValue": record["job_id"]},
        "status": {"DataType": "String", "StringValue": record["status"]},
    }
    tag = str(record.get("tag") or "").strip()
    if tag:
        attributes["tag"] = {"DataType": "String", "StringValue": tag[:_ATTRIBUTE_MAX]}
    return attributes


def notification(record: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``sns.publish`` (less ``TopicArn``) for the record's outcome."""
    return {
        "Subject": subject_for(record),
        "Message": json.dumps(body_for(record), ensure_ascii=False, sort_keys=True),
        "MessageAttributes": attributes_for(record),
    }
