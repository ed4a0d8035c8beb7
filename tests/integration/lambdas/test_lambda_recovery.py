"""Issue 11 items 3, 4, 7 and 12 against a moto server: the sweeper, replay of on-failure records,
loud rejection of unknown envelopes, actionable reasons, and warnings that reach the user."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from lambdas import complete, jobs, lifecycle, s3_events, submit, sweeper
from scripts import replay_failed_events as replay
from stacks import contract
from tests.integration.lambdas.fake_sagemaker_runtime import THROTTLED
from tests.integration.lambdas.lambda_harness import (
    ENDPOINT,
    MP4_HEADER,
    REGION,
    TABLE,
    WORK_BUCKET,
    Aws,
)
from tests.integration.lambdas.test_lambda_complete_flow import _error, _success, _summary

pytestmark = pytest.mark.integration

SUBMIT_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:motflow-submit:$LATEST"
COMPLETE_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:motflow-complete:$LATEST"


@pytest.fixture
def sweep_env(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    env = contract.sweeper_environment(
        jobs_table=TABLE,
        notify_topic_arn=aws.notify_topic,
        endpoint_name=ENDPOINT,
        defaults=contract.JobDefaults(
            input_prefix="videos/",
            video_suffixes=(".mp4",),
            max_video_bytes=1000,
            invocation_timeout_s=3600,
            request_ttl_s=21600,
            job_options={},
            job_retention_days=None,
        ),
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return aws


def _schedule(after_s: float) -> dict[str, Any]:
    """EventBridge's scheduled event, `after_s` seconds from now."""
    at = datetime.now(UTC) + timedelta(seconds=after_s)
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:123456789012:rule/motflow-sweeper"],
        "detail": {},
    }


def _invoked_job(aws: Aws, name: str) -> dict[str, Any]:
    (outcome,) = aws.submit(aws.upload_and_receive(f"videos/{name}", MP4_HEADER))["jobs"]
    return aws.job(outcome["job_id"])


def _statuses(aws: Aws) -> list[str]:
    return [m["MessageAttributes"]["status"]["Value"] for m in aws.notifications()]


def test_the_sweeper_applies_a_result_whose_notification_was_lost(sweep_env: Aws) -> None:
    aws = sweep_env
    record = _invoked_job(aws, "lost-note.mp4")
    _success(aws, record)  # the summary is in S3; its SNS message never arrives

    assert sweeper.handler(_schedule(60), None) == {"jobs": []}  # within the grace period
    result = sweeper.handler(_schedule(contract.SWEEP_GRACE_S + 60), None)

    assert result["jobs"] == [{"job_id": record["job_id"], "action": "result-applied"}]
    assert aws.job(record["job_id"])["status"] == jobs.SUCCEEDED
    assert _statuses(aws) == [jobs.SUCCEEDED]


def test_the_sweeper_applies_a_failure_object_with_a_short_reason(sweep_env: Aws) -> None:
    aws = sweep_env
    record = _invoked_job(aws, "lost-error.mp4")
    failure = record["inference_failure"].split("/", 3)[3]
    trace = 'Traceback (most recent call last):\n  File "/opt/ml/model/code/x.py"\nKeyError: 3\n'
    aws.s3.put_object(Bucket=WORK_BUCKET, Key=failure, Body=trace.encode())

    sweeper.handler(_schedule(contract.SWEEP_GRACE_S + 60), None)

    failed = aws.job(record["job_id"])
    assert lifecycle.phase_of(failed) == lifecycle.FAILED_INFERENCE
    assert "KeyError" in failed["reason"] and "/opt/ml" not in failed["reason"]
    assert _statuses(aws) == [jobs.FAILED]


