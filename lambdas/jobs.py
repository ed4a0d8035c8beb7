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
    from . import clients, config, dynamo_limits, lifecycle, notify
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import clients
    import config
    import dynamo_limits
    import lifecycle
    import notify

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
STATUS_INDEX_SORT = "created_at"  # the index's sort key (stacks/contract.py STATUS_INDEX_SORT)
TTL_ATTRIBUTE = "expires_at"
# The sparse deadline index: only records with something left to do carry these two
# attributes (every open record, and a terminal one whose message is not sent yet).
DEADLINE_INDEX = "by_deadline"
DEADLINE = "deadline"  # epoch seconds, the index's sort key
DEADLINE_PARTITION = "deadline_pk"  # one constant value: the index is queried as one range
DEADLINE_PARTITION_VALUE = "open"
MAX_ITEM_BYTES = dynamo_limits.MAX_ITEM_BYTES

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
    return timestamp(datetime.now(UTC))


def timestamp(moment: datetime) -> str:
    """`moment` (timezone-aware) as a record writes its times: ``2026-11-21T11:20:00.123Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


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


class ItemTooLarge(ValueError):
    """A record would exceed DynamoDB's item size limit; the message says by how much."""


def item_bytes(item: dict[str, Any]) -> int:
    """An upper bound of a plain record's DynamoDB size: names plus values as UTF-8 JSON text
    (a number takes at most its text's length; DynamoDB stores it in fewer bytes)."""
    return sum(
        len(name.encode("utf-8")) + len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
        for name, value in item.items()
    )


