"""End to end on the local stack: upload -> submit -> async endpoint -> model server -> complete.

One stack (moto server, the model server, the async-endpoint emulator and the
event pump) is shared by the module.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest

from local.stack import LocalStack, local_stack
from stacks.contract import ASYNC_OUTPUT_PREFIX

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# In the bundled sample one person walks through source frames ~191-300; the clip covers them.
CLIP_FIRST_FRAME = 181
CLIP_FRAMES = 120
JOB_TIMEOUT_S = 150.0
OVERWRITE_FRAMES = (20, 40)  # two short clips of different lengths, uploaded to one key


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with local_stack(tmp_path_factory.mktemp("local-run")) as running:
        yield running


def write_short_clip(source: Path, target: Path, first: int, frames: int) -> None:
    """Re-encode `frames` frames of `source` from 1-based frame `first` as H.264 mp4."""
    with av.open(str(source)) as reader, av.open(str(target), "w") as writer:
        in_stream = reader.streams.video[0]
        out_stream = writer.add_stream("libx264", rate=in_stream.average_rate)
        out_stream.width = in_stream.codec_context.width
        out_stream.height = in_stream.codec_context.height
        out_stream.pix_fmt = "yuv420p"
        for number, frame in enumerate(reader.decode(in_stream), start=1):
            if number < first:
                continue
            if number >= first + frames:
                break
            for packet in out_stream.encode(frame.reformat(format="yuv420p")):
                writer.mux(packet)
        for packet in out_stream.encode():
            writer.mux(packet)


def notifications_for(stack: LocalStack, job_id: str, timeout_s: float = 30.0) -> list[dict]:
    """SNS envelopes on the user-facing notifications topic whose job_id attribute is `job_id`."""
    sqs = stack.client("sqs")
    url = stack.resources.notifications_queue_url
    deadline = time.monotonic() + timeout_s
    found: list[dict[str, Any]] = []
    while not found and time.monotonic() < deadline:
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in reply.get("Messages", []):
            envelope = json.loads(message["Body"])
            attributes = envelope.get("MessageAttributes", {})
            if attributes.get("job_id", {}).get("Value") == job_id:
                found.append(envelope)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_short_real_clip_is_tracked_end_to_end(
    stack: LocalStack, sample_video: Path, tmp_path: Path
) -> None:
    clip = tmp_path / "walkers.mp4"
    write_short_clip(sample_video, clip, CLIP_FIRST_FRAME, CLIP_FRAMES)
    key, job_id = stack.upload(clip)
    assert key == f"{stack.settings.input_prefix}walkers.mp4"

    record = stack.wait_terminal([job_id], JOB_TIMEOUT_S)[job_id]
    assert record["status"] == "SUCCEEDED", record

    files = {path.name: path for path in stack.download_results(job_id, tmp_path / "results")}
    rows = [line.split(",") for line in files["tracks.txt"].read_text().splitlines()]
    assert rows, "tracks.txt is empty"
    assert all(len(row) == 10 and row[7:] == ["-1", "-1", "-1"] for row in rows)
    frames = [int(row[0]) for row in rows]
    assert min(frames) >= 1 and max(frames) <= CLIP_FRAMES
    frames_per_track = Counter(int(row[1]) for row in rows)
    assert max(frames_per_track.values()) >= 20, frames_per_track

    summary = json.loads(files["summary.json"].read_text())
    assert summary["counts"]["tracks"] == len(frames_per_track)
    assert summary["counts"]["detections"] == len(rows)
    assert summary["video"]["frames"] == CLIP_FRAMES

    messages = notifications_for(stack, job_id)
    assert [m["MessageAttributes"]["status"]["Value"] for m in messages] == ["SUCCEEDED"]


def test_corrupt_video_fails_on_the_error_path(
    stack: LocalStack, sample_video: Path, tmp_path: Path
) -> None:
    corrupt = tmp_path / "broken.mp4"
    # An intact MP4 index (so the upload passes submit's checks) whose coded frames are blanked:
    # only the container finds out, on the error path.
    data = bytearray(sample_video.read_bytes())
    payload = data.index(b"mdat") + 4
    end = data.index(b"moov") - 4 if data.index(b"moov") > payload else len(data)
    data[payload:end] = bytes(end - payload)
    corrupt.write_bytes(bytes(data))
    _, job_id = stack.upload(corrupt)

    record = stack.wait_terminal([job_id], JOB_TIMEOUT_S)[job_id]
    assert record["status"] == "FAILED", record
    assert "contains no decodable video frames" in record["reason"], record
    assert "Traceback" not in record["reason"]

    messages = notifications_for(stack, job_id)
    assert [m["MessageAttributes"]["status"]["Value"] for m in messages] == ["FAILED"]

    s3 = stack.client("s3")
    work = stack.resources.work_bucket
    listed = s3.list_objects_v2(Bucket=work, Prefix=f"results/{job_id}/").get("Contents", [])
    assert [o["Key"] for o in listed] == [f"results/{job_id}/_claims/attempt-1.json"]  # no results
    assert (
        s3.list_objects_v2(Bucket=work, Prefix=f"{ASYNC_OUTPUT_PREFIX}{job_id}").get("KeyCount")
        == 0
    )
    failures = s3.list_objects_v2(Bucket=work, Prefix=f"async-failures/{job_id}")
    assert failures.get("KeyCount") == 1


def test_an_overwrite_right_after_upload_leaves_each_job_its_own_video(
    stack: LocalStack, sample_video: Path, tmp_path: Path
) -> None:
    """Two uploads to one key, the second while the first is still queued: two jobs, each
    tracking the bytes it was submitted for (the input bucket is versioned, as deployed)."""
    short, long = tmp_path / "short.mp4", tmp_path / "long.mp4"
    write_short_clip(sample_video, short, CLIP_FIRST_FRAME, OVERWRITE_FRAMES[0])
    write_short_clip(sample_video, long, CLIP_FIRST_FRAME, OVERWRITE_FRAMES[1])
    key = f"{stack.settings.input_prefix}same-name.mp4"
    _, first_job = stack.upload(short, key)
    _, second_job = stack.upload(long, key)
    assert first_job != second_job

    records = stack.wait_terminal([first_job, second_job], 2 * JOB_TIMEOUT_S)
    for job_id, frames in zip((first_job, second_job), OVERWRITE_FRAMES, strict=True):
        assert records[job_id]["status"] == "SUCCEEDED", records[job_id]
        files = {p.name: p for p in stack.download_results(job_id, tmp_path / job_id)}
        summary = json.loads(files["summary.json"].read_text())
        assert summary["video"]["frames"] == frames, job_id
