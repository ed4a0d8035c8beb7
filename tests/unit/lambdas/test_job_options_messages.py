"""Per-job options from S3 metadata (checked against the published schema) and the JSON
notification built from a job record."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from lambdas import job_options, messages, notify

SCHEMAS = Path(__file__).resolve().parents[3] / "docs" / "schemas"


def test_metadata_values_are_read_as_the_schema_types() -> None:
    options, tag, retry_of = job_options.from_metadata(
        {
            "motflow-stride": "3",
            "motflow-annotate": "true",
            "motflow-track-frames": "all",
            "motflow-classes": "person, car",
            "motflow-score-threshold": "0.25",
            "motflow-tracker": '{"track_buffer_s": 2}',
            "motflow-tag": " site-7 ",
            "motflow-retry-of": "walk-0123456789abcdef",
            "owner": "not ours",
        }
    )
    assert options == {
        "stride": 3,
        "annotate": True,
        "track_frames": "all",
        "classes": ["person", "car"],
        "score_threshold": 0.25,
        "tracker": {"track_buffer_s": 2},
    }
    assert (tag, retry_of) == ("site-7", "walk-0123456789abcdef")


def test_metadata_round_trips_through_to_metadata() -> None:
    options = {"detector": "yolox-onnx", "batch_size": None, "tracker": {"fuse_score": False}}
    metadata = job_options.to_metadata(options, "t", retry_of="j")
    assert all(key.startswith("motflow-") for key in metadata)
    assert job_options.from_metadata(metadata) == (options, "t", "j")


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"motflow-strde": "2"}, "unknown option 'strde'"),
        ({"motflow-stride": "0"}, "option 'stride' must be >= 1"),
        ({"motflow-stride": "two"}, "option 'stride' must be a whole number"),
        ({"motflow-annotate": "maybe"}, "option 'annotate' must be true or false"),
        ({"motflow-detector": "yolo9000"}, "option 'detector' must be one of"),
        ({"motflow-track-frames": "every"}, "option 'track_frames' must be one of sampled, all"),
        ({"motflow-classes": ","}, "option 'classes' needs at least 1"),
        ({"motflow-tracker": '{"buffer": 1}'}, "unknown option(s) tracker.buffer"),
        ({"motflow-tracker": "{oops"}, "option 'tracker' is not valid JSON"),
        ({"motflow-score-threshold": "1.5"}, "option 'score_threshold' must be <= 1"),
    ],
)
def test_bad_options_are_named(metadata: dict[str, str], message: str) -> None:
    with pytest.raises(job_options.OptionError, match=None) as caught:
        job_options.from_metadata(metadata)
    assert message in str(caught.value)


def test_the_small_validator_agrees_with_jsonschema() -> None:
    cases = [
        {},
        {"stride": 1},
        {"stride": True},
        {"stride": 1.5},
        {"batch_size": None},
        {"batch_size": 65},
        {"prefetch": -1},
        {"classes": []},
        {"classes": ["person", ""]},
        {"classes": "person"},
        {"tracker": {"max_aspect_ratio": None}},
        {"tracker": {"max_aspect_ratio": 0}},
        {"tracker": {"track_buffer_s": -1}},
        {"tracker": {"noise_scale_gain": 0}},
        {"tracker": {"fuse_score": 1}},
        {"tracker": {"match_threshold": 0.5, "nope": 1}},
        {"score_threshold": float("nan")},
        {"annotate": "true"},
        {"track_frames": "all"},
        {"track_frames": "ends"},
        {"track_frames": True},
        {"unknown": 1},
    ]
    schema = job_options.schema()
    for case in cases:
        library = jsonschema.Draft202012Validator(schema).is_valid(case)
        try:
            job_options.validate(case)
            ours = True
        except job_options.OptionError:
            ours = False
        if "score_threshold" in case:
            assert not ours  # jsonschema accepts NaN as a number; JSON has no NaN
            continue
        assert ours == library, case


def test_metadata_over_the_s3_limit_is_refused() -> None:
    with pytest.raises(job_options.OptionError, match="2048-byte limit"):
        job_options.to_metadata({"classes": ["x" * 60] * 40})


RECORD = {
    "job_id": "walk-0123456789abcdef",
    "status": "SUCCEEDED",
    "key": "videos/walk.mp4",
    "video": "s3://in/videos/walk.mp4",
    "version_id": "v1",
    "size_bytes": 1234,
    "tag": "site-7",
    "options": {"stride": 2},
    "counts": {"tracks": 3, "detections": 40, "frames_processed": 20},
    "timings": {"total_s": 4.5},
    "outputs": {"tracks_json": "s3://w/results/walk/tracks.json"},
    "warnings": ["decoding stopped at frame 87 of the 300 the file declares"],
    "created_at": "2026-12-01T10:00:00.000Z",
    "completed_at": "2026-12-01T10:00:09.000Z",
}


def test_notifications_are_json_with_a_subject_and_filter_attributes() -> None:
    published = messages.notification(RECORD, notify.subject_for(RECORD), notify.body_for(RECORD))
    body = json.loads(published["Message"])
    jsonschema.validate(body, json.loads((SCHEMAS / "notification.schema.json").read_text()))
    assert body["job_id"] == RECORD["job_id"] and body["status"] == "SUCCEEDED"
    assert body["input"] == {"uri": "s3://in/videos/walk.mp4", "version": "v1", "size_bytes": 1234}
    assert body["warnings"] == RECORD["warnings"] and body["options"] == {"stride": 2}
    assert body["text"] == notify.body_for(RECORD)
    assert published["Subject"] == "motflow: walk.mp4 tracked"
    assert published["MessageAttributes"] == {
        "job_id": {"DataType": "String", "StringValue": RECORD["job_id"]},
        "status": {"DataType": "String", "StringValue": "SUCCEEDED"},
        "tag": {"DataType": "String", "StringValue": "site-7"},
    }


def test_a_rejection_carries_its_reason_and_no_empty_tag_attribute() -> None:
    record = {
        "job_id": "j",
        "status": "REJECTED",
        "key": "videos/notes.txt",
        "reason": "'notes.txt' is not a video file name.",
        "tag": "",
    }
    published = messages.notification(record, "subject", notify.body_for(record))
    body = json.loads(published["Message"])
    jsonschema.validate(body, json.loads((SCHEMAS / "notification.schema.json").read_text()))
    assert body["reason"] == record["reason"] and "Reason: 'notes.txt'" in body["text"]
    assert set(published["MessageAttributes"]) == {"job_id", "status"}
    without_reason = messages.body_for({**record, "reason": None}, "text")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            without_reason, json.loads((SCHEMAS / "notification.schema.json").read_text())
        )


DEPLOYED = {"detector": "nanodet-g", "stride": 1}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"detector": "yolox-onnx"}, "serves only 'nanodet-g'"),
        ({"classes": ["person", "unicorn"]}, "'unicorn', not a class of nanodet-g"),
        ({"tracker": {"low_threshold": 0.8, "high_threshold": 0.5}}, "'tracker.low_threshold'"),
        ({"tracker": {"high_threshold": 0.1}}, "must not exceed 'tracker.high_threshold'"),
        ({"tracker": {"coast_s": 5, "track_buffer_s": 2}}, "'tracker.coast_s' (5)"),
    ],
)
def test_options_the_deployment_cannot_run_are_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(job_options.OptionError, match=re.escape(message)):
        job_options.check_for_deployment(job_options.validate(options), DEPLOYED)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"detector": "nanodet-g", "classes": ["Person", "car"]},
        {"tracker": {"low_threshold": 0.3, "high_threshold": 0.3}},
        {"tracker": {"coast_s": 1.5}},
    ],
)
def test_options_the_deployment_can_run_pass(options: dict[str, Any]) -> None:
    job_options.check_for_deployment(job_options.validate(options), DEPLOYED)


def test_trained_weights_leave_the_class_check_to_the_container() -> None:
    job_options.check_for_deployment({"classes": ["forklift"]}, DEPLOYED, trained_classes=True)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"tracker": {"track_buffer_s": 1e300}}, "tracker.track_buffer_s"),
        ({"tracker": {"min_box_area": 1e9}}, "tracker.min_box_area"),
        ({"tracker": {"low_threshold": 1e-200}}, "1e-200 is outside the storable range"),
        ({"stride": 10**39}, "stride"),
        ({"classes": ["x" * 65]}, "at most 64 characters"),
        ({"classes": ["person"] * 81}, "at most 80 items"),
    ],
)
def test_every_option_is_bounded(options: dict[str, Any], named: str) -> None:
    with pytest.raises(job_options.OptionError, match=re.escape(named)):
        job_options.validate(options)