def check_item_size(item: dict[str, Any]) -> None:
    """Raise ItemTooLarge when `item` might not fit DynamoDB's 400 KB item limit."""
    size = item_bytes(item)
    if size > MAX_ITEM_BYTES:
        raise ItemTooLarge(
            f"job record {item.get('job_id')!r} is {size} bytes, over {MAX_ITEM_BYTES}"
        )


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
    """The jobs table. Writes return False when their condition does not hold (a no-op).

    Two rules hold by construction, for every transition (``_transition`` enforces them):

    - a write into an open phase (``lifecycle.OPEN``) sets the record's deadline
      (``DEADLINE``, indexed by ``DEADLINE_INDEX``), so the sweeper finds every waiting job;
    - a write into a terminal phase stores the user's message (``notify.outbox_for``) in the
      same conditional write, with a deadline for sending it; the table's stream hands it to the
      notifier. Records with nothing left to do have no deadline and leave the index.

    Results, failures, retries and timeouts name the attempt they are about; a write for attempt
    n never changes a record that moved on to attempt n+1. Results and retries never change a
    PENDING record under a live invoke lease (``lifecycle.HELD_BY_LEASE``).
    """

    def __init__(
        self,
        table_name: str,
        dynamodb: Any = None,
        deadlines: config.Deadlines | None = None,
    ) -> None:
        self.table_name = table_name
        self._db = dynamodb if dynamodb is not None else clients.client("dynamodb")
        self._deadlines = deadlines

    @property
    def deadlines(self) -> config.Deadlines:
        if self._deadlines is None:
            self._deadlines = config.Deadlines.from_env()
        return self._deadlines

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
        """Put a new record (QUEUED with its deadline, or REJECTED with its message); False if
        a record with its job id already exists (the first writer wins)."""
        item = dict(record)
        if lifecycle.phase_of(item) in lifecycle.OPEN:
            item.update(_deadline_fields(time.time() + self.deadlines.pending_s))
        else:
            item.update(self._outcome_fields(item))
        check_item_size(item)
        return self._write(
            self._db.put_item,
            Item=to_dynamo(item),
            ConditionExpression="attribute_not_exists(job_id)",
        )

    def list_jobs(
        self,
        status: str,
        limit: int | None = None,
        *,
        since: str | None = None,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """Jobs in `status`, oldest first (or `newest_first`), created at `since` (a
        ``created_at`` text) or later, via the ``by_status`` index (eventually consistent). The
        one status query: the Lambdas and `motflow list` both use it."""
        if status not in STATES:
            raise ValueError(f"unknown job status {status!r}; expected one of {', '.join(STATES)}")
        query: dict[str, Any] = {
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": "#s = :s",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": status}},
            "ScanIndexForward": not newest_first,
        }
        if since is not None:
            query["KeyConditionExpression"] += " AND #c >= :c"
            query["ExpressionAttributeNames"]["#c"] = STATUS_INDEX_SORT
            query["ExpressionAttributeValues"][":c"] = {"S": since}
        if limit is not None:
            query["Limit"] = max(1, min(limit, 100))
        return self._query(query, limit)

    def due(self, now: float, limit: int | None = None) -> list[dict[str, Any]]:
        """Records whose deadline has passed, earliest first, via the sparse ``by_deadline``
        index (only records with something left to do are in it; eventually consistent)."""
        return self._query(
            {
                "IndexName": DEADLINE_INDEX,
                "KeyConditionExpression": "#p = :p AND #d <= :now",
                "ExpressionAttributeNames": {"#p": DEADLINE_PARTITION, "#d": DEADLINE},
                "ExpressionAttributeValues": {
                    ":p": {"S": DEADLINE_PARTITION_VALUE},
                    ":now": {"N": _number(now)},
                },
            },
            limit,
        )

    def _query(self, query: dict[str, Any], limit: int | None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        query = {"TableName": self.table_name, **query}
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
            " invoke_attempts = if_not_exists(invoke_attempts, :zero) + :one",
            ["reason", "failed_stage"],
            "attribute_not_exists(lease_until) OR lease_until < :epoch",
            {
                ":queued": QUEUED,
                ":token": token,
                ":until": round(lease_until, 3),
                ":epoch": round(time.time(), 3),
                ":zero": 0,
                ":one": 1,
            },
            deadline=max(lease_until, time.time()) + self.deadlines.pending_s,
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
        The deadline is the first look for a result whose notification was lost.
        """
        failure = ", inference_failure = :fail" if failure_location else ""
        return self._transition(
            job_id,
            lifecycle.INVOKE_OK,
            f"SET invoked_at = :now, updated_at = :now, inference_output = :out{failure},"
            " invoke_requests = if_not_exists(invoke_requests, :zero) + :requests",
            ["invoke_lease", "lease_until"],
            "invoke_lease = :token",
            {
                ":token": token,
                ":out": output_location,
                ":fail": failure_location,
                ":zero": 0,
                ":requests": requests,
            },
            deadline=time.time() + self.deadlines.recheck_s,
        )

    def defer_submission(self, job_id: str, token: str, error: str, maybe_queued: bool) -> bool:
        """The lease holder's requests were refused for now: give the lease back, keep the job
        PENDING, and note the error (the event is retried; the sweeper reads the note).

        `maybe_queued`: one of the requests had an ambiguous answer (a 5xx, a read timeout), so
        the endpoint may run it after all; the deadline then covers its whole possible wait.
        """
        wait = self.deadlines.invoked_s if maybe_queued else self.deadlines.pending_s
        return self._transition(
            job_id,
            lifecycle.INVOKE_DEFERRED,
            "SET last_submit_error = :error, updated_at = :now",
            ["invoke_lease", "lease_until"],
            "invoke_lease = :token",
            {":error": error, ":token": token},
            deadline=time.time() + wait,
        )

    def fail_submission(self, record: dict[str, Any], token: str, reason: str) -> bool:
        """QUEUED -> FAILED (stage submit) by the lease holder whose invocation finally failed."""
        return self._transition(
            record["job_id"],
            lifecycle.INVOKE_FAILED,
            "SET #s = :failed, reason = :reason, failed_stage = :submit, updated_at = :now",
            ["invoke_lease", "lease_until"],
            "invoke_lease = :token",
            {":failed": FAILED, ":submit": STAGE_SUBMIT, ":reason": reason, ":token": token},
            after={
                **record,
                "status": FAILED,
                "failed_stage": STAGE_SUBMIT,
                "reason": reason,
            },
        )

    def retry(self, job_id: str, attempt: int, reason: str, manifest: str | None = None) -> bool:
        """-> QUEUED without ``invoked_at`` for a new attempt after a transient failure of
        attempt `attempt` (INVOKED, or PENDING whose lease ran out: its holder died after
        sending); `manifest` is the new attempt's manifest (the old one names the old attempt)."""
        new_manifest = ", manifest = :manifest" if manifest else ""
        return self._transition(
            job_id,
            lifecycle.RETRY,
            f"SET attempt = :next, last_failure = :reason, updated_at = :now{new_manifest}",
            ["invoked_at", "inference_output", "inference_failure"],
            _attempt_condition(attempt),
            {":next": attempt + 1, ":attempt": attempt, ":reason": reason, ":manifest": manifest},
            deadline=time.time() + self.deadlines.pending_s,
        )

    def succeed(self, record: dict[str, Any], result: dict[str, Any], attempt: int) -> bool:
        """-> SUCCEEDED with the result fields of `attempt`, from every phase the table allows
        (a success after a lost acknowledgement did run). Never over a final state, and never
        for an attempt the record has moved past."""
        names = {f"#r{i}": name for i, name in enumerate(result)}
        sets = ", ".join(f"#r{i} = :r{i}" for i in range(len(result)))
        values = {f":r{i}": value for i, value in enumerate(result.values())}
        return self._transition(
            record["job_id"],
            lifecycle.INFERENCE_OK,
            f"SET #s = :succeeded, completed_at = :now, updated_at = :now, {sets}",
            ["reason", "failed_stage", "invoke_lease", "lease_until"],
            _attempt_condition(attempt),
            {":succeeded": SUCCEEDED, ":attempt": attempt, **values},
            names,
            after={**record, **result, "status": SUCCEEDED, "reason": None, "failed_stage": None},
        )

    def fail_inference(
        self, record: dict[str, Any], reason: str, details: dict[str, Any], attempt: int
    ) -> bool:
        """-> FAILED (stage inference) for `attempt`; a late error after a final state, or for
        an attempt the record has moved past, is a no-op."""
        return self._fail(
            record, lifecycle.INFERENCE_FAILED, STAGE_INFERENCE, reason, details, attempt
        )

    def time_out(self, record: dict[str, Any], reason: str) -> bool:
        """-> FAILED (stage timeout), if the record is unchanged since the sweeper read it."""
        return self._fail(
            record,
            lifecycle.TIMEOUT,
            STAGE_TIMEOUT,
            reason,
            {},
            attempt_of(record),
            "updated_at = :seen",
            {":seen": record["updated_at"]},
        )

    def _fail(
        self,
        record: dict[str, Any],
        event: str,
        stage: str,
        reason: str,
        details: dict[str, Any],
        attempt: int,
        extra: str | None = None,
        extra_values: dict[str, Any] | None = None,
    ) -> bool:
        names = {f"#d{i}": name for i, name in enumerate(details)}
        sets = "".join(f", #d{i} = :d{i}" for i in range(len(details)))
        values = {f":d{i}": value for i, value in enumerate(details.values())}
        condition = _attempt_condition(attempt) + (f" AND {extra}" if extra else "")
        return self._transition(
            record["job_id"],
            event,
            "SET #s = :failed, reason = :reason, failed_stage = :stage,"
            f" completed_at = :now, updated_at = :now{sets}",
            ["invoke_lease", "lease_until"],
            condition,
            {
                ":failed": FAILED,
                ":stage": stage,
                ":reason": reason,
                ":attempt": attempt,
                **values,
                **(extra_values or {}),
            },
            names,
            after={**record, **details, "status": FAILED, "failed_stage": stage, "reason": reason},
        )

    def claim_stitch(self, job_id: str, lease_until: float) -> bool:
        """A long video's parent whose segments all succeeded: take the right to request the
        stitch, exclusively until `lease_until` (a holder that died loses it then). The first
        claim fixes the parent's deadline: the stitch must be accepted within ``pending_s``."""
        due = _number(time.time() + self.deadlines.pending_s)
        return self._transition(
            job_id,
            lifecycle.STITCH_LEASE,
            "SET stitch_lease_until = :until, updated_at = :now,"
            " stitch_due = if_not_exists(stitch_due, :due), #dl = if_not_exists(stitch_due, :due)",
            [],
            "attribute_not_exists(stitch_invoked_at) AND (attribute_not_exists(stitch_lease_until)"
            " OR stitch_lease_until < :epoch)",
            {":until": lease_until, ":epoch": time.time(), ":due": float(due)},
            {"#dl": DEADLINE},
            deadline=KEEP_DEADLINE,
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
            f" inference_output = :out{failure}",
            ["stitch_lease_until"],
            "attribute_not_exists(stitch_invoked_at)",
            {":out": output_location, ":fail": failure_location},
            deadline=time.time() + self.deadlines.recheck_s,
        )

    def release_stitch(self, parent: dict[str, Any]) -> bool:
        """Give the stitch lease back after the request could not be sent. The sweeper tries
        again at the next recheck, and times the parent out at ``stitch_due``."""
        due = float(parent.get("stitch_due") or time.time() + self.deadlines.pending_s)
        retry_at = min(time.time() + self.deadlines.recheck_s, due)
        return self._update(
            parent["job_id"],
            "REMOVE stitch_lease_until SET updated_at = :now, #dl = :deadline",
            "attribute_exists(stitch_lease_until) AND attribute_not_exists(stitch_invoked_at)"
            " AND #s = :ph_queued",
            {**lifecycle.PHASE_VALUES, ":deadline": float(_number(retry_at))},
            {"#dl": DEADLINE},
        )

    def extend_deadline(self, record: dict[str, Any], deadline: float) -> bool:
        """Move an open record's deadline on (a look at its results found nothing yet), if
        nothing changed it since it was read."""
        return self._update(
            record["job_id"],
            "SET #dl = :deadline",
            f"{lifecycle.PHASE_CONDITIONS[lifecycle.phase_of(record)]}"
            " AND #dl = :seen AND updated_at = :updated",
            {
                **lifecycle.PHASE_VALUES,
                ":deadline": float(_number(deadline)),
                ":seen": record[DEADLINE],
                ":updated": record["updated_at"],
            },
            {"#dl": DEADLINE},
        )

    def mark_sent(self, job_id: str, outbox_id: str) -> bool:
        """The outbox `outbox_id` was published: remember it. The record leaves the deadline
        index unless a later transition gave it a new deadline (a replay after a refusal)."""
        names = {
            "#ob": notify.OUTBOX,
            "#oid": "id",
            "#due": "due",
            "#dl": DEADLINE,
            "#dp": DEADLINE_PARTITION,
            "#sent": notify.SENT,
        }
        sent = "SET #sent = :id, notified_phase = #ob.phase, notified_at = :now"
        if self._update(
            job_id,
            f"{sent} REMOVE #dl, #dp",
            "#ob.#oid = :id AND #dl = #ob.#due",
            {":id": outbox_id},
            names,
        ):
            return True
        return self._update(job_id, sent, "#ob.#oid = :id", {":id": outbox_id}, names)

    def settle(self, record: dict[str, Any]) -> bool:
        """A record with nothing left to do (terminal, its message sent or none to send) leaves
        the deadline index."""
        return self._update(
            record["job_id"],
            "REMOVE #dl, #dp",
            f"{lifecycle.PHASE_CONDITIONS[lifecycle.phase_of(record)]} AND #dl = :seen",
            {**lifecycle.PHASE_VALUES, ":seen": record[DEADLINE]},
            {"#dl": DEADLINE, "#dp": DEADLINE_PARTITION},
        )

    def _outcome_fields(self, after: dict[str, Any]) -> dict[str, Any]:
        """What a terminal write stores besides the state: the message and when it is due."""
        outbox = notify.outbox_for(after)
        if outbox is None:
            return {}
        due = float(_number(time.time() + self.deadlines.notify_s))
        return {notify.OUTBOX: {**outbox, "due": due}, **_deadline_fields(due)}

    def _transition(
        self,
        job_id: str,
        event: str,
        sets: str,
        removes: list[str],
        extra: str | None,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
        *,
        deadline: float | None = None,
        after: dict[str, Any] | None = None,
    ) -> bool:
        """A write for `event`, conditional on the phases the transition table lets it change.

        Into an open phase it sets `deadline` (required); into a terminal one it stores the
        outbox built from `after` (required: the record as the write leaves it), or drops the
        deadline when nobody is told.
        """
        condition = lifecycle.condition_for(event)
        if extra:
            condition = f"{condition} AND {_grouped(extra)}"
        names = dict(names or {})
        removes = list(removes)
        if lifecycle.target(event) in lifecycle.OPEN:
            if deadline is None:
                raise TypeError(f"a write for {event!r} must set a deadline")
            if deadline is not KEEP_DEADLINE:
                sets += ", #dl = :deadline, #dp = :dpart"
                values = {**values, ":deadline": float(_number(deadline))}
        else:
            if after is None:
                raise TypeError(f"a write for {event!r} must give the record it leaves")
            outcome = self._outcome_fields(after)
            if outcome:
                sets += ", #ob = :outbox, #dl = :deadline, #dp = :dpart"
                values = {
                    **values,
                    ":outbox": outcome[notify.OUTBOX],
                    ":deadline": outcome[DEADLINE],
                }
                names["#ob"] = notify.OUTBOX
            else:
                removes += ["#dl", "#dp"]
        names.update({"#dl": DEADLINE, "#dp": DEADLINE_PARTITION})
        values[":dpart"] = DEADLINE_PARTITION_VALUE
        values[":lease_now"] = round(time.time(), 3)  # lifecycle.LEASE_FREE
        update = sets + (" REMOVE " + ", ".join(removes) if removes else "")
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


class _Keep(float):
    """A deadline argument meaning "the update expression sets the deadline itself"."""


KEEP_DEADLINE = _Keep(0.0)


def _number(value: float) -> str:
    """A deadline as DynamoDB's number text: epoch seconds to the millisecond."""
    return f"{value:.3f}"


def _deadline_fields(deadline: float) -> dict[str, Any]:
    return {DEADLINE: float(_number(deadline)), DEADLINE_PARTITION: DEADLINE_PARTITION_VALUE}


def _grouped(expression: str) -> str:
    """`expression` safe to join with AND: parenthesised when it has a top-level OR (DynamoDB
    refuses redundant parentheses, so one that is already one group stays as it is)."""
    depth, top_level_or, one_group = 0, False, expression.startswith("(")
    for index, char in enumerate(expression):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and index < len(expression) - 1:
            one_group = one_group and char != ")"
            top_level_or = top_level_or or expression.startswith(" OR ", index)
    return f"({expression})" if top_level_or and not one_group else expression


def _attempt_condition(attempt: int) -> str:
    """The record is on attempt `attempt` (bound as ``:attempt``; a record without ``attempt``
    is on attempt 1)."""
    return (
        "attempt = :attempt"
        if attempt > 1
        else "(attribute_not_exists(attempt) OR attempt = :attempt)"
    )


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
