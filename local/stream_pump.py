"""Deliver the jobs table's DynamoDB stream to the notifier handler, as Lambda's event source
mapping would: batches in order, ``ReportBatchItemFailures`` honoured, bounded retries, and an
on-failure record for a batch that never succeeded.

moto 5.2.5 implements DynamoDB Streams' read API (``describe_stream``, ``get_shard_iterator``,
``get_records``) on one shard per table, and records every successful write (failed conditional
writes leave no record, as in DynamoDB). So the pump reads the stream exactly as the Lambda
service does. What differs from AWS: moto keeps stream records forever (no 24-hour trim) and has
one shard, so ordering is per table rather than per key.

The on-failure record follows AWS's documented shape for stream sources (Lambda "Retaining
records of asynchronous invocations" / event source mapping destinations):
``{"requestContext": {"requestId", "functionArn", "condition": "RetryAttemptsExhausted",
"approximateInvokeCount"}, "responseContext": {...}, "version": "1.0", "timestamp",
"DDBStreamBatchInfo": {"shardId", "startSequenceNumber", "endSequenceNumber",
"approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord", "batchSize",
"streamArn"}}``: it names the records, it does not carry them.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

LOG = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]
POLL_S = 0.5


class StreamPump:
    """Read a table's stream and hand batches to `handler`. Call `pump()` to deliver what is
    there now, or use it as a context manager to poll in a thread."""

    def __init__(
        self,
        session: Any,
        table_name: str,
        handler: Handler,
        *,
        batch_size: int,
        retry_attempts: int,
        function_arn: str = "",
        on_failure: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._streams = session.client("dynamodbstreams")
        self._dynamodb = session.client("dynamodb")
        self._table_name = table_name
        self._handler = handler
        self._batch_size = batch_size
        self._retry_attempts = retry_attempts
        self._function_arn = function_arn
        self._on_failure = on_failure
        self._after: str | None = None  # the last sequence number done with
        self._tries = 0  # failed deliveries of the batch at the current position
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.failures = 0
        self.failed_batches: list[dict[str, Any]] = []
        self._stream_arn: str | None = None
        self._shard_id: str | None = None

    def _locate(self) -> None:
        if self._stream_arn is None:
            table = self._dynamodb.describe_table(TableName=self._table_name)["Table"]
            self._stream_arn = table["LatestStreamArn"]
            stream = self._streams.describe_stream(StreamArn=self._stream_arn)
            (shard,) = stream["StreamDescription"]["Shards"]
            self._shard_id = shard["ShardId"]

    def _batch(self) -> list[dict[str, Any]]:
        self._locate()
        position: dict[str, Any] = {"ShardIteratorType": "TRIM_HORIZON"}
        if self._after is not None:
            position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self._after}
        iterator = self._streams.get_shard_iterator(
            StreamArn=self._stream_arn, ShardId=self._shard_id, **position
        )["ShardIterator"]
        reply = self._streams.get_records(ShardIterator=iterator, Limit=self._batch_size)
        return reply.get("Records", [])

    def pump(self, max_batches: int = 1000) -> int:
        """Deliver the records written so far; returns how many batches were handed over."""
        handed = 0
        with self._lock:
            while handed < max_batches:
                records = self._batch()
                if not records:
                    return handed
                handed += 1
                self._deliver(records)
        return handed

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        event = {"Records": [self._lambda_record(r) for r in records]}
        failed_at: str | None = None
        try:
            reply = self._handler(event, None) or {}
            failures = reply.get("batchItemFailures") or []
            if failures:
                failed_at = min((f["itemIdentifier"] for f in failures), key=int)
        except Exception:
            LOG.exception("stream pump: the handler failed on a batch of %d", len(records))
            failed_at = records[0]["dynamodb"]["SequenceNumber"]
        if failed_at is None:
            self._done(records[-1])
            self.delivered += len(records)
            return
        self.failures += 1
        done = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) < int(failed_at)]
        if done:  # Lambda resumes from the first failed record
            self._done(done[-1])
            self.delivered += len(done)
            return
        self._tries += 1
        if self._tries > self._retry_attempts:
            self._give_up(records)

    def _done(self, record: dict[str, Any]) -> None:
        self._after = record["dynamodb"]["SequenceNumber"]
        self._tries = 0

    def _give_up(self, records: list[dict[str, Any]]) -> None:
        info = failure_record(
            records, self._stream_arn or "", self._shard_id or "", self._function_arn, self._tries
        )
        self.failed_batches.append(info)
        if self._on_failure is not None:
            self._on_failure(info)
        self._done(records[-1])

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """A GetRecords record as Lambda delivers it: with ``eventSourceARN`` added."""
        shaped = json.loads(json.dumps(record, default=_json_default))
        shaped["eventSourceARN"] = self._stream_arn
        return shaped

    def __enter__(self) -> StreamPump:
        self._thread = threading.Thread(target=self._poll, name="stream-pump", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                self.pump(max_batches=10)
            except Exception as error:
                LOG.warning("stream pump: read failed: %s", error)
            self._stop.wait(POLL_S)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"cannot encode {type(value).__name__}")


def failure_record(
    records: list[dict[str, Any]], stream_arn: str, shard_id: str, function_arn: str, tries: int
) -> dict[str, Any]:
    """The on-failure destination record for a stream batch whose retries were exhausted."""

    def arrival(record: dict[str, Any]) -> str:
        stamp = record["dynamodb"].get("ApproximateCreationDateTime")
        when = stamp if isinstance(stamp, datetime) else datetime.now(UTC)
        return when.isoformat()

    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": tries,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": arrival(records[0]),
            "approximateArrivalOfLastRecord": arrival(records[-1]),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }
