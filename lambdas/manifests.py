"""The job manifest (the async request's input): one writer, deterministic content.

Schema: docs/schemas/ (``job_id``, ``video``, ``video_version``, ``output``, ``options``,
``attempt``, and a long video's ``segment`` or its parent's ``stitch`` list).
"""

from __future__ import annotations

import json
from typing import Any

try:
    from . import clients, config, s3_events
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import clients
    import config
    import s3_events


def video_version(obj: s3_events.S3Object) -> str | None:
    """The manifest's ``video_version``: the S3 version id, else the ETag in its quoted form.

    Version ids never contain quotes, so the container tells the two apart by the quotes.
    """
    if obj.version_id:
        return obj.version_id
    return f'"{obj.etag}"' if obj.etag else None


def write_manifest(
    job_id: str,
    obj: s3_events.S3Object,
    settings: config.SubmitSettings,
    options: dict[str, Any] | None = None,
    attempt: int = 1,
    extra: dict[str, Any] | None = None,
) -> str:
    """Write the job manifest (deterministic content, so rewriting it is harmless).

    It names exactly the uploaded version of the video, so an overwrite while the job waits in
    the endpoint queue does not change what the job reads. `options` (the upload's own, from
    its metadata) override the deployment's.
    """
    manifest = {
        "job_id": job_id,
        "video": obj.uri,
        "video_version": video_version(obj),
        "output": settings.results_uri(job_id),
        "options": {**settings.job_options, **(options or {})},
        "attempt": attempt,
        **(extra or {}),  # a long video's `segment`, or its parent's `stitch` list
    }
    key = settings.manifest_key(job_id)
    _put(clients.client("s3"), settings.work_bucket, key, manifest)
    return f"s3://{settings.work_bucket}/{key}"


def write_attempt_manifest(
    record: dict[str, Any], attempt: int, settings: config.RetrySettings
) -> str:
    """A copy of the job's manifest with the new attempt number, under its own key."""
    s3 = clients.client("s3")
    bucket, key = s3_events.split_s3_uri(record["manifest"])
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    manifest["attempt"] = attempt
    new_key = settings.manifest_key(record["job_id"], attempt)
    _put(s3, settings.work_bucket, new_key, manifest)
    return f"s3://{settings.work_bucket}/{new_key}"


def _put(s3: Any, bucket: str, key: str, manifest: dict[str, Any]) -> None:
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(manifest, ensure_ascii=False, sort_keys=True).encode("utf-8"),
        ContentType="application/json",
    )
