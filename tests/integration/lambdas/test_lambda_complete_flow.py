"""complete.handler fed SageMaker async notifications delivered by moto SNS -> SQS."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas import complete, inference, jobs
from tests.integration.lambdas.lambda_harness import (
    ENDPOINT,
    INPUT_BUCKET,
    MP4_HEADER,
    REGION,
    WORK_BUCKET,
    Aws,
)

pytestmark = pytest.mark.integration


def _queued_job(aws: Aws, key: str = "videos/walk.mp4") -> dict[str, Any]:
    (outcome,) = aws.submit(aws.upload_and_receive(key, MP4_HEADER))["jobs"]
    return aws.job(outcome["job_id"])


def _summary(job_id: str) -> dict[str, Any]:
    results = f"s3://{WORK_BUCKET}/results/{job_id}"
    return {
        "job_id": job_id,
        "video": {"codec": "h264", "fps": 10.0, "frames": 300, "width": 768, "height": 432,
                  "duration_s": 30.0},
        "options": {"stride": 2},
        "counts": {"frames_processed": 150, "tracks": 3, "detections": 412},
        "timings": {"download_s": 0.1, "decode_s": 1.2, "detect_s": 9.9, "track_s": 0.1,
                    "write_s": 0.2, "total_s": 11.5},
        "artifacts": {"tracks_mot": f"{results}/tracks.txt",
                      "tracks_jsonl": f"{results}/tracks.jsonl",
                      "annotated": None,
                      "summary": f"{results}/summary.json"},
        "versions": {"motflow": "0.1.0", "detector": "yolov3-tiny", "tracker": "bytetrack"},
    }  # fmt: skip


def _success(aws: Aws, record: dict[str, Any]) -> dict[str, Any]:
    """SageMaker's success notification, with the summary it points at written to S3."""
    output = aws.put_json(
        WORK_BUCKET, record["inference_output"].split("/", 3)[3], _summary(record["job_id"])
    )
    return {
        "awsRegion": REGION,
        "eventTime": "2026-11-21T11:30:12.345Z",
        "receivedTime": "2026-11-21T11:29:59.001Z",
        "invocationStatus": "Completed",
        "requestParameters": {
            "contentType": "application/json",
            "endpointName": ENDPOINT,
            "inputLocation": record["manifest"],
        },
        "responseParameters": {"contentType": "application/json", "outputLocation": output},
        "inferenceId": jobs.inference_id(record["job_id"], jobs.attempt_of(record)),
        "eventVersion": "1.0",
        "eventSource": "aws:sagemaker",
        "eventName": "InferenceResult",
    }


def _error(aws: Aws, record: dict[str, Any], with_body: bool = True) -> dict[str, Any]:
    """SageMaker's error notification; the failure body is what the container answered."""
    failure = record["inference_failure"]
    if with_body:
        aws.put_json(
            WORK_BUCKET,
            failure.split("/", 3)[3],
            {"code": 400, "message": "VideoError: the file has no decodable frames"},
        )
    return {
        "awsRegion": REGION,
        "eventTime": "2026-11-21T11:31:00.000Z",
        "receivedTime": "2026-11-21T11:29:59.001Z",
        "invocationStatus": "Failed",
        "failureReason": "ClientError: Received client error (400) from primary with message"
        " \"the file has no decodable frames\". See the endpoint logs.",
        "requestParameters": {"endpointName": ENDPOINT, "inputLocation": record["manifest"]},
        "responseParameters": {"contentType": "text/plain; charset=utf-8",
                               "failureLocation": failure},
        "inferenceId": jobs.inference_id(record["job_id"], jobs.attempt_of(record)),
        "eventVersion": "1.0",
        "eventSource": "aws:sagemaker",
        "eventName": "InferenceResult",
    }  # fmt: skip


def test_a_success_notification_completes_the_job_and_tells_the_user(aws: Aws) -> None:
    record = _queued_job(aws)
    message = _success(aws, record)

    result = aws.complete(aws.sns_event(message))

    assert result["jobs"] == [{"job_id": record["job_id"], "status": "SUCCEEDED",
                               "action": "succeeded"}]  # fmt: skip
    done = aws.job(record["job_id"])
    assert done["status"] == jobs.SUCCEEDED
    results = f"s3://{WORK_BUCKET}/results/{record['job_id']}"
    assert done["outputs"] == {"tracks_mot": f"{results}/tracks.txt",
                               "tracks_jsonl": f"{results}/tracks.jsonl",
                               "summary": f"{results}/summary.json"}  # fmt: skip
    assert done["counts"] == {"frames_processed": 150, "tracks": 3, "detections": 412}
    assert done["timings"]["total_s"] == 11.5
    assert done["video_info"]["fps"] == 10.0
    assert done["summary_location"] == message["responseParameters"]["outputLocation"]
    assert "completed_at" in done and done["outbox"]["id"] == f"{record['job_id']}:SUCCEEDED"
    assert [j["job_id"] for j in jobs.list_jobs(jobs.SUCCEEDED)] == [record["job_id"]]
    (note,) = aws.notifications()
    assert aws.job(record["job_id"])["notified_id"] == done["outbox"]["id"]
    assert note["MessageAttributes"]["dedup_id"]["Value"] == done["outbox"]["id"]
    assert note["Subject"] == "motflow: walk.mp4 tracked"
    assert "Tracks: 3" in note["Message"] and f"{results}/tracks.txt" in note["Message"]
    assert f"s3://{INPUT_BUCKET}/videos/walk.mp4" in note["Message"]


