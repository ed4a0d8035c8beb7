"""Long-video planning: the header duration and the segment plan (lambdas/segments.py)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from lambdas import config, segments, video_magic
from stacks import contract
from stacks.settings import Settings, SettingsError

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "people-walking.mp4"


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _reader(data: bytes):
    return lambda offset, length: data[offset : offset + length]


def test_duration_comes_from_the_movie_header_of_a_real_file() -> None:
    data = SAMPLE.read_bytes()
    assert video_magic.mp4_tracks(_reader(data), len(data)).duration_s == pytest.approx(30.0)


@pytest.mark.parametrize(
    ("mvhd", "expected"),
    [
        (b"\x00\x00\x00\x00" + struct.pack(">IIII", 0, 0, 1000, 7_200_000), 7200.0),
        (b"\x01\x00\x00\x00" + struct.pack(">QQIQ", 0, 0, 90000, 90000 * 65), 65.0),
        (b"\x00\x00\x00\x00" + struct.pack(">IIII", 0, 0, 1000, 0xFFFFFFFF), None),
        (b"\x00\x00\x00\x00" + struct.pack(">IIII", 0, 0, 0, 10), None),
    ],
)
def test_duration_of_version_0_and_1_headers(mvhd: bytes, expected: float | None) -> None:
    data = _box(b"ftyp", b"isom\x00\x00\x00\x00") + _box(b"moov", _box(b"mvhd", mvhd))
    assert video_magic.mp4_tracks(_reader(data), len(data)).duration_s == expected


def test_short_or_unknown_videos_stay_one_job() -> None:
    assert segments.plan(600.0, 600, 2) == []
    assert segments.plan(None, 600, 2) == []


def test_a_two_hour_video_becomes_equal_overlapping_segments() -> None:
    plan = segments.plan(7200.0, 600, 2)
    assert len(plan) == 12
    assert [s.index for s in plan] == list(range(12))
    assert plan[0].start_s == 0 and plan[-1].end_s == 7200.0
    for before, after in zip(plan, plan[1:], strict=False):
        assert before.end_s - after.start_s == pytest.approx(2.0)
    assert segments.plan(20.0, 5, 1)[1].to_dict() == {"index": 1, "start_s": 5.0, "end_s": 11.0}


def test_segment_ids_are_deterministic_and_distinct() -> None:
    ids = {segments.segment_job_id("video-abc", i) for i in range(12)}
    assert len(ids) == 12 and segments.segment_job_id("video-abc", 3) == "video-abc-s003"


def test_settings_reach_the_submit_environment() -> None:
    settings = Settings(segment_threshold_s=300, segment_overlap_s=3)
    env = contract.submit_environment(
        jobs_table="t",
        notify_topic_arn="arn",
        work_bucket="b",
        endpoint_name="e",
        defaults=contract.job_defaults(settings),
    )
    parsed = config.SubmitSettings.from_env(env)
    assert (parsed.segment_threshold_s, parsed.segment_overlap_s) == (300, 3)
    with pytest.raises(SettingsError, match="segment_overlap_s"):
        Settings(segment_threshold_s=5, segment_overlap_s=5)


def test_a_header_is_believed_only_when_the_file_can_hold_that_much_video() -> None:
    assert segments.believable(600.0, 600 * segments.MIN_BYTES_PER_S)
    assert not segments.believable(86400.0, 3000)  # 3 frames claiming a day
    assert not segments.believable(float("inf"), 10**12)
    assert not segments.believable(None, 10**6)


def test_the_segment_count_is_bounded() -> None:
    threshold = 600
    longest = segments.MAX_SEGMENTS * threshold
    assert segments.too_long(longest, threshold) is None
    assert len(segments.plan(longest, threshold, 2)) == segments.MAX_SEGMENTS
    reason = segments.too_long(longest + 1, threshold)
    assert reason is not None and f"{segments.MAX_SEGMENTS} segments" in reason
    with pytest.raises(ValueError, match="segments"):
        segments.plan(longest + 1, threshold, 2)


def test_a_parent_with_the_most_segments_fits_a_dynamodb_item_with_room() -> None:
    from lambdas import jobs, submit

    threshold = 1
    plan = segments.plan(float(segments.MAX_SEGMENTS), threshold, 2)
    parent_id = jobs.job_id_for("b" * 63, "videos/" + "k" * 1000, "v" * 1024)
    parent = {
        "job_id": parent_id,
        "key": "videos/" + "k" * 1000,
        "video": "s3://" + "b" * 63 + "/videos/" + "k" * 1000,
        "options": {"classes": ["person"] * 80, "tracker": {"track_buffer_s": 1.5}},
        **submit._parent_fields(parent_id, plan),
    }
    assert jobs.item_bytes(parent) < jobs.MAX_ITEM_BYTES / 2
