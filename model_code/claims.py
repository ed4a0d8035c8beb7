"""Claim a job attempt before working on it, so a duplicate request becomes a cheap no-op.

SageMaker does not deduplicate InvokeEndpointAsync on InferenceId, and an ambiguous answer (a
read timeout, a 5xx after the request was queued) makes the submitter send it again. The first
worker to reach an attempt writes ``<output prefix>_claims/attempt-<n>.json`` with
``IfNoneMatch="*"`` (S3 conditional writes); every later request for the same attempt finds the
object there and answers a duplicate reply without downloading or decoding anything.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

from model_code.storage import StorageUnavailable, parse_s3_uri, s3_client

CLAIMS_FOLDER = "_claims/"
_TAKEN = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


def claim_key(output_prefix: str, attempt: int) -> str:
    """The claim object's key for `attempt` under the job's output prefix (``s3://…/``)."""
    prefix = parse_s3_uri(output_prefix, prefix=True).key
    return f"{prefix}{CLAIMS_FOLDER}attempt-{attempt}.json"


def claim_attempt(
    output_prefix: str, job_id: str, attempt: int, client: Any = None
) -> dict[str, Any] | None:
    """Claim `attempt` of `job_id`; None when this worker won, else the winner's claim."""
    bucket = parse_s3_uri(output_prefix, prefix=True).bucket
    key = claim_key(output_prefix, attempt)
    client = client or s3_client()
    claim = {
        "job_id": job_id,
        "attempt": attempt,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "claimed_at": time.time(),
    }
    try:
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(claim).encode("utf-8"),
            ContentType="application/json",
            IfNoneMatch="*",
        )
    except Exception as error:
        code = str((getattr(error, "response", None) or {}).get("Error", {}).get("Code", ""))
        if code not in _TAKEN:
            raise StorageUnavailable(f"could not claim job {job_id}: {error}") from error
        return _read_claim(client, bucket, key) or {"job_id": job_id, "attempt": attempt}
    return None


def duplicate_reply(job_id: str, attempt: int, winner: dict[str, Any]) -> dict[str, Any]:
    """What a duplicate request answers: marked so the ``complete`` Lambda ignores it."""
    return {
        "job_id": job_id,
        "attempt": attempt,
        "duplicate": True,
        "claimed_by": winner.get("worker"),
    }


def _read_claim(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        found = json.loads(body)
    except Exception:  # the claim exists; who holds it is only informative
        return None
    return found if isinstance(found, dict) else None
