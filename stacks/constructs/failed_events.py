"""One failed-events queue per handler: the Lambda on-failure destination of that function.

Its messages are invocation records (``requestPayload`` wraps the event); replay them with
``scripts/replay_failed_events.py QUEUE_URL``, which unwraps them and re-invokes the function.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.nag import acknowledge

RETENTION = Duration.days(14)  # SQS's maximum: time to notice the alarm and replay


def failed_events_queue(scope: Construct, construct_id: str) -> sqs.Queue:
    """An encrypted, TLS-only queue kept 14 days, acknowledged as a dead-letter destination."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=RETENTION,
    )
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        "This queue is itself the dead-letter destination for failed Lambda events.",
    )
    return queue
