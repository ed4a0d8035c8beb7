"""Job ids, the job record, and its conditional state transitions in the DynamoDB jobs table.

States: QUEUED -> SUCCEEDED | FAILED, or REJECTED at submission. Every transition is a
conditional write, so duplicate and late events can never move a job backwards; see
docs/RELIABILITY.md for the whole state machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

try:
    from . import clients
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import clients

QUEUED, SUCCEEDED, FAILED, REJECTED = "QUEUED", "SUCCEEDED", "FAILED", "REJECTED"
STATES = (QUEUED, SUCCEEDED, FAILED, REJECTED)
TERMINAL_STATES = frozenset({SUCCEEDED, FAILED, REJECTED})
STAGE_VALIDATION, STAGE_SUBMIT, STAGE_INFERENCE = "validation", "submit", "inference"
# The table's key, index and TTL attribute: stacks/contract.py creates them with these names.
TABLE_KEY = "job_id"
STATUS_INDEX = "by_status"
TTL_ATTRIBUTE = "expires_at"

_SLUG_MAX = 32
_HASH_HEX = 16
_PLACEHOLDER = re.compile(r"[:#][A-Za-z0-9_]+")
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def job_id_for(bucket: str, key: str, version: str | None) -> str:
    """Deterministic job id: a readable slug of the file name and a hash of bucket/key/version.

    `version` is the S3 version id, or the ETag on an unversioned bucket, so a duplicate event
    for the same upload maps to the same job and a new upload of the same key to a new one.
    The id is at most 49 characters of ``[a-z0-9-]``: safe as an S3 key part and an InferenceId.
    """
    digest = hashlib.sha256("\n".join((bucket, key, version or "")).encode("utf-8"))
    stem = key.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
    slug = re.sub(r"[^a-z0-9]+", "-", stem).strip("-")[:_SLUG_MAX].strip("-") or "video"
    return f"{slug}-{digest.hexdigest()[:_HASH_HEX]}"


def utc_now() -> str:
    """ISO-8601 UTC with milliseconds, e.g. ``2026-11-21T11:20:00.123Z`` (sorts as text)."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def expiry_epoch(days: int) -> int:
    """Epoch seconds `days` from now: the record's TTL attribute (DynamoDB deletes it later)."""
    return int(time.time()) + days * 86400


def to_dynamo(item: dict[str, Any]) -> dict[str, Any]:
    """Serialise plain JSON-like values (floats included) to DynamoDB attribute values."""
    exact = json.loads(json.dumps(item), parse_float=Decimal)
    return {k: _serializer.serialize(v) for k, v in exact.items() if v is not None}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(v) for v in value]
    return value


