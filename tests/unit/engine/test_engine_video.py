"""Strided decoding, video facts, and every kind of unusable input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model_code.video import VideoError, VideoReader, codec_name


def _box_left(image: np.ndarray) -> int:
    # write_clip moves a green box 4 px right per source frame, from x = 0 on frame 1.
    return int(np.argmax(image[50, :, 1] > 128))


@pytest.mark.parametrize(("stride", "expected"), [(1, 20), (3, 7), (7, 3)])
def test_strided_frames_are_one_based_source_numbers(make_clip, stride: int, expected: int) -> None:
    clip = make_clip(frames=20)
    with VideoReader(clip, stride=stride) as video:
        frames = list(video)
    numbers = [number for number, _ in frames]
    assert numbers == list(range(1, 21, stride))
    assert len(numbers) == expected
    # The pixels belong to the numbered source frame, not to the n-th kept frame.
    for number, image in frames:
        assert abs(_box_left(image) - 4 * (number - 1)) <= 2
        assert image.shape == (96, 160, 3) and image.dtype == np.uint8
    assert video.frames_read == 20 and not video.truncated and video.warnings == []


def test_video_info_reports_codec_fps_size_and_duration(make_clip) -> None:
    clip = make_clip(frames=25, size=(128, 64), fps=5)
    with VideoReader(clip) as video:
        info = video.info
    assert (info.codec, info.fps, info.frame_count) == ("h264", 5.0, 25)
    assert (info.width, info.height) == (128, 64)
    assert info.duration_s == pytest.approx(5.0)
    assert info.to_dict() == {
        "codec": "h264",
        "fps": 5.0,
        "frames": 25,
        "width": 128,
        "height": 64,
        "duration_s": 5.0,
    }


def test_sample_video_facts(sample_video: Path) -> None:
    with VideoReader(sample_video, stride=30) as video:
        numbers = [n for n, _ in video]
        assert (video.info.width, video.info.height, video.info.fps) == (768, 432, 10.0)
        assert video.info.frame_count == 300
    assert numbers == list(range(1, 301, 30))


def test_codec_names_are_readable() -> None:
    def fourcc(tag: str) -> int:
        return sum(ord(c) << (8 * i) for i, c in enumerate(tag))

    assert codec_name(fourcc("avc1")) == "h264"
    assert codec_name(fourcc("MP43")) == "msmpeg4v3"
    assert codec_name(fourcc("mp4v")) == "mpeg4"
    assert codec_name(fourcc("ABCD")) == "abcd"
    assert codec_name(0) == "unknown"


@pytest.mark.parametrize("stride", [0, -2, 1.5, "3", True])
def test_bad_stride_is_rejected(make_clip, stride: object) -> None:
    clip = make_clip(frames=3)
    with pytest.raises(ValueError, match="stride must be a whole number >= 1"):
        VideoReader(clip, stride=stride)  # type: ignore[arg-type]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="video file not found"):
        VideoReader(tmp_path / "nope.mp4")


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match=r"is empty \(0 bytes\)"):
        VideoReader(empty)


def test_text_renamed_to_mp4(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is a shopping list, not a video\n" * 50)
    with pytest.raises(VideoError, match="not a video this service can read"):
        VideoReader(text)


def test_intact_container_whose_frames_do_not_decode(make_clip, tmp_path: Path) -> None:
    # Keep the header and index, blank out every coded frame.
    data = bytearray(make_clip(frames=10, faststart=True).read_bytes())
    payload = data.index(b"mdat") + 4
    data[payload:] = bytes(len(data) - payload)
    blank = tmp_path / "blank-frames.mp4"
    blank.write_bytes(bytes(data))
    with pytest.raises(VideoError, match="contains no decodable video frames"):
        VideoReader(blank)


def test_mp4_cut_in_half_without_its_index(make_clip, tmp_path: Path) -> None:
    # PyAV writes the index (moov) at the end: half a file has frames but no index.
    clip = make_clip(frames=40)
    half = tmp_path / "half.mp4"
    half.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    with pytest.raises(VideoError, match="probably truncated"):
        VideoReader(half)


def test_header_only_mp4(make_clip, tmp_path: Path) -> None:
    clip = make_clip(frames=40, faststart=True)
    data = clip.read_bytes()
    header_only = tmp_path / "header-only.mp4"
    header_only.write_bytes(data[: data.index(b"mdat") + 4])
    with pytest.raises(VideoError):
        VideoReader(header_only)


def test_truncated_faststart_mp4_is_processed_with_a_warning(make_clip, tmp_path: Path) -> None:
    clip = make_clip(frames=60, faststart=True, noise=True)
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with VideoReader(cut, stride=2) as video:
        assert video.info.frame_count == 60
        numbers = [n for n, _ in video]
    assert 0 < len(numbers) < 30
    assert video.truncated
    assert any("probably truncated" in w for w in video.warnings)


def test_a_reader_iterates_once(make_clip) -> None:
    with VideoReader(make_clip(frames=3)) as video:
        assert len(list(video)) == 3
        with pytest.raises(VideoError):
            list(video)


def test_absurd_frame_rate_falls_back_with_a_note(make_clip) -> None:
    with VideoReader(make_clip(frames=5, fps=5000)) as video:
        assert video.info.fps == 30.0
        assert video.warnings == [
            "the video reports an unusable frame rate (5000 fps); timestamps assume 30 fps"
        ]
        assert len(list(video)) == 5
