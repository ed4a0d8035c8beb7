"""Job ids, the job record, and its conditional state transitions in the DynamoDB jobs table.

States: QUEUED -> SUCCEEDED | FAILED, or REJECTED at submission. Every transition is a
conditional write whose condition comes from the transition table in ``lifecycle``, so duplicate
and late events can never move a job backwards; docs/RELIABILITY.md prints the table.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

try:
    from . import clients, lifecycle
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import clients
    import lifecycle

# Re-exported: callers read the states from here.
QUEUED, SUCCEEDED, FAILED, REJECTED = (
    lifecycle.QUEUED,
    lifecycle.SUCCEEDED,
    lifecycle.FAILED,
    lifecycle.REJECTED,
)
STAGE_VALIDATION, STAGE_SUBMIT = lifecycle.STAGE_VALIDATION, lifecycle.STAGE_SUBMIT
STAGE_INFERENCE, STAGE_TIMEOUT = lifecycle.STAGE_INFERENCE, lifecycle.STAGE_TIMEOUT

STATES = (QUEUED, SUCCEEDED, FAILED, REJECTED)
TERMINAL_STATES = frozenset({SUCCEEDED, FAILED, REJECTED})
# How long a notification claim protects a publisher before another delivery may take it over.
NOTICE_HOLD_S = 120.0
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


_ATTEMPT_MARK = ".attempt-"


def inference_id(job_id: str, attempt: int = 1) -> str:
    """The InferenceId of `attempt` of a job: the job id itself for the first attempt, then
    ``<job id>.attempt-<n>`` (at most 60 characters; job ids never contain a dot)."""
    return job_id if attempt <= 1 else f"{job_id}{_ATTEMPT_MARK}{attempt}"


def split_inference_id(value: str) -> tuple[str, int]:
    """The job id and attempt number an InferenceId names (the inverse of `inference_id`)."""
    job_id, mark, number = value.partition(_ATTEMPT_MARK)
    if mark and number.isdigit():
        return job_id, int(number)
    return value, 1


def attempt_of(record: dict[str, Any]) -> int:
    """The attempt number a record is on (1 until a transient failure was retried)."""
    return int(record.get("attempt") or 1)


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


_BATCH_GET_MAX = 100  # DynamoDB's BatchGetItem limit
# Unprocessed keys (throttling) are asked again after 0.05, 0.1, 0.2 ... s (capped at 2 s, with
# jitter), at most this many requests per batch in all.
_BATCH_GET_ROUNDS = 8
_BATCH_GET_BACKOFF_S = (0.05, 2.0)


def batch_get_backoff_s(round_: int) -> float:
    """The pause before retry `round_` (1, 2, ...) of a batch's unprocessed keys."""
    base, cap = _BATCH_GET_BACKOFF_S
    return min(cap, base * 2 ** (round_ - 1)) * random.uniform(0.5, 1.0)


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

    def get_many(self, job_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The records of `job_ids` that exist, by job id: BatchGetItem, 100 keys a request,
        consistent reads, unprocessed keys asked again (a long video's segments)."""
        found: dict[str, dict[str, Any]] = {}
        pending = list(dict.fromkeys(job_ids))
        while pending:
            batch, pending = pending[:_BATCH_GET_MAX], pending[_BATCH_GET_MAX:]
            request = {
                self.table_name: {
                    "Keys": [{TABLE_KEY: {"S": job_id}} for job_id in batch],
                    "ConsistentRead": True,
                }
            }
            for round_ in range(_BATCH_GET_ROUNDS):
                if round_:  # DynamoDB asks for exponential backoff before a retry
                    time.sleep(batch_get_backoff_s(round_))
                reply = self._db.batch_get_item(RequestItems=request)
                for item in reply.get("Responses", {}).get(self.table_name, []):
                    record = from_dynamo(item)
                    found[record["job_id"]] = record
                request = reply.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise RuntimeError(
                    f"BatchGetItem left keys unprocessed after {_BATCH_GET_ROUNDS} tries"
                )
        return found

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
        """Claim the right to invoke the endpoint (event ``lease``), unless another live attempt
        holds an unexpired lease. A submit-stage failure goes back to QUEUED (a replay)."""
        return self._transition(
            job_id,
            lifecycle.LEASE,
            "SET #s = :queued, invoke_lease = :token, lease_until = :until, updated_at = :now,"
            " invoke_attempts = if_not_exists(invoke_attempts, :zero) + :one"
            " REMOVE reason, failed_stage",
            "attribute_not_exists(lease_until) OR lease_until < :epoch",
            {
                ":queued": QUEUED,
                ":token": token,
                ":until": round(lease_until, 3),
                ":epoch": round(time.time(), 3),
                ":zero": 0,
                ":one": 1,
            },
        )

    def record_invocation(
        self,
        job_id: str,
        token: str,
        output_location: str,
        failure_location: str | None,
        requests: int = 1,
    ) -> bool:
        """Record the accepted invocation and release the lease (only by the lease holder).

        `requests` counts the InvokeEndpointAsync requests this attempt sent (retries included).
        """
        failure = ", inference_failure = :fail" if failure_location else ""
        return self._transition(
            job_id,
            lifecycle.INVOKE_OK,
            f"SET invoked_at = :now, updated_at = :now, inference_output = :out{failure},"
            " invoke_requests = if_not_exists(invoke_requests, :zero) + :requests"
            " REMOVE invoke_lease, lease_until",
            "invoke_lease = :token",
            {
                ":token": token,
                ":out": output_location,
                ":fail": failure_location,
                ":zero": 0,
                ":requests": requests,
            },
        )

    def defer_submission(self, job_id: str, token: str, error: str) -> bool:
        """The lease holder's requests were refused for now: give the lease back, keep the job
        PENDING, and note the error (the event is retried; the sweeper reads the note)."""
        return self._transition(
            job_id,
            lifecycle.INVOKE_DEFERRED,
            "SET last_submit_error = :error, updated_at = :now REMOVE invoke_lease, lease_until",
            "invoke_lease = :token",
            {":error": error, ":token": token},
        )

    def fail_submission(self, job_id: str, token: str, reason: str) -> bool:
        """QUEUED -> FAILED (stage submit) by the lease holder whose invocation finally failed."""
        return self._transition(
            job_id,
            lifecycle.INVOKE_FAILED,
            "SET #s = :failed, reason = :reason, failed_stage = :submit, updated_at = :now"
            " REMOVE invoke_lease, lease_until",
            "invoke_lease = :token",
            {":failed": FAILED, ":submit": STAGE_SUBMIT, ":reason": reason, ":token": token},
        )

    def retry(self, job_id: str, attempt: int, reason: str, manifest: str | None = None) -> bool:
        """INVOKED -> QUEUED for a new attempt after a transient failure of attempt `attempt`;
        `manifest` is the new attempt's manifest (the old one names the old attempt)."""
        new_manifest = ", manifest = :manifest" if manifest else ""
        return self._transition(
            job_id,
            lifecycle.RETRY,
            f"SET attempt = :next, last_failure = :reason, updated_at = :now{new_manifest}"
            " REMOVE invoked_at, inference_output, inference_failure",
            "attribute_not_exists(attempt) OR attempt = :attempt",
            {":next": attempt + 1, ":attempt": attempt, ":reason": reason, ":manifest": manifest},
        )

    def succeed(self, job_id: str, result: dict[str, Any]) -> bool:
        """-> SUCCEEDED with the result fields, from every phase the table allows (a success
        after a lost acknowledgement or a timeout did run). Never over a final state."""
        names = {f"#r{i}": name for i, name in enumerate(result)}
        sets = ", ".join(f"#r{i} = :r{i}" for i in range(len(result)))
        values = {f":r{i}": value for i, value in enumerate(result.values())}
        return self._transition(
            job_id,
            lifecycle.INFERENCE_OK,
            f"SET #s = :succeeded, completed_at = :now, updated_at = :now, {sets}"
            " REMOVE reason, failed_stage, invoke_lease, lease_until",
            None,
            {":succeeded": SUCCEEDED, **values},
            names,
        )

    def fail_inference(self, job_id: str, reason: str, details: dict[str, Any]) -> bool:
        """-> FAILED (stage inference); a late error after a final state is a no-op."""
        return self._fail(job_id, lifecycle.INFERENCE_FAILED, STAGE_INFERENCE, reason, details)

    def time_out(self, job_id: str, reason: str, seen_updated_at: str) -> bool:
        """-> FAILED (stage timeout), if the record is unchanged since the sweeper read it."""
        return self._fail(
            job_id,
            lifecycle.TIMEOUT,
            STAGE_TIMEOUT,
            reason,
            {},
            "updated_at = :seen",
            {":seen": seen_updated_at},
        )

    def _fail(
        self,
        job_id: str,
        event: str,
        stage: str,
        reason: str,
        details: dict[str, Any],
        extra: str | None = None,
        extra_values: dict[str, Any] | None = None,
    ) -> bool:
        names = {f"#d{i}": name for i, name in enumerate(details)}
        sets = "".join(f", #d{i} = :d{i}" for i in range(len(details)))
        values = {f":d{i}": value for i, value in enumerate(details.values())}
        return self._transition(
            job_id,
            event,
            "SET #s = :failed, reason = :reason, failed_stage = :stage,"
            f" completed_at = :now, updated_at = :now{sets} REMOVE invoke_lease, lease_until",
            extra,
            {
                ":failed": FAILED,
                ":stage": stage,
                ":reason": reason,
                **values,
                **(extra_values or {}),
            },
            names,
        )

    def claim_notice(self, job_id: str, phase: str, hold_s: float = NOTICE_HOLD_S) -> bool:
        """Claim the one message for `phase` before publishing it (conditional write).

        Holds while the record is in `phase`, that phase was not announced yet, and no other
        live publisher holds the claim. A claim whose holder died expires after `hold_s`.
        """
        now = time.time()
        return self._update(
            job_id,
            "SET notice_claim = :phase, notice_claimed_until = :until",
            f"{lifecycle.PHASE_CONDITIONS[phase]}"
            " AND (attribute_not_exists(notified_phase) OR notified_phase <> :phase)"
            " AND (attribute_not_exists(notice_claim) OR notice_claim <> :phase"
            " OR notice_claimed_until < :epoch)",
            {
                **lifecycle.PHASE_VALUES,
                ":phase": phase,
                ":until": round(now + hold_s, 3),
                ":epoch": round(now, 3),
            },
        )

    def confirm_notice(self, job_id: str, phase: str, status: str) -> bool:
        """The claimed message for `phase` was published: remember it, drop the claim."""
        return self._update(
            job_id,
            "SET notified_phase = :phase, notified_status = :status, notified_at = :now"
            " REMOVE notice_claim, notice_claimed_until",
            "notice_claim = :phase",
            {":phase": phase, ":status": status},
        )

    def release_notice(self, job_id: str, phase: str) -> bool:
        """Publishing failed: give the claim back so the next delivery can announce `phase`."""
        return self._update(
            job_id,
            "REMOVE notice_claim, notice_claimed_until",
            "notice_claim = :phase",
            {":phase": phase},
        )

    def claim_stitch(self, job_id: str, lease_until: float) -> bool:
        """A long video's parent whose segments all succeeded: take the right to request the
        stitch, exclusively until `lease_until` (a holder that died loses it then)."""
        return self._transition(
            job_id,
            lifecycle.STITCH_LEASE,
            "SET stitch_lease_until = :until, updated_at = :now",
            "attribute_not_exists(stitch_invoked_at) AND (attribute_not_exists(stitch_lease_until)"
            " OR stitch_lease_until < :epoch)",
            {":until": lease_until, ":epoch": time.time()},
        )

    def record_stitch(
        self, job_id: str, output_location: str, failure_location: str | None
    ) -> bool:
        """The stitch request was accepted: the parent now waits on it like on any invocation
        (its deadline and its result objects are the stitch's)."""
        failure = ", inference_failure = :fail" if failure_location else ""
        return self._transition(
            job_id,
            lifecycle.STITCH_OK,
            "SET stitch_invoked_at = :now, invoked_at = :now, updated_at = :now,"
            f" inference_output = :out{failure} REMOVE stitch_lease_until",
            "attribute_not_exists(stitch_invoked_at)",
            {":out": output_location, ":fail": failure_location},
        )

    def release_stitch(self, job_id: str) -> bool:
        """Give the stitch lease back after the request could not be sent."""
        return self._update(
            job_id,
            "REMOVE stitch_lease_until SET updated_at = :now",
            "attribute_exists(stitch_lease_until) AND attribute_not_exists(stitch_invoked_at)",
            {},
        )

    def _transition(
        self,
        job_id: str,
        event: str,
        update: str,
        extra: str | None,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> bool:
        """A write for `event`, conditional on the phases the transition table lets it change."""
        condition = lifecycle.condition_for(event)
        if extra:
            condition = f"{condition} AND " + (f"({extra})" if " OR " in extra else extra)
        return self._update(job_id, update, condition, {**lifecycle.PHASE_VALUES, **values}, names)

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