def from_dynamo(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain Python values (Decimals become int or float)."""
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def _is_condition_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class JobStore:
    """The jobs table. Writes return False when their condition does not hold (a no-op)."""

    def __init__(self, table_name: str, dynamodb: Any = None) -> None:
        self.table_name = table_name
        self._db = dynamodb if dynamodb is not None else clients.client("dynamodb")

    def get(self, job_id: str) -> dict[str, Any] | None:
        response = self._db.get_item(
            TableName=self.table_name, Key={TABLE_KEY: {"S": job_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return from_dynamo(item) if item else None

    def create(self, record: dict[str, Any]) -> bool:
        """Put a new record; False if a record with its job id already exists (first wins)."""
        return self._write(
            self._db.put_item,
            Item=to_dynamo(record),
            ConditionExpression="attribute_not_exists(job_id)",
        )

    def list_jobs(self, status: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Jobs in `status`, oldest first, via the ``by_status`` index (eventually consistent)."""
        if status not in STATES:
            raise ValueError(f"unknown job status {status!r}; expected one of {', '.join(STATES)}")
        found: list[dict[str, Any]] = []
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": "#s = :s",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": status}},
        }
        while True:
            response = self._db.query(**query)
            found.extend(from_dynamo(item) for item in response.get("Items", []))
            if limit is not None and len(found) >= limit:
                return found[:limit]
            if "LastEvaluatedKey" not in response:
                return found
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def acquire_invoke_lease(self, job_id: str, token: str, lease_until: float) -> bool:
        """Claim the right to invoke the endpoint for a job that has no recorded invocation.

        Holds for QUEUED jobs and for jobs whose submission failed (a replay retries them, and
        they go back to QUEUED), unless another live attempt holds an unexpired lease.
        """
        return self._update(
            job_id,
            "SET #s = :queued, invoke_lease = :token, lease_until = :until, updated_at = :now,"
            " invoke_attempts = if_not_exists(invoke_attempts, :zero) + :one"
            " REMOVE reason, failed_stage",
            "attribute_exists(job_id) AND attribute_not_exists(invoked_at)"
            " AND (#s = :queued OR (#s = :failed AND failed_stage = :submit))"
            " AND (attribute_not_exists(lease_until) OR lease_until < :epoch)",
            {
                ":queued": QUEUED,
                ":failed": FAILED,
                ":submit": STAGE_SUBMIT,
                ":token": token,
                ":until": round(lease_until, 3),
                ":epoch": round(time.time(), 3),
                ":zero": 0,
                ":one": 1,
            },
        )

    def record_invocation(
        self, job_id: str, token: str, output_location: str, failure_location: str | None
    ) -> bool:
        """Record the accepted invocation and release the lease (only by the lease holder)."""
        failure = ", inference_failure = :fail" if failure_location else ""
        return self._update(
            job_id,
            f"SET invoked_at = :now, updated_at = :now, inference_output = :out{failure}"
            " REMOVE invoke_lease, lease_until",
            "invoke_lease = :token",
            {":token": token, ":out": output_location, ":fail": failure_location},
        )

    def fail_submission(self, job_id: str, token: str, reason: str) -> bool:
        """QUEUED -> FAILED (stage submit) by the lease holder whose invocation finally failed."""
        return self._update(
            job_id,
            "SET #s = :failed, reason = :reason, failed_stage = :submit, updated_at = :now"
            " REMOVE invoke_lease, lease_until",
            "invoke_lease = :token AND #s = :queued",
            {
                ":failed": FAILED,
                ":queued": QUEUED,
                ":submit": STAGE_SUBMIT,
                ":reason": reason,
                ":token": token,
            },
        )

    def succeed(self, job_id: str, result: dict[str, Any]) -> bool:
        """QUEUED -> SUCCEEDED with the result fields; also over a submit-stage failure, because
        an invocation whose acknowledgement was lost did run. Never over another terminal state."""
        names = {f"#r{i}": name for i, name in enumerate(result)}
        sets = ", ".join(f"#r{i} = :r{i}" for i in range(len(result)))
        values = {f":r{i}": value for i, value in enumerate(result.values())}
        return self._update(
            job_id,
            f"SET #s = :succeeded, completed_at = :now, updated_at = :now, {sets}"
            " REMOVE reason, failed_stage",
            "attribute_exists(job_id)"
            " AND (#s = :queued OR (#s = :failed AND failed_stage = :submit))",
            {
                ":succeeded": SUCCEEDED,
                ":queued": QUEUED,
                ":failed": FAILED,
                ":submit": STAGE_SUBMIT,
                **values,
            },
            names,
        )

    def fail_inference(self, job_id: str, reason: str, details: dict[str, Any]) -> bool:
        """QUEUED -> FAILED (stage inference); a late error after any terminal state is a no-op."""
        names = {f"#d{i}": name for i, name in enumerate(details)}
        sets = "".join(f", #d{i} = :d{i}" for i in range(len(details)))
        values = {f":d{i}": value for i, value in enumerate(details.values())}
        return self._update(
            job_id,
            "SET #s = :failed, reason = :reason, failed_stage = :inference,"
            f" completed_at = :now, updated_at = :now{sets}",
            "attribute_exists(job_id) AND #s = :queued",
            {
                ":failed": FAILED,
                ":queued": QUEUED,
                ":inference": STAGE_INFERENCE,
                ":reason": reason,
                **values,
            },
            names,
        )

    def mark_notified(self, job_id: str, status: str) -> bool:
        """Remember that the user was told about `status`, so replays re-send only what was lost."""
        return self._update(
            job_id,
            "SET notified_status = :status, notified_at = :now",
            "attribute_exists(job_id) AND #s = :status",
            {":status": status},
        )

    def _update(
        self,
        job_id: str,
        update: str,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> bool:
        expression_values = to_dynamo({**values, ":now": utc_now()})
        all_names = {"#s": "status", **(names or {})}
        used = set(_PLACEHOLDER.findall(update + " " + condition))
        return self._write(
            self._db.update_item,
            TableName=self.table_name,
            Key={TABLE_KEY: {"S": job_id}},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames={k: v for k, v in all_names.items() if k in used},
            ExpressionAttributeValues={k: v for k, v in expression_values.items() if k in used},
        )

    def _write(self, call: Any, **kwargs: Any) -> bool:
        kwargs.setdefault("TableName", self.table_name)
        try:
            call(**kwargs)
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True


def _default_store(table_name: str | None) -> JobStore:
    name = table_name or os.environ.get("JOBS_TABLE", "")
    if not name:
        raise ValueError("no jobs table given and JOBS_TABLE is not set")
    return JobStore(name)


def get_job(job_id: str, table_name: str | None = None) -> dict[str, Any] | None:
    """The job record, or None. `table_name` defaults to ``JOBS_TABLE``."""
    return _default_store(table_name).get(job_id)


def list_jobs(
    status: str, table_name: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Jobs in `status`, oldest first. `table_name` defaults to ``JOBS_TABLE``."""
    return _default_store(table_name).list_jobs(status, limit)