def test_the_sweeper_times_out_a_job_with_no_result_and_tells_the_user(sweep_env: Aws) -> None:
    aws = sweep_env
    record = _invoked_job(aws, "silent.mp4")
    deadline = 21600 + 3600 + contract.SWEEP_GRACE_S

    # Before the last moment a result could come, the sweeper only looks for one.
    assert sweeper.handler(_schedule(deadline - 120), None) == {
        "jobs": [{"job_id": record["job_id"], "action": "rechecking"}]
    }
    assert sweeper.handler(_schedule(deadline + 60), None)["jobs"] == [
        {"job_id": record["job_id"], "action": "timed-out"}
    ]

    failed = aws.job(record["job_id"])
    assert lifecycle.phase_of(failed) == lifecycle.FAILED_TIMEOUT
    assert failed["reason"].startswith("The tracking service accepted the job but reported no")
    (note,) = aws.notifications()
    assert "Upload the video again" in note["Message"]
    # Issue 21 hole 10: a timeout is final (no result can come after it), so a late success
    # cannot give the user a second, contradicting message.
    aws.complete(aws.sns_event(_success(aws, record)))
    assert lifecycle.phase_of(aws.job(record["job_id"])) == lifecycle.FAILED_TIMEOUT
    assert _statuses(aws) == []


def test_the_sweeper_times_out_a_job_that_was_never_handed_over(sweep_env: Aws) -> None:
    aws = sweep_env
    store = jobs.JobStore(TABLE)
    now = jobs.utc_now()
    store.create({"job_id": "stuck-1", "status": jobs.QUEUED, "created_at": now, "updated_at": now})

    sweeper.handler(_schedule(contract.SWEEP_PENDING_AFTER_S + contract.SWEEP_GRACE_S + 1), None)

    failed = aws.job("stuck-1")
    assert failed["failed_stage"] == jobs.STAGE_TIMEOUT
    assert "could not be handed to the tracking service in time" in failed["reason"]


def test_a_job_the_endpoint_kept_throttling_is_ended_once_by_the_sweeper(sweep_env: Aws) -> None:
    """A throttled submit is not an outcome; when no retry of the event gets through, the
    sweeper ends the job, naming the last answer, and the user hears once."""
    aws = sweep_env
    aws.endpoint.answer_always(THROTTLED)
    event = aws.upload_and_receive("videos/throttled.mp4", MP4_HEADER)
    for _ in range(3):  # the first delivery and Lambda's two retries
        with pytest.raises(submit.SubmitError):
            aws.submit(event)
    assert aws.notifications() == []
    late = contract.SWEEP_PENDING_AFTER_S + contract.SWEEP_GRACE_S + 1

    sweeper.handler(_schedule(late), None)
    sweeper.handler(_schedule(late + contract.SWEEP_INTERVAL_S), None)

    (failed,) = jobs.list_jobs(jobs.FAILED)
    assert failed["failed_stage"] == jobs.STAGE_TIMEOUT
    assert "last answer: ThrottlingException: Rate exceeded" in failed["reason"]
    assert _statuses(aws) == [jobs.FAILED]


def test_the_sweeper_rejects_other_envelopes(sweep_env: Aws) -> None:
    with pytest.raises(ValueError, match="not an EventBridge scheduled event"):
        sweeper.handler({"Records": []}, None)


def _on_failure_record(event: dict[str, Any], function_arn: str) -> str:
    """What Lambda sends to an on-failure destination (AWS Lambda developer guide)."""
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": "2026-12-01T22:00:00.000Z",
            "requestContext": {
                "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
                "functionArn": function_arn,
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {"errorMessage": "boom", "errorType": "SubmitError"},
        }
    )


def test_both_handlers_reject_an_unwrapped_on_failure_record_loudly(aws: Aws) -> None:
    event = aws.upload_and_receive("videos/wrapped.mp4", MP4_HEADER)
    wrapped = json.loads(_on_failure_record(event, SUBMIT_ARN))
    with pytest.raises(s3_events.EventError, match="requestPayload"):
        submit.handler(wrapped, None)
    with pytest.raises(complete.EnvelopeError, match="requestPayload"):
        complete.handler(wrapped, None)
    with pytest.raises(complete.EnvelopeError, match="aws:sns"):
        complete.handler(event, None)  # an S3 event sent to complete
    assert jobs.list_jobs(jobs.QUEUED) == []


