"""The user-facing job notification: a JSON body, and attributes subscribers can filter on.

The body (``docs/schemas/notification.schema.json``) carries ``job_id``, ``status``, ``reason``,
``tag``, ``input``, ``options``, ``outputs``, ``counts``, ``timings``, ``warnings`` and ``text``:
the readable lines ``notify.body_for`` writes. The message attributes are ``job_id``, ``status``
and ``tag`` (when the upload has one), for SNS subscription filter policies.
"""

from __future__ import annotations

import json
from typing import Any

NOTIFICATION_VERSION = 1
# SNS message attribute values may not be empty; a longer tag is cut for the attribute only.
_ATTRIBUTE_MAX = 256


def body_for(record: dict[str, Any], text: str) -> dict[str, Any]:
    """The notification body: the job's outcome as data, plus `text` for people."""
    return {
        "version": NOTIFICATION_VERSION,
        "job_id": record["job_id"],
        "status": record["status"],
        "reason": record.get("reason"),
        "failed_stage": record.get("failed_stage"),
        "tag": record.get("tag"),
        "input": {
            "uri": record.get("video"),
            "version": record.get("version_id") or record.get("etag"),
            "size_bytes": record.get("size_bytes"),
        },
        "options": record.get("options"),
        "outputs": record.get("outputs") or {},
        "counts": record.get("counts") or {},
        "timings": record.get("timings") or {},
        "warnings": list(record.get("warnings") or []),
        "analytics": record.get("analytics"),
        "created_at": record.get("created_at"),
        "completed_at": record.get("completed_at"),
        "text": text,
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


def notification(record: dict[str, Any], subject: str, text: str) -> dict[str, Any]:
    """The keyword arguments of ``sns.publish`` (less ``TopicArn``) for the record's outcome."""
    return {
        "Subject": subject,
        "Message": json.dumps(body_for(record, text), ensure_ascii=False, sort_keys=True),
        "MessageAttributes": attributes_for(record),
    }
