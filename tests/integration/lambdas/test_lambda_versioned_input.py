"""A job reads exactly the upload that started it, even when the key is overwritten while queued.

moto's S3 events carry no ``versionId`` (AWS's do, for versioned buckets), so the events here go
through the local stack's ``VersionIdFiller``, which adds the version AWS would name. The
container side is the engine's real manifest parser and S3 download against the same moto server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lambdas import jobs
from local.event_pump import VersionIdFiller
from model_code.handler import parse_request as input_fn
from model_code.jobs import S3Video
from model_code.storage import StorageError
from tests.integration.lambdas.lambda_harness import INPUT_BUCKET, MP4_HEADER, Aws

pytestmark = pytest.mark.integration

KEY = "videos/clip.mp4"
FIRST = MP4_HEADER + b"first upload " * 64
SECOND = MP4_HEADER + b"second upload, longer " * 96


def _submit(aws: Aws, body: bytes, *, versioned: bool) -> tuple[str, dict[str, Any]]:
    """Upload `body` at KEY and run submit on its event; returns (job id, its manifest)."""
    aws.upload(KEY, body)
    (event,) = aws.s3_events(1)
    if versioned:
        event = VersionIdFiller(aws.s3)(json.dumps(event))
    (outcome,) = aws.submit(event)["jobs"]
    assert outcome["action"] == "queued", outcome
    record = aws.job(outcome["job_id"])
    bucket, key = record["manifest"][len("s3://") :].split("/", 1)
    manifest = json.loads(aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return outcome["job_id"], manifest


def _container_reads(manifest: dict[str, Any], tmp_path: Path) -> bytes:
    """What the endpoint's handler downloads for this manifest."""
    job = input_fn(json.dumps(manifest), "application/json")
    assert isinstance(job.source, S3Video)
    folder = tmp_path / str(job.job_id)
    folder.mkdir(exist_ok=True)
    return job.source.fetch(folder).read_bytes()


def test_an_overwrite_while_queued_leaves_each_job_its_own_bytes(aws: Aws, tmp_path) -> None:
    aws.s3.put_bucket_versioning(Bucket=INPUT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    first_job, first_manifest = _submit(aws, FIRST, versioned=True)
    second_job, second_manifest = _submit(aws, SECOND, versioned=True)

    assert first_job != second_job
    versions = aws.s3.list_object_versions(Bucket=INPUT_BUCKET, Prefix=KEY)["Versions"]
    by_size = {v["Size"]: v["VersionId"] for v in versions}
    assert first_manifest["video_version"] == by_size[len(FIRST)]
    assert second_manifest["video_version"] == by_size[len(SECOND)]
    assert aws.job(first_job)["version_id"] == first_manifest["video_version"]

    # Both jobs ran after the overwrite: each still reads the bytes it was submitted for.
    assert _container_reads(first_manifest, tmp_path) == FIRST
    assert _container_reads(second_manifest, tmp_path) == SECOND


def test_a_deleted_version_fails_the_job_with_one_clear_line(aws: Aws, tmp_path) -> None:
    aws.s3.put_bucket_versioning(Bucket=INPUT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    _, manifest = _submit(aws, FIRST, versioned=True)
    aws.s3.delete_object(Bucket=INPUT_BUCKET, Key=KEY, VersionId=manifest["video_version"])

    with pytest.raises(StorageError) as caught:
        _container_reads(manifest, tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert f"version {manifest['video_version']} of s3://{INPUT_BUCKET}/{KEY}" in message
    assert "no longer exists" in message and "upload the video again" in message


def test_an_unversioned_bucket_pins_the_etag_and_refuses_replaced_bytes(aws: Aws, tmp_path) -> None:
    first_job, manifest = _submit(aws, FIRST, versioned=False)
    assert manifest["video_version"] == f'"{aws.job(first_job)["etag"]}"'
    assert _container_reads(manifest, tmp_path) == FIRST

    aws.upload(KEY, SECOND)  # overwritten in place: the first upload's bytes are gone
    with pytest.raises(StorageError, match="no longer exists"):
        _container_reads(manifest, tmp_path)


def test_an_upload_deleted_before_submit_is_rejected_as_deleted(aws: Aws) -> None:
    event = aws.upload_and_receive(KEY, FIRST)
    aws.s3.delete_object(Bucket=INPUT_BUCKET, Key=KEY)

    (outcome,) = aws.submit(event)["jobs"]

    assert outcome["action"] == "rejected"
    record = aws.job(outcome["job_id"])
    assert record["status"] == jobs.REJECTED
    assert record["reason"] == "The upload was deleted before it could be checked."
