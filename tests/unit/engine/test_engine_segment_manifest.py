"""Segment and stitch manifests (model_code/handler.py): parsed into the Job, or refused."""

from __future__ import annotations

import json

import pytest

from model_code import handler as inference

BASE = {"job_id": "j-s001", "video": "s3://input/v.mp4", "output": "s3://work/results/j-s001/"}


def test_a_segment_manifest_carries_its_window() -> None:
    segment = {"index": 1, "start_s": 600, "end_s": 1202.0}
    job = inference.parse_request(json.dumps({**BASE, "segment": segment}), "application/json")
    assert job.segment == {"index": 1, "start_s": 600.0, "end_s": 1202.0}
    assert job.stitch == ()


def test_a_stitch_manifest_lists_the_segment_prefixes_in_order() -> None:
    prefixes = ["s3://work/results/j-s000/", "s3://work/results/j-s001/"]
    job = inference.parse_request(json.dumps({**BASE, "stitch": prefixes}), "application/json")
    assert job.stitch == tuple(prefixes) and job.segment is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"segment": {"index": 0, "start_s": 5}}, "segment must be"),
        ({"segment": {"index": 0, "start_s": 5, "end_s": 5}}, "0 <= start_s < end_s"),
        ({"stitch": ["s3://work/results/a/"]}, "at least two"),
    ],
)
def test_bad_segment_fields_are_refused_with_the_field_named(extra: dict, message: str) -> None:
    with pytest.raises(inference.HttpError, match=message):
        inference.parse_request(json.dumps({**BASE, **extra}), "application/json")
