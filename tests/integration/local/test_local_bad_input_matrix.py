"""Issue 11, the bad-input matrix: every case through the whole local stack in one batch.

Each file is generated here, uploaded under its own key, and must end in the expected state
with a reason naming the problem; every job is announced exactly once. Good videos must give
1-based source frame numbers and boxes inside the source picture.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from local.stack import LocalStack, local_stack
from stacks.settings import Settings
from tests.integration.local import video_fixtures as fx

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MATRIX_TIMEOUT_S = 420.0
OK, REJECTED, FAILED = "SUCCEEDED", "REJECTED", "FAILED"


@dataclass(frozen=True)
class Case:
    name: str  # the key's last part
    make: Callable[[Path], Path]
    status: str
    reason: str | tuple[str, ...] = ()  # one of these must be in the reason
    warning: str = ""  # must be in one of the record's warnings
    segments: int = 0  # a long video: split into this many segment jobs


def _bytes(data: bytes) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        path.write_bytes(data)
        return path

    return write


def _cut_of(share: float, **encode: Any) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        whole = fx.encode(path.with_name("whole-" + path.name), frames=60, **encode)
        return fx.cut(whole, path, share)

    return make


def _clip(**encode: Any) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        if path.suffix in (".mp4", ".mov", ".mkv", ".webm", ".avi"):
            return fx.encode(path, **encode)
        return fx.encode(path.with_suffix(".mp4"), **encode).rename(path)  # a video misnamed

    return make


# Long videos (issue 21): 30 s at 10 fps, split into 4 segments by the stack's 8 s threshold.
THRESHOLD_S, LONG_FRAMES = 8, 300
TRUNCATED = "probably truncated"
FRAGMENTED = {"movflags": "frag_keyframe+empty_moov"}


def _long(**encode: Any) -> Callable[[Path], Path]:
    return _clip(frames=LONG_FRAMES, **encode)


def _long_cut_of(share: float) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        whole = fx.encode(path.with_name("whole-" + path.name), frames=LONG_FRAMES)
        return fx.cut(whole, path, share)

    return make


LONG_NAME = "long-" + "x" * 880 + ".mp4"
CASES = [
    Case("empty.mp4", _bytes(b""), REJECTED, "is empty"),
    Case("random.mp4", _bytes(np.random.default_rng(5).bytes(4096)), REJECTED, "not a video"),
    Case("notes.mp4", _bytes(b"shopping list\n" * 100), REJECTED, "not a video"),
    Case("photo-png.mp4", lambda p: fx.image(p, ".png"), REJECTED, "not a video"),
    Case("photo-jpeg.mp4", lambda p: fx.image(p, ".jpg"), REJECTED, "not a video"),
    Case("audio-only.mp4", fx.audio_only, REJECTED, "no video track"),
    Case("no-frames.mp4", fx.no_video_frames, REJECTED, "has a video track with no frames"),
    Case("cut-30.mp4", _cut_of(0.3, faststart=False), REJECTED, "without its index"),
    Case("cut-faststart.mp4", _cut_of(0.6, faststart=True), OK),
    Case("garbage-mid.mp4", fx.garbage_mid_stream, OK),
    Case("tiny-2x2.mp4", _clip(size=(2, 2)), OK),
    Case("odd-641x359.mp4", _clip(size=(641, 359), pix_fmt="yuv444p"), OK),
    Case("wide-4096x256.mp4", _clip(size=(4096, 256), frames=3), OK),
    Case("uhd-3840x2160.mp4", _clip(size=(3840, 2160), frames=2), OK),
    Case("portrait-rotated.mp4", fx.rotated, OK),
    Case("hevc.mp4", _clip(codec="libx265"), OK),
    Case("vp9.webm", _clip(codec="libvpx-vp9"), OK),
    Case("av1.mkv", _clip(codec="libsvtav1", size=(128, 64)), OK),
    Case("mjpeg.avi", _clip(codec="mjpeg", pix_fmt="yuvj420p"), OK),
    Case("plain.mkv", _clip(), OK),
    Case("plain.mov", _clip(), OK),
    Case("ten-bit.mp4", _clip(pix_fmt="yuv420p10le"), OK),
    Case("gray.mp4", _clip(pix_fmt="gray"), OK),
    Case("vfr.mkv", _clip(frames=12, gaps_ms=[33, 250, 33]), OK),
    Case("one-fps.mp4", _clip(fps=1, frames=4), OK),
    Case("fast-120fps.mp4", _clip(fps=120, frames=12), OK),
    Case("one-frame.mp4", _clip(frames=1), OK),
    Case("with space.mp4", _clip(), OK),
    Case("a+b.mp4", _clip(), OK),
    Case("100%.mp4", _clip(), OK),
    Case("ünïcødé 视频.mp4", _clip(), OK),
    Case(LONG_NAME, _clip(), OK),
    Case("UPPER.MP4", _clip(), OK),
    Case("notes.txt", _clip(), REJECTED, "not a video file name"),
    Case("long-fragmented.mp4", _long(muxer=FRAGMENTED), OK, segments=4),
    Case("long-live.webm", _long(codec="libvpx-vp9", muxer={"live": "1"}), OK, segments=4),
    Case("long-cut-85.mp4", _long_cut_of(0.85), OK, warning=TRUNCATED, segments=4),
    Case("long-cut-60.mp4", _long_cut_of(0.6), OK, warning=TRUNCATED, segments=4),
]


@dataclass
class Upload:
    case: Case
    key: str
    job_id: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    settings = Settings.from_context({"segment_threshold_s": THRESHOLD_S})
    with local_stack(tmp_path_factory.mktemp("matrix-run"), settings) as running:
        yield running


def _notifications(stack: LocalStack, wanted: int, timeout_s: float = 60.0) -> Counter[str]:
    sqs = stack.client("sqs")
    url = stack.resources.notifications_queue_url
    seen: Counter[str] = Counter()
    deadline = time.monotonic() + timeout_s
    while sum(seen.values()) < wanted and time.monotonic() < deadline:
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in reply.get("Messages", []):
            attributes = json.loads(message["Body"]).get("MessageAttributes", {})
            seen[attributes.get("job_id", {}).get("Value", "?")] += 1
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    time.sleep(2)  # anything sent twice would arrive now
    for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        attributes = json.loads(message["Body"]).get("MessageAttributes", {})
        seen[attributes.get("job_id", {}).get("Value", "?")] += 1
    return seen


def _assert_tracks_in_source_space(files: dict[str, Path], info: dict[str, Any]) -> None:
    for line in files["tracks.txt"].read_text().splitlines():
        frame, _, x, y, w, h = (float(v) for v in line.split(",")[:6])
        assert 1 <= frame <= info["frames"], line
        assert x < info["width"] and y < info["height"] and x + w > 0 and y + h > 0, line


def test_every_bad_input_ends_once_with_a_reason(stack: LocalStack, tmp_path: Path) -> None:
    prefix = f"{stack.settings.input_prefix}matrix/"
    uploads: list[Upload] = []
    for index, case in enumerate(CASES):
        folder = tmp_path / f"{index:02d}"
        folder.mkdir()
        # Local names stay short (the long case is about the key); the suffix is the case's.
        path = case.make(folder / f"input{Path(case.name).suffix.lower() or '.bin'}")
        key, job_id = stack.upload(path, f"{prefix}{case.name}")
        uploads.append(Upload(case, key, job_id))
    # The same file twice under one key (two versions), and the same bytes under two keys.
    twice = fx.encode(tmp_path / "twice.mp4")
    for key in (f"{prefix}twice.mp4", f"{prefix}twice.mp4", f"{prefix}copy/twice.mp4"):
        uploads.append(Upload(Case(key, lambda p: p, OK), *stack.upload(twice, key)))
    # A key with ../ is just a key in S3: it stays under the prefix and is tracked as a video.
    dotted = f"{prefix}../matrix-escape.mp4"
    uploads.append(Upload(Case(dotted, lambda p: p, OK), *stack.upload(twice, dotted)))

    job_ids = [upload.job_id for upload in uploads]
    assert len(set(job_ids)) == len(job_ids), "every upload is its own job"
    records = stack.wait_terminal(job_ids, MATRIX_TIMEOUT_S, partial=True)
    table = []
    for upload in uploads:
        record = records.get(upload.job_id, {})
        table.append((upload.case.name[:40], record.get("status"), record.get("reason")))
    print("\n" + "\n".join(f"{n} | {s} | {r}" for n, s, r in table))

    for upload in uploads:
        record = records.get(upload.job_id)
        assert record is not None, f"{upload.case.name}: not terminal"
        assert record["status"] == upload.case.status, (upload.case.name, record.get("reason"))
        expected = upload.case.reason
        if expected:
            options = (expected,) if isinstance(expected, str) else expected
            assert any(o in record["reason"] for o in options), (upload.case.name, record)
            assert "Traceback" not in record["reason"] and "\n" not in record["reason"]
        if upload.case.warning:
            warnings = record.get("warnings") or []
            assert sum(upload.case.warning in w for w in warnings) == 1, (upload.case.name, record)
        if upload.case.segments:
            assert len(record.get("segments") or []) == upload.case.segments, record
        if record["status"] == OK:
            files = {
                p.name: p for p in stack.download_results(upload.job_id, tmp_path / upload.job_id)
            }
            _assert_tracks_in_source_space(files, record["video_info"])
    by_name = {u.case.name: records[u.job_id] for u in uploads}
    assert (
        by_name["portrait-rotated.mp4"]["video_info"]["width"],
        by_name["portrait-rotated.mp4"]["video_info"]["height"],
    ) == (64, 96)
    assert by_name["vfr.mkv"]["video_info"]["frames"] == 12
    assert by_name["cut-faststart.mp4"]["warnings"], "a partial decode must say so"

    seen = _notifications(stack, len(uploads))
    assert {job_id: seen[job_id] for job_id in job_ids} == dict.fromkeys(job_ids, 1)


BURST_CLIPS = 16


def test_a_burst_loses_nothing_and_processes_nothing_twice(
    stack: LocalStack, tmp_path: Path
) -> None:
    """The small version of `python -m bench.burst` (which runs 200 and prints figures)."""
    from bench.burst import run_burst, write_clips

    report = run_burst(stack, write_clips(tmp_path, BURST_CLIPS), timeout_s=300.0)

    assert (report.jobs, report.succeeded, report.lost) == (BURST_CLIPS, BURST_CLIPS, 0)
    assert report.double_processed == 0
    assert set(report.messages_per_job.values()) == {1}
