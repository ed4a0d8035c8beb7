"""Issue 11 item 1, the container side: each attempt is claimed with a conditional put
(``IfNoneMatch="*"``, honoured by moto 5.2 as by S3), a duplicate request is a no-op that
downloads nothing, and ``complete`` ignores its reply."""

from __future__ import annotations

import json

import pytest

from lambdas import jobs
from model_code import handler as inference
from model_code.claims import claim_attempt, claim_key
from tests.integration.lambdas.lambda_harness import MP4_HEADER, WORK_BUCKET, Aws
from tests.integration.lambdas.test_lambda_complete_flow import _success

pytestmark = pytest.mark.integration


class _UnusedDetector:
    """A model whose detector must never run: a duplicate request stops before any work."""

    defaults = inference.TrackOptions()

    def detector(self, options: inference.TrackOptions) -> object:
        return object()  # calling it (or downloading the missing video) would raise


def test_an_attempt_is_claimed_once(aws: Aws) -> None:
    output = f"s3://{WORK_BUCKET}/results/job-1/"
    assert claim_key(output, 1) == "results/job-1/_claims/attempt-1.json"
    assert claim_attempt(output, "job-1", 1) is None
    winner = claim_attempt(output, "job-1", 1)
    assert winner is not None and winner["attempt"] == 1
    assert claim_attempt(output, "job-1", 2) is None  # a retry is a new attempt
    listed = aws.s3.list_objects_v2(Bucket=WORK_BUCKET, Prefix="results/job-1/")["Contents"]
    assert sorted(o["Key"] for o in listed) == [
        claim_key(output, 1),
        claim_key(output, 2),
    ]


def test_a_duplicate_request_is_a_cheap_no_op(aws: Aws) -> None:
    manifest = {
        "job_id": "job-2",
        "video": "s3://motflow-input/videos/never-downloaded.mp4",
        "output": f"s3://{WORK_BUCKET}/results/job-2/",
        "attempt": 1,
    }
    claim_attempt(manifest["output"], "job-2", 1)  # another worker got there first
    job = inference.parse_request(json.dumps(manifest), "application/json")

    reply = inference.run_request(job, _UnusedDetector())

    assert reply["duplicate"] is True and reply["job_id"] == "job-2"


def test_complete_ignores_the_reply_of_a_duplicate_request(aws: Aws) -> None:
    (outcome,) = aws.submit(aws.upload_and_receive("videos/twice.mp4", MP4_HEADER))["jobs"]
    record = aws.job(outcome["job_id"])
    message = _success(aws, record)
    duplicate = {"job_id": record["job_id"], "attempt": 1, "duplicate": True}
    aws.put_json(WORK_BUCKET, record["inference_output"].split("/", 3)[3], duplicate)

    aws.complete(aws.sns_event(message))

    assert aws.job(record["job_id"])["status"] == jobs.QUEUED
    assert aws.notifications() == []
