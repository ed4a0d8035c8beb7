"""Issue 11 items 8, 11, 13, 14, 16, 17: damaged, trackless, variable-rate, rotated and tiny
videos, generated here with PyAV (no committed binaries)."""

from __future__ import annotations

import json
import struct
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from model_code.detectors import Detector
from model_code.pipeline import TrackOptions, detector_for, track_video
from model_code.results import AnnotatedVideoWriter, file_sinks
from model_code.tracking.tracker import TrackedObjects
from model_code.video import VideoError, VideoReader
from tests.integration.local.video_fixtures import audio_only
from tests.unit.engine.conftest import write_clip

GARBAGE_BYTES = 30_000


@pytest.fixture(scope="module")
def yolo() -> Detector:
    return detector_for(TrackOptions())


def _with_garbage_in_the_middle(clip: Path, target: Path) -> Path:
    data = bytearray(clip.read_bytes())
    middle = len(data) // 2
    noise = np.random.default_rng(1).integers(0, 256, GARBAGE_BYTES, dtype=np.uint8)
    data[middle : middle + GARBAGE_BYTES] = noise.tobytes()
    target.write_bytes(bytes(data))
    return target


def _opencv_frames(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def test_decoding_continues_past_damaged_frames_and_says_so(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "c.mp4", 300, size=(320, 240), faststart=True, noise=True)
    damaged = _with_garbage_in_the_middle(clip, tmp_path / "damaged.mp4")

    with VideoReader(damaged) as video:
        numbers = [number for number, _ in video]

    assert video.frames_decoded > _opencv_frames(damaged)  # OpenCV stops at the first bad read
    assert video.frames_decoded >= 280 and video.frames_decoded + video.frames_skipped <= 300
    assert numbers == sorted(set(numbers)) and numbers[-1] <= 300
    assert video.frames_skipped > 0 or video.frames_decoded < 300
    assert video.info.frame_count == video.frames_decoded  # counted as decoded
    assert any("damaged frame" in w or "truncated" in w for w in video.warnings)


@pytest.mark.parametrize("name", ["voice.mp4", "voice.webm"])
def test_a_file_without_a_video_track_says_exactly_that(tmp_path: Path, name: str) -> None:
    with pytest.raises(VideoError, match=r"has no video track \(it holds only audio\)"):
        VideoReader(audio_only(tmp_path / name))


@pytest.mark.parametrize("name", ["empty-track.mp4", "empty-track.mkv"])
def test_a_video_track_without_frames_is_not_called_truncated(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=10)
    stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
    container.start_encoding()
    container.close()
    with pytest.raises(VideoError) as caught:
        VideoReader(path)
    message = str(caught.value)
    if name.endswith(".mp4"):  # FFmpeg drops an MP4 track without samples: no video track
        assert "truncated" not in message
        assert "no video track" in message or "no frames" in message
    else:  # a Matroska file without clusters does not open at all
        assert message.startswith(f"'{name}' starts like a Matroska/WebM file")


@pytest.mark.parametrize(
    ("payload", "what"),
    [
        (cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes(), "a PNG image"),
        (cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes(), "a JPEG image"),
    ],
)
def test_an_image_named_mp4_is_not_a_one_frame_video(
    tmp_path: Path, payload: bytes, what: str
) -> None:
    path = tmp_path / "photo.mp4"
    path.write_bytes(payload)
    with pytest.raises(VideoError, match=f"is {what}, not a video"):
        VideoReader(path)


def _variable_rate(path: Path, gaps_ms: list[int]) -> list[float]:
    """An H.264 mkv whose frames are `gaps_ms` apart; returns their times in seconds."""
    times, pts = [], 0
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for index, gap in enumerate(gaps_ms):
            image = np.full((64, 64, 3), index % 255, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            times.append(pts / 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
            pts += gap
        for packet in stream.encode():
            container.mux(packet)
    return times


def test_variable_frame_rate_uses_presentation_times_and_counts_decoded_frames(
    tmp_path: Path,
) -> None:
    gaps = [33 if index % 3 else 250 for index in range(100)]
    expected = _variable_rate(tmp_path / "vfr.mkv", gaps)

    with VideoReader(tmp_path / "vfr.mkv") as video:
        seen = [(number, video.time_of(number)) for number, _ in video]

    assert [number for number, _ in seen] == list(range(1, 101))
    assert [t for _, t in seen] == pytest.approx(expected, abs=0.002)
    assert video.info.frame_count == 100 and video.warnings == []
    assert video.info.duration_s == pytest.approx(expected[-1] + 1 / video.info.fps, abs=0.01)


def test_tracks_jsonl_times_are_presentation_times(tmp_path: Path, yolo) -> None:
    gaps = [40 if index % 2 else 400 for index in range(20)]
    expected = _variable_rate(tmp_path / "vfr.mkv", gaps)
    run = track_video(tmp_path / "vfr.mkv", file_sinks(tmp_path / "out", False), None, yolo)
    lines = [json.loads(line) for line in (tmp_path / "out/tracks.jsonl").read_text().splitlines()]
    assert [line["t"] for line in lines] == pytest.approx(expected, abs=0.002)
    assert run.video["frames"] == 20


def _rotated(clip: Path, target: Path) -> Path:
    """`clip` with its track's display matrix set to a 90 degree turn (as phones record)."""
    data = bytearray(clip.read_bytes())
    box = data.index(b"tkhd")
    assert data[box + 4] == 0, "version 0 tkhd expected"
    matrix_at = box + 4 + 4 + 4 + 4 + 4 + 4 + 4 + 8 + 2 + 2 + 2 + 2
    one = 1 << 16
    data[matrix_at : matrix_at + 36] = struct.pack(">9i", 0, one, 0, -one, 0, 0, 0, 0, 1 << 30)
    target.write_bytes(bytes(data))
    return target


def test_a_rotated_video_is_read_in_its_displayed_orientation(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "landscape.mp4", 5, size=(160, 96), faststart=True)
    portrait = _rotated(clip, tmp_path / "portrait.mp4")
    capture = cv2.VideoCapture(str(portrait))  # OpenCV applies the display matrix too
    ok, displayed = capture.read()
    capture.release()

    with VideoReader(portrait) as video:
        (_, first), *_ = list(video)

    assert ok and displayed.shape == (160, 96, 3)
    assert (video.info.width, video.info.height) == (96, 160)
    assert first.shape == displayed.shape
    assert np.abs(first.astype(int) - displayed.astype(int)).mean() < 2.0


@pytest.mark.parametrize(("width", "height"), [(1, 64), (64, 1), (1, 1), (641, 359)])
def test_annotation_pads_tiny_and_odd_frames_instead_of_failing(
    tmp_path: Path, width: int, height: int
) -> None:
    writer = AnnotatedVideoWriter(tmp_path / "a.mp4", width, height, 10.0)
    image = np.full((height, width, 3), 200, np.uint8)
    empty = TrackedObjects(np.zeros(0, int), np.zeros((0, 4)), np.zeros(0), np.zeros(0, int))
    for frame in (1, 2, 3):
        writer.write(frame, image, empty)
    writer.close()
    with av.open(str(tmp_path / "a.mp4")) as written:
        stream = written.streams.video[0]
        assert (stream.width, stream.height) == (width + width % 2, height + height % 2) or (
            min(stream.width, stream.height) == 2
        )
        assert sum(1 for _ in written.decode(stream)) == 3


def test_a_one_pixel_wide_video_is_tracked_with_annotation(tmp_path: Path, yolo) -> None:
    clip = write_clip(tmp_path / "line.mp4", 6, size=(2, 64))
    line = tmp_path / "line-1px.mp4"
    with av.open(str(clip)) as source, av.open(str(line), "w") as target:
        out = target.add_stream("mjpeg", rate=10)
        out.width, out.height, out.pix_fmt = 1, 64, "yuvj444p"
        for frame in source.decode(video=0):
            image = frame.to_ndarray(format="bgr24")[:, :1]
            encoded = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            for packet in out.encode(encoded.reformat(format="yuvj444p")):
                target.mux(packet)
        for packet in out.encode():
            target.mux(packet)

    run = track_video(line, file_sinks(tmp_path / "out", True), TrackOptions(annotate=True), yolo)

    assert run.frames_processed == 6 and (run.video["width"], run.video["height"]) == (1, 64)
    assert (tmp_path / "out/annotated.mp4").stat().st_size > 0
    assert (tmp_path / "out/tracks.txt").exists()
