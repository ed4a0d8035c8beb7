"""Issue 11 item 9 against a moto server: a transient inference failure (worker died, timeout)
is retried by ``complete`` a bounded number of times, each time as a new attempt (manifest
attempt number, InferenceId, container claim); a bad video is not retried; the user is told
once, at the terminal state."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from lambdas import complete, jobs
from stacks import contract
from stacks.settings import Settings
from tests.integration.lambdas.lambda_harness import WORK_BUCKET, Aws
from tests.integration.lambdas.test_lambda_complete_flow import _error, _queued_job, _success

pytestmark = pytest.mark.integration

WORKER_DIED = "ServerError: The model container did not answer: connection reset by peer"
TIMED_OUT = "ClientError: The request timed out (InvocationTimeoutSeconds 3600 exceeded)."


@pytest.fixture
def retry_env(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    env = contract.retry_environment(
        work_bucket=WORK_BUCKET,
        endpoint_name="motflow-tracker",
        defaults=contract.job_defaults(Settings()),
    )
    for name, value in env.items():
        if name != "ENDPOINT_NAME":  # keep the harness's endpoint
            monkeypatch.setenv(name, value)
    return aws


def _transient(aws: Aws, record: dict[str, Any], failure_reason: str) -> dict[str, Any]:
    """SageMaker's error notification for the record's current attempt, no error body."""
    message = _error(aws, record, with_body=False)
    message["failureReason"] = failure_reason
    message["inferenceId"] = jobs.inference_id(record["job_id"], jobs.attempt_of(record))
    message["requestParameters"]["inputLocation"] = record["manifest"]
    return message


def _manifest(uri: str) -> dict[str, Any]:
    bucket, key = uri[len("s3://") :].split("/", 1)
    return json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def _messages_for(aws: Aws, job_id: str) -> list[dict[str, Any]]:
    found = [json.loads(n["Message"]) if "Message" in n else n for n in aws.notifications()]
    return [m for m in found if job_id in json.dumps(m)]


def test_a_dead_worker_is_retried_as_a_new_attempt_and_told_once(retry_env: Aws) -> None:
    aws = retry_env
    record = _queued_job(aws)
    job_id = record["job_id"]
    (outcome,) = aws.complete(aws.sns_event(_transient(aws, record, WORKER_DIED)))["jobs"]
    assert outcome["action"] == "retried"
    retried = aws.job(job_id)
    assert retried["status"] == jobs.QUEUED and retried["attempt"] == 2
    assert "invoked_at" in retried and retried["inference_output"] != record["inference_output"]
    assert "stopped" in retried["last_failure"]
    # A new InferenceId and a manifest with the new attempt number (so a new container claim).
    assert aws.endpoint.accepted_ids()[-2:] == [job_id, f"{job_id}.attempt-2"]
    assert _manifest(retried["manifest"])["attempt"] == 2
    assert _manifest(record["manifest"])["attempt"] == 1
    assert _messages_for(aws, job_id) == []  # nothing told while retrying
    # A late duplicate of the first attempt's failure is stale: no third request, no message.
    (stale,) = aws.complete(aws.sns_event(_transient(aws, record, WORKER_DIED)))["jobs"]
    assert stale["action"] == "duplicate" and len(aws.endpoint.accepted()) == 2
    aws.complete(aws.sns_event(_success(aws, retried)))
    assert aws.job(job_id)["status"] == jobs.SUCCEEDED
    assert len(_messages_for(aws, job_id)) == 1


def test_transient_failures_stop_after_the_bound_and_the_user_is_told_once(
    retry_env: Aws,
) -> None:
    aws = retry_env
    record = _queued_job(aws)
    job_id = record["job_id"]
    actions = []
    for _ in range(contract.INFERENCE_MAX_ATTEMPTS):
        current = aws.job(job_id)
        (outcome,) = aws.complete(aws.sns_event(_transient(aws, current, TIMED_OUT)))["jobs"]
        actions.append(outcome["action"])
    assert actions == ["retried"] * (contract.INFERENCE_MAX_ATTEMPTS - 1) + ["failed"]
    final = aws.job(job_id)
    assert final["status"] == jobs.FAILED and final["failed_stage"] == jobs.STAGE_INFERENCE
    assert final["attempt"] == contract.INFERENCE_MAX_ATTEMPTS
    assert len(aws.endpoint.accepted()) == contract.INFERENCE_MAX_ATTEMPTS
    assert len(_messages_for(aws, job_id)) == 1


def test_a_bad_video_is_not_retried(retry_env: Aws) -> None:
    aws = retry_env
    record = _queued_job(aws)
    (outcome,) = aws.complete(aws.sns_event(_error(aws, record)))["jobs"]
    assert outcome["action"] == "failed"
    assert len(aws.endpoint.accepted()) == 1
    assert "attempt" not in aws.job(record["job_id"])


def test_a_retry_whose_invocation_failed_is_finished_by_the_redelivery(retry_env: Aws) -> None:
    aws = retry_env
    record = _queued_job(aws)
    job_id = record["job_id"]
    aws.endpoint.reject_inference_id(f"{job_id}.attempt-2")
    with pytest.raises(complete.CompleteError):
        aws.complete(aws.sns_event(_transient(aws, record, WORKER_DIED)))
    assert aws.job(job_id)["failed_stage"] == jobs.STAGE_SUBMIT
    aws.endpoint.reset()
    # SNS -> Lambda redelivers the same notification: the retry is finished, not repeated.
    (outcome,) = aws.complete(aws.sns_event(_transient(aws, record, WORKER_DIED)))["jobs"]
    assert outcome["action"] == "retried"
    assert aws.endpoint.accepted_ids() == [f"{job_id}.attempt-2"]
    assert aws.job(job_id)["attempt"] == 2
