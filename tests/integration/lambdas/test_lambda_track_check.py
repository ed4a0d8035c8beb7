"""Issue 11 item 13 in submit: an MP4 whose index shows no video track, a video track without
frames, or no index at all is rejected cheaply (ranged reads of the box structure), with
exactly that reason. Fixtures are written here with PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from lambdas import jobs
from tests.integration.lambdas.lambda_harness import Aws
from tests.integration.local.video_fixtures import no_video_frames, write_silence

pytestmark = pytest.mark.integration


def _clip(
    path: Path, *, video: bool, audio: bool, frames: int = 5, faststart: bool = True
) -> bytes:
    options = {"movflags": "faststart"} if faststart else {}
    container = av.open(str(path), "w", options=options)
    streams = []
    if video:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        streams.append(stream)
    if audio:
        write_silence(container, container.add_stream("aac", rate=48000))
    if video:
        for index in range(frames):
            image = np.full((48, 64, 3), (index * 20) % 256, np.uint8)
            for packet in streams[0].encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in streams[0].encode():
            container.mux(packet)
    if not (video and frames) and not audio:
        container.start_encoding()
    container.close()
    return path.read_bytes()


def _submitted(aws: Aws, name: str, body: bytes) -> dict:
    (outcome,) = aws.submit(aws.upload_and_receive(f"videos/{name}", body))["jobs"]
    return aws.job(outcome["job_id"])


def test_an_audio_only_mp4_is_rejected_in_submit(aws: Aws, tmp_path: Path) -> None:
    record = _submitted(aws, "voice.mp4", _clip(tmp_path / "a.mp4", video=False, audio=True))
    assert record["status"] == jobs.REJECTED
    assert record["reason"].startswith("'voice.mp4' has no video track (it holds only audio)")
    assert aws.endpoint.requests == []


def test_a_video_track_without_frames_is_rejected_in_submit(aws: Aws, tmp_path: Path) -> None:
    body = no_video_frames(tmp_path / "z.mp4").read_bytes()
    record = _submitted(aws, "empty-track.mp4", body)
    assert record["status"] == jobs.REJECTED
    assert record["reason"] == (
        "'empty-track.mp4' has a video track with no frames. Upload a video with frames."
    )
    assert aws.endpoint.requests == []


def test_a_zero_frame_mp4_gets_a_plain_reason(aws: Aws, tmp_path: Path) -> None:
    """Issue 21: the muxer drops a track without frames, and the reason read "has no video
    track (it holds only no tracks)"."""
    body = _clip(tmp_path / "zero.mp4", video=True, audio=False, frames=0)
    record = _submitted(aws, "zero.mp4", body)
    assert record["status"] == jobs.REJECTED
    assert record["reason"] == (
        "'zero.mp4' has no frames: its index lists no tracks at all (a recording stopped"
        " before its first frame?). Upload a video with frames."
    )
    assert "only no tracks" not in record["reason"] and aws.endpoint.requests == []


def test_an_mp4_cut_before_its_index_is_rejected_in_submit(aws: Aws, tmp_path: Path) -> None:
    whole = _clip(tmp_path / "m.mp4", video=True, audio=False, frames=30, faststart=False)
    record = _submitted(aws, "cut.mp4", whole[: len(whole) * 7 // 10])
    assert record["status"] == jobs.REJECTED
    assert "without its index" in record["reason"]


@pytest.mark.parametrize(
    ("faststart", "name"), [(True, "g.mp4"), (False, "g.mp4"), (True, "g.mov")]
)
def test_a_good_mp4_passes_the_track_check(
    aws: Aws, tmp_path: Path, faststart: bool, name: str
) -> None:
    # A QuickTime .mov also carries a data-handler hdlr ("url ") that is not the track's type.
    body = _clip(tmp_path / name, video=True, audio=True, faststart=faststart)
    record = _submitted(aws, f"good{Path(name).suffix}", body)
    assert record["status"] == jobs.QUEUED, record.get("reason")
    assert len(aws.endpoint.accepted()) == 1
