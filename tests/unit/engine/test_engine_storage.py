"""S3 URI parsing, streamed download and artifact upload (against a moto S3)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from model_code.storage import (
    S3Uri,
    StorageError,
    artifact_uri,
    download_to_file,
    parse_s3_uri,
    upload_folder,
)


def test_parse_object_and_prefix_uris() -> None:
    assert parse_s3_uri("s3://videos-in/videos/a b.mp4") == S3Uri("videos-in", "videos/a b.mp4")
    assert parse_s3_uri("s3://work/results/j1", prefix=True) == S3Uri("work", "results/j1/")
    assert parse_s3_uri("s3://work", prefix=True) == S3Uri("work", "")
    assert str(S3Uri("work", "results/j1/tracks.txt")) == "s3://work/results/j1/tracks.txt"
    assert artifact_uri("s3://work/results/j1", "tracks.txt") == "s3://work/results/j1/tracks.txt"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("https://work/key", "expected an S3 URI"),
        ("s3://", "not a valid S3 bucket name"),
        ("s3://Bad_Bucket/key", "not a valid S3 bucket name"),
        ("s3://work", "names no object"),
        ("s3://work/folder/", "names no object"),
        (None, "expected an S3 URI"),
    ],
)
def test_bad_uris_are_explained(uri: object, message: str) -> None:
    with pytest.raises(StorageError, match=message):
        parse_s3_uri(uri)  # type: ignore[arg-type]


@pytest.mark.integration
def test_download_and_upload_through_moto(aws_s3: str, tmp_path: Path) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="input")
    s3.put_object(Bucket="input", Key="videos/clip.mp4", Body=b"\x00video-bytes" * 1000)

    target = download_to_file("s3://input/videos/clip.mp4", tmp_path / "clip.mp4")
    assert target.read_bytes() == b"\x00video-bytes" * 1000

    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "tracks.txt").write_text("1,1,0,0,1,1,0.9,-1,-1,-1\n")
    (folder / "summary.json").write_text("{}")
    uploaded = upload_folder(folder, "s3://input/results/job-1/")
    assert uploaded == {
        "summary.json": "s3://input/results/job-1/summary.json",
        "tracks.txt": "s3://input/results/job-1/tracks.txt",
    }
    head = s3.head_object(Bucket="input", Key="results/job-1/summary.json")
    assert head["ContentType"] == "application/json"
    body = s3.get_object(Bucket="input", Key="results/job-1/tracks.txt")["Body"].read()
    assert body.startswith(b"1,1,")


@pytest.mark.integration
def test_missing_object_is_a_clear_error(aws_s3: str, tmp_path: Path) -> None:
    boto3.client("s3").create_bucket(Bucket="input")
    with pytest.raises(StorageError, match="s3://input/videos/nope.mp4 does not exist"):
        download_to_file("s3://input/videos/nope.mp4", tmp_path / "x.mp4")
    with pytest.raises(StorageError, match="does not exist"):
        download_to_file("s3://no-such-bucket/videos/x.mp4", tmp_path / "y.mp4")
