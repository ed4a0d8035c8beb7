"""Long videos through submit and complete: a parent job, its segment jobs, one stitch, one
message (moto over HTTP, the fake async endpoint)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from lambdas import jobs, sweeper
from stacks import contract
from tests.integration.lambdas.lambda_harness import TABLE, WORK_BUCKET, Aws
from tests.integration.lambdas.test_lambda_complete_flow import _error, _success
from tests.integration.lambdas.test_lambda_recovery import _schedule, sweep_env  # noqa: F401
from tests.integration.lambdas.test_lambda_transient_retry import WORKER_DIED, _transient
from tests.schemas import validate

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "people-walking.mp4"  # 30 s


@pytest.fixture
def parent(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("SEGMENT_THRESHOLD_S", "8")
    monkeypatch.setenv("SEGMENT_OVERLAP_S", "2")
    (outcome,) = aws.submit(aws.upload_and_receive("videos/walk.mp4", SAMPLE.read_bytes()))["jobs"]
    assert outcome["detail"] == "segments"
    return aws.job(outcome["job_id"])


def _manifest(aws: Aws, uri: str) -> dict[str, Any]:
    key = uri.split("/", 3)[3]
    manifest = json.loads(aws.s3.get_object(Bucket=WORK_BUCKET, Key=key)["Body"].read())
    return validate(manifest, "job-manifest.schema.json")


def test_a_long_video_becomes_a_parent_with_segment_jobs_each_invoked_once(
    aws: Aws, parent: dict[str, Any]
) -> None:
    assert parent["duration_s"] == 30.0 and len(parent["segments"]) == 4
    assert "invoked_at" in parent  # all segments were accepted
    assert sorted(aws.endpoint.accepted_ids()) == sorted(parent["segments"])
    spans = []
    for job_id in parent["segments"]:
        segment = aws.job(job_id)
        assert segment["parent"] == parent["job_id"]
        spans.append(_manifest(aws, segment["manifest"])["segment"])
    assert spans[0] == {"index": 0, "start_s": 0.0, "end_s": 9.5}
    assert spans[-1]["end_s"] == 30.0
    stitch = _manifest(aws, parent["manifest"])["stitch"]
    assert stitch == [aws.job(job_id)["output"] for job_id in parent["segments"]]


def test_the_last_segment_requests_the_stitch_once_and_the_user_hears_once(
    aws: Aws, parent: dict[str, Any]
) -> None:
    segments = [aws.job(job_id) for job_id in parent["segments"]]
    *first, last = segments
    for segment in first:
        aws.complete(aws.sns_event(_success(aws, segment)))
    assert parent["job_id"] not in aws.endpoint.accepted_ids()
    events = [aws.sns_event(_success(aws, last)) for _ in range(3)]  # concurrent duplicates
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(aws.complete, events))
    assert aws.endpoint.accepted_ids().count(parent["job_id"]) == 1
    assert aws.notifications() == []  # segments are never announced
    stitched = {**aws.job(parent["job_id"]), "inference_output": None}
    stitched["inference_output"] = f"s3://{WORK_BUCKET}/async/{parent['job_id']}.out"
    aws.complete(aws.sns_event(_success(aws, stitched)))
    assert aws.job(parent["job_id"])["status"] == jobs.SUCCEEDED
    assert len(aws.notifications()) == 1


def test_a_failed_segment_fails_the_parent_naming_it_and_leaves_the_others_alone(
    aws: Aws, parent: dict[str, Any]
) -> None:
    broken = aws.job(parent["segments"][2])
    broken["inference_failure"] = f"s3://{WORK_BUCKET}/async-failures/{broken['job_id']}.err"
    aws.complete(aws.sns_event(_error(aws, broken)))
    failed = aws.job(parent["job_id"])
    assert failed["status"] == jobs.FAILED
    assert failed["reason"].startswith("Segment 2 (15-24 s")
    assert failed["failed_segment"] == broken["job_id"]
    assert [aws.job(i)["status"] for i in parent["segments"]].count(jobs.QUEUED) == 3
    (message,) = aws.notifications()
    assert parent["job_id"] in json.dumps(message)
    ok = aws.job(parent["segments"][0])
    aws.complete(aws.sns_event(_success(aws, ok)))  # a later segment success changes nothing
    assert aws.job(parent["job_id"])["status"] == jobs.FAILED
    assert aws.notifications() == []


def test_a_transient_segment_failure_retries_that_segment_only(
    aws: Aws, parent: dict[str, Any]
) -> None:
    first = aws.job(parent["segments"][1])
    accepted = len(aws.endpoint.accepted())
    (outcome,) = aws.complete(aws.sns_event(_transient(aws, first, WORKER_DIED)))["jobs"]
    assert outcome["action"] == "retried"
    retried = aws.job(first["job_id"])
    assert retried["attempt"] == 2
    manifest = _manifest(aws, retried["manifest"])
    assert manifest["attempt"] == 2 and manifest["segment"] == first["segment"]  # same window
    assert aws.endpoint.accepted_ids()[accepted:] == [f"{first['job_id']}.attempt-2"]
    assert aws.job(parent["job_id"])["status"] == jobs.QUEUED
    assert aws.notifications() == []


def test_the_sweeper_fails_the_parent_when_a_segment_times_out(
    sweep_env: Aws,  # noqa: F811
    parent: dict[str, Any],
) -> None:
    aws = sweep_env
    for job_id in parent["segments"][1:]:
        aws.complete(aws.sns_event(_success(aws, aws.job(job_id))))
    swept = sweeper.handler(_schedule(after_s=3600 + 21600 + 3600))["jobs"]
    stuck = parent["segments"][0]
    assert {"job_id": stuck, "action": "timed-out"} in swept
    failed = aws.job(parent["job_id"])
    assert failed["status"] == jobs.FAILED and failed["failed_segment"] == stuck
    assert failed["reason"].startswith("Segment 0 (0-10 s")
    (message,) = aws.notifications()
    assert parent["job_id"] in json.dumps(message)
    assert parent["job_id"] not in aws.endpoint.accepted_ids()  # no stitch of a failed video


def test_the_sweeper_requests_the_stitch_when_the_last_notification_was_lost(
    sweep_env: Aws,  # noqa: F811
    parent: dict[str, Any],
) -> None:
    aws = sweep_env
    *first, last = [aws.job(job_id) for job_id in parent["segments"]]
    for segment in first:
        aws.complete(aws.sns_event(_success(aws, segment)))
    _success(aws, last)  # the result is written; its notification never arrives
    swept = sweeper.handler(_schedule(after_s=600))["jobs"]
    assert {"job_id": last["job_id"], "action": "result-applied"} in swept
    assert aws.endpoint.accepted_ids().count(parent["job_id"]) == 1
    stitching = aws.job(parent["job_id"])
    assert "stitch_invoked_at" in stitching and stitching["status"] == jobs.QUEUED
    sweeper.handler(_schedule(after_s=600))  # a second sweep does not stitch again
    assert aws.endpoint.accepted_ids().count(parent["job_id"]) == 1
    aws.complete(aws.sns_event(_success(aws, aws.job(parent["job_id"]))))
    assert aws.job(parent["job_id"])["status"] == jobs.SUCCEEDED
    assert len(aws.notifications()) == 1


def test_a_long_matroska_video_is_planned_from_its_header(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SEGMENT_THRESHOLD_S", "8")
    monkeypatch.setenv("SEGMENT_OVERLAP_S", "2")
    with av.open(str(tmp_path / "long.mkv"), "w") as container:
        stream = container.add_stream("libx264", rate=2)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(60):  # 30 s
            image = np.full((48, 64, 3), index, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    event = aws.upload_and_receive("videos/long.mkv", (tmp_path / "long.mkv").read_bytes())
    (outcome,) = aws.submit(event)["jobs"]
    assert outcome["detail"] == "segments"
    record = aws.job(outcome["job_id"])
    assert record["duration_s"] == pytest.approx(30.0, abs=0.5)
    assert len(record["segments"]) == 4


def test_a_parent_whose_segments_were_never_handed_over_times_out_once(
    sweep_env: Aws,  # noqa: F811
) -> None:
    aws = sweep_env
    store = jobs.JobStore(TABLE)
    now = jobs.utc_now()
    # submit registered the parent, then died before creating and invoking any segment
    store.create(
        {
            "job_id": "long-0001",
            "status": jobs.QUEUED,
            "created_at": now,
            "updated_at": now,
            "segments": ["long-0001-s000", "long-0001-s001"],
        }
    )
    late = contract.SWEEP_PENDING_AFTER_S + contract.SWEEP_GRACE_S + 1
    swept = sweeper.handler(_schedule(after_s=late))["jobs"]
    assert {"job_id": "long-0001", "action": "timed-out"} in swept
    assert aws.job("long-0001")["failed_stage"] == jobs.STAGE_TIMEOUT
    assert len(aws.notifications()) == 1


def test_reading_many_segments_batches_them_by_dynamodbs_limit(aws: Aws) -> None:
    """BatchGetItem takes at most 100 keys a request: a 6-hour video at 60 s segments has 360."""
    store = jobs.JobStore(TABLE)
    now = jobs.utc_now()
    ids = [f"long-s{index:03d}" for index in range(150)]
    for job_id in ids:
        store.create({"job_id": job_id, "status": jobs.QUEUED, "created_at": now})
    found = store.get_many([*ids, "never-created", ids[0]])
    assert sorted(found) == sorted(ids)
    assert found[ids[149]]["status"] == jobs.QUEUED
