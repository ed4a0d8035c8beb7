"""Job messages on the user-facing notifications topic, each sent once (lambdas/messages.py)."""

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

# Kept for callers of the earlier text-only messages; lambdas/messages.py builds them now.
subject_for = messages.subject_for
body_for = messages.text_for


def publish_job(topic_arn: str, record: dict[str, Any]) -> str:
    """Publish the message for the record's current state; returns the SNS message id."""
    response = clients.client("sns").publish(
        TopicArn=topic_arn,
        **messages.notification(record),
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
