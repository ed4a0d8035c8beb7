"""Decode speed-ups change nothing: frame threading, conversion of kept frames only, and the
opt-in skipping of non-reference frames give the same frames, numbers and tracks."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np
import pytest

from model_code import pipeline
from model_code.pipeline import TrackOptions, detector_for, track_video
from model_code.results import MotRows
from model_code.video import DEFAULT_THREAD_TYPE, VideoReader

SAMPLE_FRAMES = 300  # samples/people-walking.mp4: H.264 with B-frames (non-reference frames)


def _frames(path: Path, stride: int, **options: object) -> tuple[list[tuple[int, str]], dict]:
    with VideoReader(path, stride=stride, **options) as video:
        frames = [(n, hashlib.sha1(image.tobytes()).hexdigest()) for n, image in video]
        facts = {
            "info": video.info,
            "frames_read": video.frames_read,
            "frames_decoded": video.frames_decoded,
            "times": [video.time_of(n) for n, _ in frames],
        }
    return frames, facts


@pytest.mark.parametrize("stride", [1, 3])
@pytest.mark.parametrize(
    "options",
    [{"thread_type": "FRAME"}, {"thread_type": "AUTO"}, {"thread_type": "SLICE"},
     {"thread_type": "NONE", "skip_nonref": True}, {"thread_type": "FRAME", "skip_nonref": True}],
)  # fmt: skip
def test_every_decode_mode_yields_the_single_threaded_frames(sample_video, stride, options):
    expected, reference = _frames(sample_video, stride, thread_type="NONE")
    frames, facts = _frames(sample_video, stride, **options)
    assert len(expected) == -(-SAMPLE_FRAMES // stride)
    assert frames == expected  # the same source frame numbers and the same pixels
    assert facts["info"] == reference["info"]
    assert facts["frames_read"] == reference["frames_read"] == SAMPLE_FRAMES
    assert facts["times"] == pytest.approx(reference["times"], abs=1e-6)


def test_skipping_non_reference_frames_is_opt_in_and_only_with_a_stride(sample_video):
    assert DEFAULT_THREAD_TYPE in ("FRAME", "AUTO")
    assert _frames(sample_video, 3)[1]["frames_decoded"] == SAMPLE_FRAMES  # off by default
    assert _frames(sample_video, 1, skip_nonref=True)[1]["frames_decoded"] == SAMPLE_FRAMES
    skipped = _frames(sample_video, 3, skip_nonref=True)[1]["frames_decoded"]
    assert SAMPLE_FRAMES // 3 <= skipped < SAMPLE_FRAMES


def test_an_unknown_thread_type_is_refused(sample_video):
    with pytest.raises(ValueError, match="thread_type"):
        VideoReader(sample_video, thread_type="MANY")


@pytest.fixture(scope="module")
def detector():
    return detector_for(TrackOptions())


def _mot(video: Path, stride: int, detector, monkeypatch, **reader_options) -> list[list[float]]:
    monkeypatch.setattr(pipeline, "VideoReader", functools.partial(VideoReader, **reader_options))
    rows = MotRows()
    track_video(video, lambda facts: [rows], TrackOptions(stride=stride), detector)
    monkeypatch.undo()
    return rows.rows


@pytest.mark.slow
@pytest.mark.parametrize("stride", [3])  # stride 1's frames are compared pixel for pixel above
def test_tracks_are_identical_to_the_single_threaded_decode(
    sample_video, stride, detector, monkeypatch
):
    before = _mot(sample_video, stride, detector, monkeypatch, thread_type="NONE")
    after = _mot(sample_video, stride, detector, monkeypatch)  # the defaults the service runs
    assert len(before) > 0
    assert np.array_equal(np.array(after), np.array(before))
    if stride > 1:
        skipping = _mot(sample_video, stride, detector, monkeypatch, skip_nonref=True)
        assert np.array_equal(np.array(skipping), np.array(before))
