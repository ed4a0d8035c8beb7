"""submit.handler fed real S3 -> SQS events from a moto server, invoking a fake async endpoint."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from lambdas import jobs, lifecycle, manifests, submit
from tests.integration.lambdas.fake_sagemaker_runtime import INVALID, THROTTLED, UNAVAILABLE
from tests.integration.lambdas.lambda_harness import (
    AVI_HEADER,
    ENDPOINT,
    INPUT_BUCKET,
    JOB_OPTIONS,
    JOB_RETENTION_DAYS,
    MAX_VIDEO_BYTES,
    MKV_HEADER,
    MP4_HEADER,
    WORK_BUCKET,
    Aws,
    LambdaContext,
)
from tests.schemas import validate

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "people-walking.mp4"


def _only_job(result: dict) -> dict:
    (outcome,) = result["jobs"]
    return outcome


def test_a_good_upload_is_queued_with_a_manifest_and_one_invocation(aws: Aws) -> None:
    event = aws.upload_and_receive("videos/people-walking.mp4", SAMPLE.read_bytes())
    assert len(aws.test_events) == 1  # moto's first message is the s3:TestEvent
    assert submit.handler(aws.test_events[0], None) == {"jobs": []}

    outcome = _only_job(aws.submit(event))

    assert outcome["action"] == "queued"
    job_id = outcome["job_id"]
    assert job_id.startswith("people-walking-")
    record = aws.job(job_id)
    assert record["status"] == jobs.QUEUED
    assert record["video"] == f"s3://{INPUT_BUCKET}/videos/people-walking.mp4"
    assert record["manifest"] == f"s3://{WORK_BUCKET}/jobs/{job_id}.json"
    assert record["container"] == "MP4/MOV"
    assert record["size_bytes"] == SAMPLE.stat().st_size
    assert record["inference_output"].startswith(f"s3://{WORK_BUCKET}/async-output/")
    assert record["inference_failure"].startswith(f"s3://{WORK_BUCKET}/async-failures/")
    assert "invoke_lease" not in record
    manifest = json.loads(
        aws.s3.get_object(Bucket=WORK_BUCKET, Key=f"jobs/{job_id}.json")["Body"].read()
    )
    validate(manifest, "job-manifest.schema.json")
    assert manifest == {
        "job_id": job_id,
        "video": f"s3://{INPUT_BUCKET}/videos/people-walking.mp4",
        # An unversioned bucket: the manifest pins the upload's ETag, in its quoted HTTP form.
        "video_version": f'"{event["Records"][0]["s3"]["object"]["eTag"].strip(chr(34))}"',
        "output": f"s3://{WORK_BUCKET}/results/{job_id}/",
        "options": JOB_OPTIONS,
        "attempt": 1,  # the container claims each attempt once (model_code/claims.py)
    }
    days_left = (record[jobs.TTL_ATTRIBUTE] - time.time()) / 86400
    assert JOB_RETENTION_DAYS - 1 < days_left <= JOB_RETENTION_DAYS
    (request,) = aws.endpoint.requests
    assert request.endpoint == ENDPOINT
    assert request.inference_id == job_id
    assert request.input_location == record["manifest"]
    assert request.content_type == "application/json"
    assert request.invocation_timeout_s == "3600"
    assert request.request_ttl_s == "21600"
    assert jobs.list_jobs(jobs.QUEUED)[0]["job_id"] == job_id
    assert aws.notifications() == []  # the user hears about terminal states only


@pytest.mark.parametrize(
    "key",
    [
        "videos/my holiday clip.mp4",
        "videos/a+b=c & d.mov",
        "videos/日本語/vidéo ünïcødé 🎥.mkv",
        "videos/2026/11/21/camera-07/deep/prefix/clip.avi",
    ],
)
def test_awkward_keys_arrive_decoded_and_are_queued(aws: Aws, key: str) -> None:
    header = {".mp4": MP4_HEADER, ".mov": MP4_HEADER, ".mkv": MKV_HEADER, ".avi": AVI_HEADER}
    event = aws.upload_and_receive(key, header[key[key.rindex(".") :]])

    outcome = _only_job(aws.submit(event))

    assert outcome["action"] == "queued"
    record = aws.job(outcome["job_id"])
    assert record["key"] == key
    assert record["video"] == f"s3://{INPUT_BUCKET}/{key}"
    assert aws.endpoint.accepted_ids() == [outcome["job_id"]]
    manifest = json.loads(
        aws.s3.get_object(Bucket=WORK_BUCKET, Key=f"jobs/{outcome['job_id']}.json")["Body"].read()
    )
    assert manifest["video"] == f"s3://{INPUT_BUCKET}/{key}"


def test_the_same_event_twice_invokes_once(aws: Aws) -> None:
    event = aws.upload_and_receive("videos/twice.mp4", MP4_HEADER)

    first = _only_job(aws.submit(event))
    second = _only_job(aws.submit(event))

    assert first["action"] == "queued"
    assert second == {**first, "action": "duplicate"}
    assert aws.endpoint.accepted_ids() == [first["job_id"]]


def test_two_events_for_one_object_make_one_job(aws: Aws) -> None:
    aws.upload("videos/same.mp4", MP4_HEADER)
    aws.upload("videos/same.mp4", MP4_HEADER)  # same bytes again: same ETag, same object
    events = aws.s3_events(2)

    outcomes = [_only_job(aws.submit(event)) for event in events]

    assert [o["action"] for o in outcomes] == ["queued", "duplicate"]
    assert outcomes[0]["job_id"] == outcomes[1]["job_id"]
    assert len(aws.endpoint.requests) == 1


def test_a_new_upload_of_the_same_key_is_a_new_job(aws: Aws) -> None:
    first = _only_job(aws.submit(aws.upload_and_receive("videos/cam.mp4", MP4_HEADER)))
    second = _only_job(aws.submit(aws.upload_and_receive("videos/cam.mp4", MP4_HEADER + b"x")))

    assert first["job_id"] != second["job_id"]
    assert sorted(aws.endpoint.accepted_ids()) == sorted([first["job_id"], second["job_id"]])


def _assert_rejected(aws: Aws, event: dict, reason_part: str) -> dict:
    outcome = _only_job(aws.submit(event))
    assert outcome["action"] == "rejected"
    record = aws.job(outcome["job_id"])
    assert record["status"] == jobs.REJECTED
    assert reason_part in record["reason"]
    assert aws.endpoint.requests == []
    (note,) = aws.notifications()
    assert note["Subject"].endswith(" rejected")
    assert record["reason"] in note["Message"]
    assert note["MessageAttributes"]["status"]["Value"] == jobs.REJECTED
    # A duplicate of a rejected upload is a no-op: no second message, no invocation.
    assert _only_job(aws.submit(event))["action"] == "duplicate"
    assert aws.notifications() == []
    assert aws.endpoint.requests == []
    return record


def test_an_empty_object_is_rejected(aws: Aws) -> None:
    record = _assert_rejected(aws, aws.upload_and_receive("videos/empty.mp4", b""), "empty")
    assert record["size_bytes"] == 0


def test_a_text_file_named_mp4_is_rejected(aws: Aws) -> None:
    event = aws.upload_and_receive("videos/notes.mp4", b"hello, this is not a video\n" * 4)
    record = _assert_rejected(aws, event, "not a video we can read")
    assert "text ('hello, this " in record["reason"]


def test_an_object_over_the_size_limit_is_rejected(aws: Aws) -> None:
    body = MP4_HEADER + b"\x00" * MAX_VIDEO_BYTES
    record = _assert_rejected(aws, aws.upload_and_receive("videos/huge.mp4", body), "limit")
    assert record["size_bytes"] == len(body)


def test_a_non_video_suffix_is_rejected(aws: Aws) -> None:
    event = aws.upload_and_receive("videos/report.pdf", b"%PDF-1.7")
    _assert_rejected(aws, event, "not a video file name")


def test_folder_markers_and_keys_outside_the_prefix_are_ignored(aws: Aws, monkeypatch) -> None:
    marker = aws.upload_and_receive("videos/new-folder/", b"")
    assert _only_job(aws.submit(marker))["action"] == "ignored"
    monkeypatch.setenv("INPUT_PREFIX", "videos/cameras/")
    outside = aws.upload_and_receive("videos/elsewhere.mp4", MP4_HEADER)
    assert _only_job(aws.submit(outside))["action"] == "ignored"
    assert aws.endpoint.requests == []
    assert jobs.list_jobs(jobs.REJECTED) == [] and jobs.list_jobs(jobs.QUEUED) == []


def test_throttling_then_success_is_retried_to_one_invocation(aws: Aws) -> None:
    aws.endpoint.answer_next(THROTTLED, UNAVAILABLE)
    event = aws.upload_and_receive("videos/busy.mp4", MP4_HEADER)

    outcome = _only_job(aws.submit(event))

    assert outcome["action"] == "queued"
    assert [r.status for r in aws.endpoint.requests] == [THROTTLED, UNAVAILABLE, 202]
    assert aws.endpoint.accepted_ids() == [outcome["job_id"]]
    assert aws.job(outcome["job_id"])["status"] == jobs.QUEUED


def test_throttling_until_the_bound_keeps_the_job_unannounced_and_a_retry_invokes_once(
    aws: Aws,
) -> None:
    aws.endpoint.answer_always(THROTTLED)
    event = aws.upload_and_receive("videos/unlucky.mp4", MP4_HEADER)

    with pytest.raises(submit.SubmitError, match="ThrottlingException"):
        aws.submit(event)

    assert len(aws.endpoint.requests) == 3  # INVOKE_MAX_ATTEMPTS, then the event is retried
    (waiting,) = jobs.list_jobs(jobs.QUEUED)
    assert lifecycle.phase_of(waiting) == lifecycle.PENDING and "invoke_lease" not in waiting
    assert "ThrottlingException" in waiting["last_submit_error"]
    assert "3 attempt" in waiting["last_submit_error"]
    assert aws.notifications() == []  # not an outcome: nothing is announced

    aws.endpoint.answer_always(None)
    retried = _only_job(aws.submit(event))  # Lambda's retry of the event (or a DLQ replay)
    again = _only_job(aws.submit(event))

    assert retried == {**retried, "job_id": waiting["job_id"], "action": "queued"}
    assert again["action"] == "duplicate"
    assert aws.endpoint.accepted_ids() == [waiting["job_id"]]
    assert aws.job(waiting["job_id"])["invoke_attempts"] == 2
    assert aws.notifications() == []


def test_a_validation_refusal_fails_the_job_once_and_a_replay_invokes_once(aws: Aws) -> None:
    aws.endpoint.answer_always(INVALID)
    event = aws.upload_and_receive("videos/refused.mp4", MP4_HEADER)

    with pytest.raises(submit.SubmitError, match="ValidationError"):
        aws.submit(event)

    assert len(aws.endpoint.requests) == 1  # a 4xx is final: no retry
    (failed,) = jobs.list_jobs(jobs.FAILED)
    assert failed["failed_stage"] == "submit" and "ValidationError" in failed["reason"]
    (note,) = aws.notifications()
    assert note["Subject"] == "motflow: refused.mp4 failed"
    assert "kept for a replay" in note["Message"]

    aws.endpoint.answer_always(None)
    replayed = _only_job(aws.submit(event))  # the operator fixed the endpoint and replays
    assert replayed["action"] == "queued"
    assert aws.endpoint.accepted_ids() == [failed["job_id"]]
    record = aws.job(failed["job_id"])
    assert record["status"] == jobs.QUEUED and "reason" not in record


def test_a_bad_record_does_not_block_the_others_in_its_event(aws: Aws) -> None:
    aws.upload("videos/good.mp4", MP4_HEADER)
    aws.upload("videos/bad.mp4", MP4_HEADER + b"bad")
    good, bad = aws.s3_events(2)
    bad_id = jobs.job_id_for(
        INPUT_BUCKET, "videos/bad.mp4", bad["Records"][0]["s3"]["object"]["eTag"]
    )
    aws.endpoint.reject_inference_id(bad_id)
    batch = {"Records": bad["Records"] + good["Records"]}

    with pytest.raises(submit.SubmitError, match="1 record"):
        aws.submit(batch)

    assert aws.job(bad_id)["status"] == jobs.FAILED
    (queued,) = jobs.list_jobs(jobs.QUEUED)
    assert queued["key"] == "videos/good.mp4"
    assert aws.endpoint.accepted_ids() == [queued["job_id"]]


def test_a_claimed_job_without_invocation_is_invoked_exactly_once_on_replay(aws: Aws) -> None:
    event = aws.upload_and_receive("videos/crashed.mp4", MP4_HEADER)
    obj = submit.s3_events.parse_record(event["Records"][0])
    store = jobs.JobStore("motflow-jobs")
    job_id = jobs.job_id_for(obj.bucket, obj.key, obj.etag)
    # A previous attempt wrote the manifest and claimed the job, then crashed before invoking.
    settings = submit.config.SubmitSettings.from_env()
    assert store.create(
        {
            "job_id": job_id,
            "status": jobs.QUEUED,
            "created_at": jobs.utc_now(),
            "key": obj.key,
            "video": obj.uri,
            "manifest": manifests.write_manifest(job_id, obj, settings),
        }
    )

    first = _only_job(aws.submit(event))
    second = _only_job(aws.submit(event))

    assert (first["action"], second["action"]) == ("queued", "duplicate")
    assert aws.endpoint.accepted_ids() == [job_id]
    assert "invoked_at" in aws.job(job_id)


def test_a_live_invoke_lease_defers_the_replay_until_it_expires(aws: Aws) -> None:
    event = aws.upload_and_receive("videos/racing.mp4", MP4_HEADER)
    store = jobs.JobStore("motflow-jobs")
    aws.endpoint.answer_always(INVALID)
    with pytest.raises(submit.SubmitError):
        aws.submit(event)  # leaves a FAILED (submit) job with no invocation
    (job,) = jobs.list_jobs(jobs.FAILED)
    aws.endpoint.reset()
    # Another attempt, still running, holds the lease for one more second.
    assert store.acquire_invoke_lease(job["job_id"], "other-attempt", time.time() + 1.0)

    with pytest.raises(submit.SubmitError, match="JobBusy"):
        aws.submit(event, LambdaContext(remaining_s=60))
    assert aws.endpoint.requests == []

    time.sleep(1.1)  # the other attempt's deadline passes: it can no longer be running
    assert _only_job(aws.submit(event, LambdaContext(remaining_s=60)))["action"] == "queued"
    assert aws.endpoint.accepted_ids() == [job["job_id"]]
