"""Issue 21 deliverable 5: the duration of a fragmented MP4 and a live WebM (no Duration, no
Cues) from a few ranged reads of real files written by FFmpeg through PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from lambdas import header_duration, stream_duration, video_magic

SECONDS, FPS = 30, 10


def _encode(path: Path, options: dict[str, str], codec: str) -> bytes:
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream(codec, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.gop_size = 2 * FPS
        for index in range(SECONDS * FPS):
            image = np.full((48, 64, 3), index % 255, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.read_bytes()


class _Reads:
    """Ranged reads of `data`, counted."""

    def __init__(self, data: bytes) -> None:
        self.data, self.calls = data, 0

    def __call__(self, offset: int, length: int) -> bytes:
        self.calls += 1
        return self.data[offset : offset + length]


def _mp4_duration(data: bytes) -> tuple[float | None, int]:
    read = _Reads(data)
    tracks = video_magic.mp4_tracks(read, len(data))
    assert tracks is not None and tracks.fragmented and tracks.duration_s is None
    found = stream_duration.fragmented_mp4_duration_s(read, len(data), tracks.moov, tracks.moov_end)
    return found, read.calls


@pytest.fixture(scope="module")
def fragmented(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("frag")
    return _encode(folder / "frag.mp4", {"movflags": "frag_keyframe+empty_moov"}, "libx264")


@pytest.fixture(scope="module")
def live_webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _encode(tmp_path_factory.mktemp("webm") / "live.webm", {"live": "1"}, "libvpx-vp9")


def test_a_fragmented_mp4_gets_its_duration_from_its_last_fragment(fragmented: bytes) -> None:
    duration, reads = _mp4_duration(fragmented)
    assert duration == pytest.approx(SECONDS, abs=0.05)
    assert reads <= 6  # the box walk to the moov, the head after it, one tail


def test_a_global_sidx_gives_the_duration_at_once(tmp_path: Path) -> None:
    options = {"movflags": "frag_keyframe+empty_moov+global_sidx"}
    data = _encode(tmp_path / "sidx.mp4", options, "libx264")
    duration, _ = _mp4_duration(data)
    assert duration == pytest.approx(SECONDS, abs=0.05)


def test_a_cut_fragmented_mp4_measures_to_where_its_data_ends(fragmented: bytes) -> None:
    duration, _ = _mp4_duration(fragmented[: len(fragmented) // 2])
    assert duration is not None and 0.3 * SECONDS < duration < 0.6 * SECONDS


def test_the_tail_scan_is_bounded(fragmented: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_duration, "TAIL_BYTES", (16, 32))  # no whole fragment fits
    assert _mp4_duration(fragmented)[0] is None


def test_a_live_webm_gets_its_duration_from_its_last_cluster(live_webm: bytes) -> None:
    header = live_webm[: header_duration.HEADER_BYTES]
    assert header_duration.header_duration_s("matroska", header) is None
    assert b"\x1c\x53\xbb\x6b" not in live_webm  # no Cues either
    read = _Reads(live_webm)
    duration = stream_duration.matroska_tail_duration_s(read, len(live_webm), header)
    assert duration == pytest.approx(SECONDS, abs=0.2) and read.calls == 1


def test_a_cut_live_webm_measures_to_where_its_data_ends(live_webm: bytes) -> None:
    half = live_webm[: len(live_webm) // 2]
    found = stream_duration.matroska_tail_duration_s(_Reads(half), len(half), half[:4096])
    assert found is not None and 0.3 * SECONDS < found < 0.6 * SECONDS