def test_a_duplicate_success_is_a_no_op(aws: Aws) -> None:
    record = _queued_job(aws)
    message = _success(aws, record)
    aws.complete(aws.sns_event(message))
    aws.notifications()
    before = aws.job(record["job_id"])

    result = aws.complete(aws.sns_event(message))

    assert result["jobs"][0]["action"] == "duplicate"
    assert aws.job(record["job_id"]) == before
    assert aws.notifications() == []


def test_an_error_notification_fails_the_job_with_the_reason(aws: Aws) -> None:
    record = _queued_job(aws, "videos/broken clip.mp4")

    result = aws.complete(aws.sns_event(_error(aws, record)))

    assert result["jobs"][0]["action"] == "failed"
    failed = aws.job(record["job_id"])
    assert failed["status"] == jobs.FAILED and failed["failed_stage"] == "inference"
    assert failed["reason"] == (
        "the file has no decodable frames. Check that the file plays, then upload it again."
    )
    (note,) = aws.notifications()
    assert note["Subject"] == "motflow: broken clip.mp4 failed"
    assert "no decodable frames" in note["Message"]


def test_a_duplicate_error_is_a_no_op(aws: Aws) -> None:
    record = _queued_job(aws)
    message = _error(aws, record, with_body=False)
    aws.complete(aws.sns_event(message))
    aws.notifications()
    before = aws.job(record["job_id"])
    assert before["reason"].startswith("The tracking engine failed")

    assert aws.complete(aws.sns_event(message))["jobs"][0]["action"] == "duplicate"
    assert aws.job(record["job_id"]) == before
    assert aws.notifications() == []


def test_a_late_error_after_success_changes_nothing(aws: Aws) -> None:
    record = _queued_job(aws)
    aws.complete(aws.sns_event(_success(aws, record)))
    aws.notifications()
    before = aws.job(record["job_id"])

    result = aws.complete(aws.sns_event(_error(aws, record)))

    assert result["jobs"][0] == {"job_id": record["job_id"], "status": "SUCCEEDED",
                                 "action": "duplicate"}  # fmt: skip
    assert aws.job(record["job_id"]) == before
    assert aws.notifications() == []


def test_the_endpoint_test_notification_is_ignored(aws: Aws) -> None:
    record = _queued_job(aws)
    for message in (
        {"eventName": "TestNotification", "eventSource": "aws:sagemaker", "awsRegion": REGION},
        "This is a test notification from Amazon SageMaker.",
    ):
        assert aws.complete(aws.sns_event(message))["jobs"] == [
            {"job_id": None, "status": None, "action": "ignored"}
        ]
    assert aws.job(record["job_id"])["status"] == jobs.QUEUED
    assert aws.notifications() == []


def test_a_notification_for_an_unknown_job_is_ignored(aws: Aws) -> None:
    record = _queued_job(aws)
    stranger = {**_error(aws, record, with_body=False), "inferenceId": "not-ours-0123"}

    assert aws.complete(aws.sns_event(stranger))["jobs"][0]["action"] == "unknown-job"
    assert aws.job(record["job_id"])["status"] == jobs.QUEUED


def test_a_success_whose_summary_is_missing_fails_the_job(aws: Aws) -> None:
    record = _queued_job(aws)
    message = _success(aws, record)
    message["responseParameters"]["outputLocation"] = f"s3://{WORK_BUCKET}/async-output/gone.out"

    aws.complete(aws.sns_event(message))

    failed = aws.job(record["job_id"])
    assert failed["status"] == jobs.FAILED
    assert failed["reason"].startswith("The tracking finished but its results could not be read")
    assert "gone.out" in failed["failure_detail"] and "s3://" not in failed["reason"]


def test_a_success_after_a_lost_submit_acknowledgement_still_completes(aws: Aws) -> None:
    # The invocation reached SageMaker but its answer was lost, so submit marked the job FAILED.
    record = _queued_job(aws)
    store = jobs.JobStore("motflow-jobs")
    store._db.update_item(
        TableName="motflow-jobs",
        Key={"job_id": {"S": record["job_id"]}},
        UpdateExpression="SET #s = :f, failed_stage = :stage, reason = :r REMOVE invoked_at",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":f": {"S": "FAILED"}, ":stage": {"S": "submit"},
                                   ":r": {"S": "read timeout"}},
    )  # fmt: skip

    aws.complete(aws.sns_event(_success(aws, record)))

    done = aws.job(record["job_id"])
    assert done["status"] == jobs.SUCCEEDED and "reason" not in done


def test_one_bad_message_does_not_block_the_others(aws: Aws, monkeypatch) -> None:
    first, second = _queued_job(aws, "videos/one.mp4"), _queued_job(aws, "videos/two.mp4")
    good = aws.sns_event(_success(aws, second))
    broken = aws.sns_event(_success(aws, first))

    def flaky_read(uri: str) -> dict[str, Any]:
        if uri == first["inference_output"]:
            raise ConnectionError("S3 read timed out")
        return real_read(uri)

    real_read = inference.read_summary
    monkeypatch.setattr(inference, "read_summary", flaky_read)
    with pytest.raises(complete.CompleteError, match="S3 read timed out"):
        aws.complete({"Records": broken["Records"] + good["Records"]})

    assert aws.job(second["job_id"])["status"] == jobs.SUCCEEDED
    assert aws.job(first["job_id"])["status"] == jobs.QUEUED  # retried with the event
    monkeypatch.setattr(inference, "read_summary", real_read)
    aws.complete(broken)
    assert aws.job(first["job_id"])["status"] == jobs.SUCCEEDED
