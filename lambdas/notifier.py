"""The jobs table's stream -> the user's notifications topic: publish each record's outbox once.

A terminal transition writes the user's message into the record (``outbox``, lambdas/notify.py)
in the same conditional write as the state. DynamoDB Streams hands every change to this handler
(an event source mapping with bounded retries, batch item failures and an on-failure destination;
stacks/constructs/notifier.py). For each changed record whose new image holds an unsent outbox,
it publishes the message and marks it sent (``notified_id``). Nothing is claimed: a crash
between publishing and marking makes the next try publish again, with the same ``dedup_id``
attribute, and a record whose message never got through is sent by the sweeper at its deadline.

A DynamoDB stream event (AWS's documented record format, ``StreamViewType`` NEW_IMAGE or
NEW_AND_OLD_IMAGES): ``{"Records": [{"eventID", "eventName": "INSERT"|"MODIFY"|"REMOVE",
"eventSource": "aws:dynamodb", "eventSourceARN", "awsRegion", "dynamodb": {"Keys", "NewImage",
"OldImage", "SequenceNumber", "SizeBytes", "StreamViewType"}}]}``. The handler answers with
``batchItemFailures`` (``ReportBatchItemFailures``): Lambda retries from the first failed
record's sequence number, so records before it are not delivered again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

try:
    from . import config, jobs, notify
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import config
    import jobs
    import notify

log = logging.getLogger("motflow.notifier")
log.setLevel(logging.INFO)

STREAM_SOURCE = "aws:dynamodb"


class StreamEnvelopeError(ValueError):
    """The event is not a DynamoDB stream batch (for example an on-failure record)."""


@dataclass(frozen=True)
class Delivery:
    job_id: str
    action: str  # sent | already-sent | nothing


def stream_records(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of a DynamoDB stream event; StreamEnvelopeError for anything else."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        hint = (
            " It looks like an on-failure record: it names the shard and sequence numbers, not"
            " the records; the sweeper sends any message still unsent at its deadline."
            if isinstance(event, dict) and "DDBStreamBatchInfo" in event
            else ""
        )
        raise StreamEnvelopeError(f"not a DynamoDB stream event: no 'Records' list.{hint}")
    for record in records:
        if not isinstance(record, dict) or record.get("eventSource") != STREAM_SOURCE:
            raise StreamEnvelopeError("not a DynamoDB stream event: a record from elsewhere")
    return records


def new_image(record: dict[str, Any]) -> dict[str, Any] | None:
    """The record's item after the change, as plain values (None for a REMOVE)."""
    image = (record.get("dynamodb") or {}).get("NewImage")
    return jobs.from_dynamo(image) if image else None


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point for the jobs table's stream."""
    settings = config.NotifySettings.from_env()
    store = jobs.JobStore(settings.jobs_table)
    failures: list[dict[str, str]] = []
    sent: list[str] = []
    for record in stream_records(event):
        if failures:  # Lambda retries from the first failure; later records come again
            failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
            continue
        try:
            delivery = deliver_image(new_image(record), store, settings.notify_topic_arn)
        except Exception:
            log.exception("could not send the message of stream record %s", record.get("eventID"))
            failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
            continue
        if delivery.action == "sent":
            sent.append(delivery.job_id)
    return {"batchItemFailures": failures, "sent": sent}


def deliver_image(image: dict[str, Any] | None, store: jobs.JobStore, topic_arn: str) -> Delivery:
    """Send the outbox in a changed record's new image, unless it was already sent."""
    outbox = notify.unsent(image)
    if image is None or outbox is None:
        return Delivery(image["job_id"] if image else "", "nothing")
    # The stream may be behind the table (a retried batch): a consistent read says whether an
    # earlier delivery sent this message already.
    current = store.get(image["job_id"])
    if current is not None and notify.unsent(current) is None:
        return Delivery(image["job_id"], "already-sent")
    notify.send_outbox(store, topic_arn, image["job_id"], outbox)
    return Delivery(image["job_id"], "sent")
