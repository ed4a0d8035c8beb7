"""S3 access for the endpoint: URI parsing, streamed download, artifact folder upload.

Clients come from `boto3.client("s3")`, so `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3`, the region
and credentials are taken from the environment as boto3 does; no endpoint is hard-coded here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NamedTuple

CONTENT_TYPES = {
    ".txt": "text/plain; charset=utf-8",
    ".jsonl": "application/x-ndjson",
    ".json": "application/json",
    ".mp4": "video/mp4",
}
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


class StorageError(ValueError):
    """A bad S3 URI, or an input object that does not exist or may not be read."""


class StorageUnavailable(RuntimeError):
    """S3 failed on the service's side (network, throttling, a failed upload)."""


class S3Uri(NamedTuple):
    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_s3_uri(uri: str, *, prefix: bool = False) -> S3Uri:
    """`s3://bucket/key` -> S3Uri. With `prefix=True` the key may be empty and ends with '/'."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise StorageError(f"expected an S3 URI like s3://bucket/key, got {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not _BUCKET_NAME.match(bucket):
        raise StorageError(f"'{bucket}' in {uri!r} is not a valid S3 bucket name")
    if prefix:
        if key and not key.endswith("/"):
            key += "/"
    elif not key or key.endswith("/"):
        raise StorageError(f"{uri!r} names no object: the key after the bucket is missing")
    return S3Uri(bucket, key)


def s3_client() -> Any:
    import boto3

    return boto3.client("s3")


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def download_to_file(
    uri: str, path: str | Path, client: Any = None, *, version: str | None = None
) -> Path:
    """Stream an S3 object to `path` (never whole in memory).

    `version` pins exactly which bytes are read: an S3 version id, or an ETag in its quoted
    HTTP form (``"<hex>"``) for unversioned buckets. A pinned version that is gone (deleted, or
    overwritten in an unversioned bucket) is a `StorageError` saying so.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    source = parse_s3_uri(uri)
    path = Path(path)
    client = client or s3_client()
    try:
        if version and version.startswith('"'):
            _stream_if_match(client, source, version, path)
        else:
            extra = {"VersionId": version} if version else None
            client.download_file(source.bucket, source.key, str(path), ExtraArgs=extra)
    except ClientError as error:
        code = _error_code(error)
        if version and code in _VERSION_GONE:
            raise StorageError(
                f"the uploaded version {version} of {uri} no longer exists (deleted or "
                "overwritten before the job ran); upload the video again"
            ) from error
        if code in {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}:
            raise StorageError(f"the video {uri} does not exist") from error
        if code in {"403", "AccessDenied", "Forbidden"}:
            raise StorageError(f"access to {uri} was denied") from error
        raise StorageUnavailable(f"could not download {uri}: {error}") from error
    except BotoCoreError as error:
        raise StorageUnavailable(f"could not download {uri}: {error}") from error
    return path


# S3 answers these when a pinned version id or ETag no longer names an object.
_VERSION_GONE = {"404", "NoSuchKey", "NotFound", "NoSuchVersion", "412", "PreconditionFailed"}
_CHUNK_BYTES = 8 * 1024 * 1024


def _stream_if_match(client: Any, source: S3Uri, etag: str, path: Path) -> None:
    """GetObject with IfMatch, copied to `path` in chunks (the transfer manager has no IfMatch)."""
    response = client.get_object(Bucket=source.bucket, Key=source.key, IfMatch=etag)
    with path.open("wb") as out:
        for chunk in response["Body"].iter_chunks(_CHUNK_BYTES):
            out.write(chunk)


def upload_folder(folder: str | Path, prefix_uri: str, client: Any = None) -> dict[str, str]:
    """Upload every file directly in `folder` under the prefix; returns file name -> S3 URI."""
    from botocore.exceptions import BotoCoreError, ClientError

    target = parse_s3_uri(prefix_uri, prefix=True)
    client = client or s3_client()
    uploaded: dict[str, str] = {}
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        key = target.key + path.name
        content_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
        try:
            client.upload_file(
                str(path), target.bucket, key, ExtraArgs={"ContentType": content_type}
            )
        except (ClientError, BotoCoreError) as error:
            destination = S3Uri(target.bucket, key)
            raise StorageUnavailable(
                f"could not upload {path.name} to {destination}: {error}"
            ) from error
        uploaded[path.name] = str(S3Uri(target.bucket, key))
    return uploaded


def artifact_uri(prefix_uri: str, name: str) -> str:
    """Where `upload_folder` puts the file `name` under `prefix_uri`."""
    target = parse_s3_uri(prefix_uri, prefix=True)
    return str(S3Uri(target.bucket, target.key + name))
