"""An upload's analytics spec from its sidecar `<video>.analytics.json`: read with the video and
put into the manifest's options; a bad one rejects the upload naming the field; the sidecar's
own upload event makes no job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambdas import jobs
from tests.integration.lambdas.lambda_harness import MP4_HEADER, WORK_BUCKET, Aws

pytestmark = pytest.mark.integration

SPEC = json.loads(
    (Path(__file__).resolve().parents[3] / "samples" / "people-walking.analytics.json").read_text()
)


def _manifest(aws: Aws, job_id: str) -> dict:
    body = aws.s3.get_object(Bucket=WORK_BUCKET, Key=f"jobs/{job_id}.json")["Body"].read()
    return json.loads(body)


def test_the_sidecar_spec_reaches_the_manifest_and_its_own_upload_is_ignored(aws: Aws) -> None:
    sidecar_event = aws.upload_and_receive(
        "videos/hall.mp4.analytics.json", json.dumps(SPEC).encode()
    )
    (ignored,) = aws.submit(sidecar_event)["jobs"]
    assert ignored["action"] == "ignored" and ignored["job_id"] is None
    (outcome,) = aws.submit(aws.upload_and_receive("videos/hall.mp4", MP4_HEADER))["jobs"]
    assert outcome["action"] == "queued"
    analytics = _manifest(aws, outcome["job_id"])["options"]["analytics"]
    assert [line["name"] for line in analytics["lines"]] == ["room"]
    assert [zone["name"] for zone in analytics["zones"]] == ["table"]


def test_a_bad_sidecar_rejects_the_video_naming_the_field(aws: Aws) -> None:
    broken = {**SPEC, "lines": [{"name": "room", "points": [[0, 0]]}]}
    aws.upload_and_receive("videos/door.mp4.analytics.json", json.dumps(broken).encode())
    (outcome,) = aws.submit(aws.upload_and_receive("videos/door.mp4", MP4_HEADER))["jobs"]
    record = aws.job(outcome["job_id"])
    assert record["status"] == jobs.REJECTED
    assert "door.mp4.analytics.json" in record["reason"] and "lines[0]" in record["reason"]
    assert aws.endpoint.accepted_ids() == []
