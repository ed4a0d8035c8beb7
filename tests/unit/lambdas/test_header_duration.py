"""Long-video planning reads the duration from the first 64 KiB of Matroska, WebM and AVI files
(real files written by FFmpeg through PyAV; MP4/MOV is covered by the mvhd tests)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from lambdas import header_duration, video_magic

SECONDS, FPS = 12, 5


def _write(path: Path, codec: str, pix_fmt: str) -> bytes:
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 48, pix_fmt
        for index in range(SECONDS * FPS):
            image = np.full((48, 64, 3), index % 255, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.read_bytes()


@pytest.mark.parametrize(
    ("name", "codec", "pix_fmt"),
    [
        ("clip.mkv", "libx264", "yuv420p"),
        ("clip.webm", "libvpx-vp9", "yuv420p"),
        ("clip.avi", "mjpeg", "yuvj420p"),
    ],
)
def test_the_header_states_the_duration(
    tmp_path: Path, name: str, codec: str, pix_fmt: str
) -> None:
    data = _write(tmp_path / name, codec, pix_fmt)
    container = video_magic.detect_container(data[: video_magic.HEAD_BYTES])
    found = header_duration.header_duration_s(container, data[: header_duration.HEADER_BYTES])
    assert found == pytest.approx(SECONDS, abs=1.0 / FPS + 0.01)


def test_headers_without_a_duration_say_none() -> None:
    assert header_duration.header_duration_s("matroska", b"\x1a\x45\xdf\xa3\x80") is None
    assert header_duration.header_duration_s("avi", b"RIFF\0\0\0\0AVI LIST") is None
    assert header_duration.header_duration_s("iso-bmff", b"\0\0\0\x18ftypisom") is None
    # A live recording's Segment of unknown size with an Info lacking Duration.
    live = bytes.fromhex("1a45dfa3 80 18538067 01ffffffffffffff 1549a966 84 2ad7b1 81 01")
    assert header_duration.matroska_duration_s(live) is None
