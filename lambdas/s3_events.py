"""Parse S3 ObjectCreated notifications into the objects they name."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

log = logging.getLogger("motflow.s3_events")


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    size: int | None
    etag: str | None
    version_id: str | None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class EventError(ValueError):
    """An event record lacks what an S3 ObjectCreated notification always carries."""


def normalise_etag(etag: str | None) -> str | None:
    """HeadObject quotes ETags and S3 events do not; compare them without quotes."""
    return etag.strip('"') if etag else None


def is_test_event(event: dict[str, Any]) -> bool:
    """S3 sends ``{"Event": "s3:TestEvent", ...}`` (no Records) when a notification is set up."""
    return event.get("Event") == "s3:TestEvent" and "Records" not in event


def parse_record(record: dict[str, Any]) -> S3Object | None:
    """The object a record names, or None for records that are not object creations."""
    name = record.get("eventName", "")
    if record.get("eventSource") != "aws:s3" or not name.startswith("ObjectCreated:"):
        log.info("ignoring a record that is not an S3 ObjectCreated event: %s", name or "unnamed")
        return None
    try:
        bucket = record["s3"]["bucket"]["name"]
        obj = record["s3"]["object"]
        key = unquote_plus(obj["key"])
    except (KeyError, TypeError) as error:
        raise EventError(f"S3 event record without bucket name or object key: {error}") from None
    size = obj.get("size")
    return S3Object(
        bucket=bucket,
        key=key,
        size=int(size) if size is not None else None,
        etag=normalise_etag(obj.get("eTag") or obj.get("etag")),
        version_id=obj.get("versionId") or None,
    )


def records(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The raw records of an S3 notification; none for the set-up test event."""
    if is_test_event(event):
        log.info("ignoring s3:TestEvent for bucket %s", event.get("Bucket"))
        return []
    found = event.get("Records")
    if not isinstance(found, list):
        hint = (
            " It looks like a Lambda on-failure record: replay its requestPayload"
            " (scripts/replay_failed_events.py)."
            if "requestPayload" in event
            else ""
        )
        raise EventError(
            f"not an S3 notification: no 'Records' list and not an s3:TestEvent.{hint}"
        )
    for record in found:
        if not isinstance(record, dict) or record.get("eventSource") != "aws:s3":
            raise EventError("not an S3 notification: a record without eventSource aws:s3")
    return found


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); ValueError naming the URI otherwise."""
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    bucket, key = uri[5:].split("/", 1)
    if not bucket or not key:
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    return bucket, key
