"""SageMaker async inference notifications (via SNS) -> terminal job state -> user message.

SageMaker publishes one JSON document per finished request to the success or error topic:
``{"awsRegion", "eventTime", "receivedTime", "invocationStatus": "Completed" | "Failed",
"inferenceId", "requestParameters": {"endpointName", "inputLocation", ...},
"responseParameters": {"contentType", "outputLocation"} (success) or
{"failureLocation"} (errors, which also carry "failureReason"),
"eventVersion", "eventSource": "aws:sagemaker", "eventName": "InferenceResult"}``.
The inference id is our job id. Messages without an inference id (the test notification
SageMaker sends when the endpoint is created) are ignored.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

try:
    from . import config, inference, invocation, jobs
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import config
    import inference
    import invocation
    import jobs

try:
    from .job_logging import job_context
except ImportError:  # Lambda runtime: modules are top-level
    from job_logging import job_context

log = logging.getLogger("motflow.complete")
log.setLevel(logging.INFO)


class CompleteError(RuntimeError):
    """Some notifications could not be applied; raised after all others were handled."""


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point for SNS events from the success and error topics."""
    settings = config.NotifySettings.from_env()
    store = jobs.JobStore(settings.jobs_table)
    outcomes: list[inference.Outcome] = []
    failures: list[str] = []
    for record in sns_records(event):
        message = record["Sns"].get("Message", "")
        with job_context():
            try:
                result = inference.parse_notification(message)
                if result is None:
                    outcomes.append(inference.Outcome(None, None, "ignored"))
                else:
                    outcomes.append(inference.apply_result(result, store))
            except invocation.JobBusy as error:  # expected: the redelivery applies it
                log.warning("notification held back: %s", error)
                failures.append(f"{type(error).__name__}: {error}")
            except Exception as error:
                # One bad message must not block the others; the event is failed at the end.
                log.exception("notification failed: %.200s", message)
                failures.append(f"{type(error).__name__}: {error}")
    if failures:
        raise CompleteError(f"{len(failures)} notification(s) failed: " + "; ".join(failures))
    return {"jobs": [asdict(outcome) for outcome in outcomes]}


class EnvelopeError(ValueError):
    """The event is not an SNS delivery (for example an on-failure record that was not
    unwrapped); nothing in it was applied."""


def sns_records(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The SNS records of a Lambda SNS event; EnvelopeError for anything else, so a wrongly
    replayed event fails loudly instead of being dropped as "no jobs"."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        hint = (
            " It looks like a Lambda on-failure record: replay its requestPayload"
            " (scripts/replay_failed_events.py)."
            if isinstance(event, dict) and "requestPayload" in event
            else ""
        )
        raise EnvelopeError(f"not an SNS event: no 'Records' list.{hint}")
    for record in records:
        if not isinstance(record, dict) or record.get("EventSource") != "aws:sns":
            raise EnvelopeError("not an SNS event: a record without EventSource aws:sns")
        if not isinstance(record.get("Sns"), dict):
            raise EnvelopeError("not an SNS event: a record without its 'Sns' message")
    return records
