"""Deliver queued events to the real Lambda handlers, the way the Lambda service would.

S3 notifications arrive in SQS as the S3 event JSON itself; SNS messages arrive in SQS wrapped in
the SNS envelope and are rewrapped into the Lambda SNS event shape. A message is deleted only after
its handler returned; a handler exception leaves it for redelivery, and the queue's redrive policy
moves it to a dead-letter queue after a bounded number of receives.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

import boto3

LOG = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]
LONG_POLL_S = 1
STOP_JOIN_S = 10.0


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers commonly read."""

    function_name: str
    timeout_s: int = 900
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        elapsed_s = time.monotonic() - self._started
        return max(0, int((self.timeout_s - elapsed_s) * 1000))


def s3_event_from_sqs(body: str) -> dict[str, Any]:
    """S3 -> SQS bodies are the S3 event document Lambda would receive."""
    return json.loads(body)


class VersionIdFiller:
    """Adds the ``versionId`` AWS puts in S3 events for versioned buckets and moto leaves out.

    The version is the oldest one of the key whose ETag and size match the event's and that no
    earlier event was given: exactly the version AWS would name, also when the same bytes were
    uploaded twice under one key (two versions, two events, two jobs). A redelivered message
    gets the version it got the first time. Records that already carry a version, or come from
    unversioned buckets, pass as is.
    """

    def __init__(self, s3: Any) -> None:
        self._s3 = s3
        self._lock = threading.Lock()
        self._given: dict[str, dict[str, Any]] = {}  # message body -> event as first filled
        self._used: set[tuple[str, str, str]] = set()

    def __call__(self, body: str) -> dict[str, Any]:
        with self._lock:
            if body in self._given:
                return json.loads(json.dumps(self._given[body]))
            event = s3_event_from_sqs(body)
            for record in event.get("Records", []):
                obj = record.get("s3", {}).get("object", {})
                if obj.get("versionId") or "key" not in obj:
                    continue
                version = self._version_of(record["s3"]["bucket"]["name"], obj)
                if version:
                    obj["versionId"] = version
            self._given[body] = event
            return json.loads(json.dumps(event))

    def _version_of(self, bucket: str, obj: dict[str, Any]) -> str | None:
        key = unquote_plus(obj["key"])
        etag = str(obj.get("eTag", "")).strip('"')
        reply = self._s3.list_object_versions(Bucket=bucket, Prefix=key)
        matches = [
            version
            for version in reply.get("Versions", [])
            if version["Key"] == key
            and version["ETag"].strip('"') == etag
            and version.get("Size") == obj.get("size", version.get("Size"))
            and version.get("VersionId") not in (None, "null")
        ]
        if not matches:
            return None
        matches.reverse()  # listed newest first; equal timestamps keep upload order
        matches.sort(key=lambda version: version["LastModified"])
        for version in matches:
            identity = (bucket, key, version["VersionId"])
            if identity not in self._used:
                self._used.add(identity)
                return version["VersionId"]
        return matches[-1]["VersionId"]


def sns_event_from_sqs(body: str, subscription_arn: str = "") -> dict[str, Any]:
    """Rewrap an SNS -> SQS envelope into the event Lambda receives from an SNS subscription."""
    envelope = json.loads(body)
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn or envelope.get("TopicArn", ""),
                "Sns": {
                    "Type": envelope.get("Type", "Notification"),
                    "MessageId": envelope.get("MessageId", ""),
                    "TopicArn": envelope.get("TopicArn", ""),
                    "Subject": envelope.get("Subject"),
                    "Message": envelope["Message"],
                    "Timestamp": envelope.get("Timestamp", ""),
                    "SignatureVersion": envelope.get("SignatureVersion", "1"),
                    "Signature": envelope.get("Signature", ""),
                    "SigningCertUrl": envelope.get("SigningCertURL", ""),
                    "UnsubscribeUrl": envelope.get("UnsubscribeURL", ""),
                    "MessageAttributes": envelope.get("MessageAttributes", {}),
                },
            }
        ]
    }


@dataclass(frozen=True)
class Route:
    """Messages of `queue_url`, turned into events by `to_event`, go to `handler`."""

    name: str
    queue_url: str
    handler: Handler
    to_event: Callable[[str], dict[str, Any]]
    timeout_s: int = 900  # the deployed function's timeout (its context's remaining time)


@dataclass
class RouteStats:
    delivered: int = 0
    failures: int = 0
    last_error: str | None = None


class EventPump:
    """One polling thread per route. Use as a context manager."""

    def __init__(self, session: boto3.Session, routes: list[Route]) -> None:
        self._sqs = session.client("sqs")
        self._routes = routes
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.stats: dict[str, RouteStats] = {route.name: RouteStats() for route in routes}

    def __enter__(self) -> EventPump:
        for route in self._routes:
            thread = threading.Thread(
                target=self._poll, args=(route,), name=f"event-pump-{route.name}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=STOP_JOIN_S)

    def _poll(self, route: Route) -> None:
        while not self._stop.is_set():
            try:
                reply = self._sqs.receive_message(
                    QueueUrl=route.queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=LONG_POLL_S,
                )
            except Exception as error:
                if self._stop.is_set():
                    return
                LOG.warning("event pump %s: receive failed: %s", route.name, error)
                self._stop.wait(LONG_POLL_S)
                continue
            for message in reply.get("Messages", []):
                self._deliver(route, message)

    def _deliver(self, route: Route, message: dict[str, Any]) -> None:
        stats = self.stats[route.name]
        try:
            event = route.to_event(message["Body"])
            route.handler(event, LambdaContext(function_name=route.name, timeout_s=route.timeout_s))
        except Exception as error:
            stats.failures += 1
            stats.last_error = f"{type(error).__name__}: {error}"
            LOG.exception("event pump %s: handler failed; message left for redelivery", route.name)
            return
        self._sqs.delete_message(QueueUrl=route.queue_url, ReceiptHandle=message["ReceiptHandle"])
        stats.delivered += 1
