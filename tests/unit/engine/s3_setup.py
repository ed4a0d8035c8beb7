"""Buckets and an uploaded video for the engine tests that run against moto's S3."""

from __future__ import annotations

from typing import Any

import boto3


def s3_with_video(key: str, body: bytes) -> Any:
    """A boto3 S3 client after making the `input` and `work` buckets and putting `input/key`."""
    s3 = boto3.client("s3")
    for bucket in ("input", "work"):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket="input", Key=key, Body=body)
    return s3
