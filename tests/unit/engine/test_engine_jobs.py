"""One fetch/publish interface for every job: S3 manifests, request bodies and the CLI's files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest

from model_code.detectors import Detector
from model_code.jobs import (
    FolderOutput,
    InlineOutput,
    Job,
    LocalVideo,
    RequestBody,
    S3Output,
    S3Video,
    run_job,
)
from model_code.pipeline import TrackOptions, detector_for
from tests.unit.engine.s3_setup import s3_with_video

OPTIONS = TrackOptions.from_dict({"stride": 30})


@pytest.fixture(scope="module")
def yolo() -> Detector:
    return detector_for(OPTIONS)


def folders(root: Path) -> tuple[Path, Path]:
    (root / "input").mkdir(parents=True)
    return root / "input", root / "results"


def test_sources_fetch_into_the_work_folder(tmp_path: Path) -> None:
    local = tmp_path / "clip.mp4"
    local.write_bytes(b"video")
    assert LocalVideo(local).fetch(tmp_path / "unused") == local
    fetched = RequestBody(b"body bytes", ".mov").fetch(tmp_path)
    assert fetched == tmp_path / "request-body.mov" and fetched.read_bytes() == b"body bytes"


@pytest.mark.integration
def test_an_s3_video_is_streamed_to_a_file_named_after_the_key(tmp_path: Path, aws_s3: str) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="input")
    s3.put_object(Bucket="input", Key="videos/Walk (1)?.mp4", Body=b"video bytes")
    path = S3Video("s3://input/videos/Walk (1)?.mp4").fetch(tmp_path)
    assert path == tmp_path / "Walk _1__.mp4" and path.read_bytes() == b"video bytes"


@pytest.mark.integration
def test_an_s3_video_with_a_version_reads_exactly_that_version(tmp_path: Path, aws_s3: str) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="input")
    s3.put_bucket_versioning(Bucket="input", VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket="input", Key="videos/v.mp4", Body=b"first upload")["VersionId"]
    s3.put_object(Bucket="input", Key="videos/v.mp4", Body=b"second upload")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    pinned = S3Video("s3://input/videos/v.mp4", first).fetch(tmp_path / "a")
    latest = S3Video("s3://input/videos/v.mp4").fetch(tmp_path / "b")
    assert (pinned.read_bytes(), latest.read_bytes()) == (b"first upload", b"second upload")


@pytest.mark.slow
def test_the_cli_job_writes_files_and_the_summary_once(
    sample_video: Path, tmp_path: Path, yolo: Detector
) -> None:
    (tmp_path / "annotated.mp4").write_bytes(b"left over from an earlier run")
    job = Job(None, LocalVideo(sample_video), FolderOutput())
    summary = run_job(job, OPTIONS, yolo, tmp_path, tmp_path)
    assert summary["artifacts"] == {
        "tracks_mot": str(tmp_path / "tracks.txt"),
        "tracks_jsonl": str(tmp_path / "tracks.jsonl"),
        "tracks_json": str(tmp_path / "tracks.json"),
        "annotated": None,  # not asked for, whatever the folder holds
        "summary": str(tmp_path / "summary.json"),
        "report": str(tmp_path / "report.html"),
    }
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    assert "<svg" in (tmp_path / "report.html").read_text()
    assert summary["job_id"] is None and "status" not in summary
    assert summary["counts"]["frames_processed"] == 10


@pytest.mark.slow
@pytest.mark.integration
def test_manifest_and_raw_body_jobs_give_the_same_tracks(
    sample_video: Path, tmp_path: Path, yolo: Detector, aws_s3: str
) -> None:
    s3: Any = s3_with_video("videos/walk.mp4", sample_video.read_bytes())

    manifest = Job("job-7", S3Video("s3://input/videos/walk.mp4"), S3Output("s3://work/r/job-7/"))
    stored = run_job(manifest, OPTIONS, yolo, *folders(tmp_path / "m"))
    raw = Job("direct-1", RequestBody(sample_video.read_bytes(), ".mp4"), InlineOutput())
    inline = run_job(raw, OPTIONS, yolo, *folders(tmp_path / "r"))

    assert stored["artifacts"]["tracks_mot"] == "s3://work/r/job-7/tracks.txt"
    assert stored["artifacts"]["annotated"] is None
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="work", Prefix="r/job-7/")["Contents"]}
    assert keys == {
        "r/job-7/tracks.txt",
        "r/job-7/tracks.jsonl",
        "r/job-7/tracks.json",
        "r/job-7/progress.json",
        "r/job-7/summary.json",
        "r/job-7/report.html",
    }
    uploaded = json.loads(s3.get_object(Bucket="work", Key="r/job-7/summary.json")["Body"].read())
    assert uploaded == stored and "tracks" not in stored

    assert inline["artifacts"] == dict.fromkeys(
        ("tracks_mot", "tracks_jsonl", "tracks_json", "annotated", "summary")
    )
    assert not (tmp_path / "r" / "results").exists()  # inline replies write no files
    mot = s3.get_object(Bucket="work", Key="r/job-7/tracks.txt")["Body"].read().decode()
    from_file = np.array([[float(v) for v in line.split(",")[:7]] for line in mot.splitlines()])
    assert len(inline["tracks"]) == inline["counts"]["detections"] > 0
    assert np.array(inline["tracks"]) == pytest.approx(from_file)
    for summary in (stored, inline):
        assert "status" not in summary
    assert inline["counts"] == stored["counts"]