def test_the_replay_script_unwraps_records_and_redrives_each_handler(aws: Aws) -> None:
    sqs = boto3.client("sqs")
    submit_dlq = sqs.create_queue(QueueName="submit-failed-events")["QueueUrl"]
    complete_dlq = sqs.create_queue(QueueName="complete-failed-events")["QueueUrl"]
    upload = aws.upload_and_receive("videos/replayed.mp4", MP4_HEADER)
    sqs.send_message(QueueUrl=submit_dlq, MessageBody=_on_failure_record(upload, SUBMIT_ARN))
    sqs.send_message(QueueUrl=submit_dlq, MessageBody=json.dumps({"not": "a record"}))
    handlers = {SUBMIT_ARN: submit.handler, COMPLETE_ARN: complete.handler}

    def deliver(function_arn: str, event: dict[str, Any]) -> None:
        handlers[function_arn](event, None)  # moto cannot run Lambdas: call the real handler

    report = replay.replay_queue(sqs, submit_dlq, deliver, max_messages=10)

    assert (report.replayed, report.unreadable, report.failed) == (1, 1, 0)
    (job,) = jobs.list_jobs(jobs.QUEUED)
    assert "invoked_at" in job
    note = aws.sns_event(_success(aws, job))
    sqs.send_message(QueueUrl=complete_dlq, MessageBody=_on_failure_record(note, COMPLETE_ARN))
    assert replay.replay_queue(sqs, complete_dlq, deliver, 10).replayed == 1
    assert aws.job(job["job_id"])["status"] == jobs.SUCCEEDED


def test_warnings_reach_the_record_and_the_notification(aws: Aws) -> None:
    record = _invoked_job(aws, "partial.mp4")
    message = _success(aws, record)
    summary = _summary(record["job_id"])
    summary["warnings"] = ["decoding skipped 12 damaged frames of 300"]
    aws.put_json(WORK_BUCKET, record["inference_output"].split("/", 3)[3], summary)

    aws.complete(aws.sns_event(message))

    assert aws.job(record["job_id"])["warnings"] == summary["warnings"]
    (note,) = aws.notifications()
    body = json.loads(note["Message"])  # the JSON notification (lambdas/messages.py)
    assert body["warnings"] == summary["warnings"]
    assert body["text"].startswith("Your video was tracked, with warnings:\n- decoding skipped")


@pytest.mark.parametrize(
    ("reason", "body", "expected"),
    [
        (
            'ClientError: Received client error (400) from primary with message "x"',
            "'clip.mp4' contains no decodable video frames\nTraceback (most recent call last):\n"
            '  File "/opt/ml/model/code/model_code/video.py", line 9\n',
            "'clip.mp4' contains no decodable video frames. Check that the file plays",
        ),
        (
            "ClientError: Received server error (500) from primary",
            'boom\nTraceback (most recent call last):\n  File "/tmp/x.py"\nValueError: at /tmp/a',
            "The tracking engine failed with ValueError. Upload the video again",
        ),
        (
            "ClientError: Inference timed out after 3600 s (InvocationTimeoutSeconds).",
            "Inference timed out",
            "Tracking took longer than the time limit.",
        ),
    ],
)
def test_failure_reasons_are_short_and_actionable(
    aws: Aws, reason: str, body: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One run per job, so a transient failure is final here and its reason reaches the record.
    monkeypatch.setenv("INFERENCE_MAX_ATTEMPTS", "1")
    record = _invoked_job(aws, "reasons.mp4")
    message = _error(aws, record, with_body=False)
    message["failureReason"] = reason
    aws.s3.put_object(
        Bucket=WORK_BUCKET, Key=record["inference_failure"].split("/", 3)[3], Body=body.encode()
    )

    aws.complete(aws.sns_event(message))

    text = aws.job(record["job_id"])["reason"]
    assert text.startswith(expected), text
    assert "\n" not in text and "/opt/ml" not in text and "/tmp" not in text
    assert "Traceback" not in text and len(text) <= 300
