"""Issue 21's holes 1 and 2 and its option errors on moto: a bad option or an unbelievable header
is REJECTED (or not split) at submit, with a reason naming it, announced once, and without any
endpoint request. Each of these raised on every delivery, split a 3-frame file into 144 jobs, or
reached the container, before the bounds."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from lambdas import jobs
from tests.integration.lambdas.lambda_harness import INPUT_BUCKET, MP4_HEADER, Aws

pytestmark = pytest.mark.integration

DAY = 86400


def _submit(aws: Aws, name: str, body: bytes, metadata: dict[str, str]) -> dict[str, Any]:
    aws.s3.put_object(Bucket=INPUT_BUCKET, Key=f"videos/{name}", Body=body, Metadata=metadata)
    (outcome,) = aws.submit(aws.s3_events(1)[0])["jobs"]
    return aws.job(outcome["job_id"])


def _claiming(seconds: int) -> bytes:
    """The 3-frame MP4 with its movie header (mvhd, version 0) claiming `seconds`."""
    at = MP4_HEADER.index(b"mvhd") + 4
    timescale = struct.unpack(">I", MP4_HEADER[at + 12 : at + 16])[0]
    duration = struct.pack(">I", min(timescale * seconds, 0xFFFFFFFE))
    return MP4_HEADER[: at + 16] + duration + MP4_HEADER[at + 20 :]


@pytest.mark.parametrize(
    ("metadata", "named"),
    [
        ({"motflow-tracker": '{"track_buffer_s": 1e300}'}, "tracker.track_buffer_s"),
        ({"motflow-stride": "1" + "0" * 39}, "stride"),
        ({"motflow-stride": str(10**30)}, "stride"),
        ({"motflow-tracker": '{"low_threshold": 1e-200}'}, "tracker.low_threshold"),
        ({"motflow-classes": "person,unicorn"}, "classes"),
        ({"motflow-tracker": '{"low_threshold": 0.8, "high_threshold": 0.5}'}, "low_threshold"),
        ({"motflow-detector": "yolox-onnx"}, "detector"),
    ],
)
def test_hole_1_and_option_errors_are_rejected_at_submit_naming_the_option(
    aws: Aws, metadata: dict[str, str], named: str
) -> None:
    record = _submit(aws, "bad-option.mp4", MP4_HEADER, metadata)
    assert record["status"] == jobs.REJECTED
    assert named in record["reason"] and "Check that the file plays" not in record["reason"]
    assert aws.endpoint.requests == []  # no endpoint time
    (message,) = aws.notifications()  # announced once, from the outbox
    assert message["MessageAttributes"]["dedup_id"]["Value"] == f"{record['job_id']}:REJECTED"


def test_an_unknown_class_lists_every_class_of_the_detector(aws: Aws) -> None:
    reason = _submit(aws, "unicorn.mp4", MP4_HEADER, {"motflow-classes": "unicorn"})["reason"]
    assert "'unicorn'" in reason and "person" in reason and "toothbrush" in reason


def test_hole_2_a_header_claiming_a_day_on_three_frames_is_one_job(aws: Aws) -> None:
    record = _submit(aws, "claims-a-day.mp4", _claiming(DAY), {})
    assert record["status"] == jobs.QUEUED and "segments" not in record
    assert "duration_s" not in record and "86400" in record["duration_note"]
    assert len(aws.endpoint.requests) == 1


def test_hole_2_a_header_claiming_100_days_still_gets_a_record(aws: Aws) -> None:
    record = _submit(aws, "claims-100-days.mp4", _claiming(100 * DAY), {})
    assert record["status"] == jobs.QUEUED and "segments" not in record
    assert len(aws.endpoint.requests) == 1
