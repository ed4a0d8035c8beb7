"""Replay the events a motflow Lambda gave up on, from that handler's failed-events queue.

Each handler (submit, complete, sweeper) has its own on-failure destination queue. Lambda puts an
*invocation record* there, not the event: ``{"version", "timestamp", "requestContext":
{"requestId", "functionArn", "condition", "approximateInvokeCount"}, "requestPayload": <event>,
"responseContext", "responsePayload"}``. This script unwraps ``requestPayload`` and invokes the
function named in ``requestContext.functionArn`` with it (asynchronously, as S3 and SNS do). A
message is deleted only after its event was handed back to Lambda; a record it cannot read is
left in the queue and reported.

    python scripts/replay_failed_events.py QUEUE_URL [--max N] [--dry-run]

Replaying is always safe: the handlers are idempotent (docs/RELIABILITY.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Deliver = Callable[[str, dict[str, Any]], None]


class NotAnInvocationRecord(ValueError):
    """The message is not a Lambda on-failure invocation record."""


@dataclass(frozen=True)
class ReplayReport:
    replayed: int
    unreadable: int
    failed: int


def unwrap(body: str) -> tuple[str, dict[str, Any]]:
    """(function ARN, original event) from an on-failure invocation record."""
    try:
        record = json.loads(body)
    except json.JSONDecodeError as error:
        raise NotAnInvocationRecord(f"not JSON: {error}") from None
    if not isinstance(record, dict):
        raise NotAnInvocationRecord("not a JSON object")
    context = record.get("requestContext")
    payload = record.get("requestPayload")
    if not isinstance(context, dict) or not isinstance(payload, dict):
        raise NotAnInvocationRecord("no requestContext/requestPayload: not an on-failure record")
    function_arn = context.get("functionArn")
    if not isinstance(function_arn, str) or not function_arn:
        raise NotAnInvocationRecord("requestContext has no functionArn")
    return function_arn, payload


def invoke_async(lambda_client: Any) -> Deliver:
    """Hand an event back to Lambda the way S3 and SNS deliver it (InvocationType Event)."""

    def deliver(function_arn: str, event: dict[str, Any]) -> None:
        # The record's ARN carries the version or alias that failed (":$LATEST"); keep it.
        lambda_client.invoke(
            FunctionName=function_arn,
            InvocationType="Event",
            Payload=json.dumps(event).encode("utf-8"),
        )

    return deliver


def replay_queue(sqs: Any, queue_url: str, deliver: Deliver, max_messages: int) -> ReplayReport:
    """Unwrap and deliver up to `max_messages` records; delete each one that was delivered."""
    replayed = unreadable = failed = 0
    while replayed + unreadable + failed < max_messages:
        reply = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, max_messages - replayed - unreadable - failed),
            WaitTimeSeconds=1,
            VisibilityTimeout=60,
        )
        messages = reply.get("Messages", [])
        if not messages:
            break
        for message in messages:
            try:
                function_arn, event = unwrap(message["Body"])
            except NotAnInvocationRecord as error:
                print(f"skipped message {message['MessageId']}: {error}", file=sys.stderr)
                unreadable += 1
                continue
            try:
                deliver(function_arn, event)
            except Exception as error:
                print(f"could not replay {message['MessageId']}: {error}", file=sys.stderr)
                failed += 1
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            replayed += 1
    return ReplayReport(replayed, unreadable, failed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("queue_url", help="the handler's failed-events queue URL")
    parser.add_argument("--max", type=int, default=100, help="replay at most this many records")
    parser.add_argument("--dry-run", action="store_true", help="print the events, invoke nothing")
    args = parser.parse_args(argv)
    import boto3

    def show(function_arn: str, event: dict[str, Any]) -> None:
        print(json.dumps({"function": function_arn, "event": event}))
        raise RuntimeError("dry run: left in the queue")

    deliver = show if args.dry_run else invoke_async(boto3.client("lambda"))
    report = replay_queue(boto3.client("sqs"), args.queue_url, deliver, args.max)
    print(
        f"replayed {report.replayed}, unreadable {report.unreadable}, failed {report.failed}",
        file=sys.stderr,
    )
    return 0 if report.unreadable == report.failed == 0 or args.dry_run else 1


if __name__ == "__main__":
    sys.exit(main())
