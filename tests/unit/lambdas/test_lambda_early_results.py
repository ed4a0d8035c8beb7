"""A result that comes back before its invocation is recorded (a worker killed milliseconds after
it took the request): held back while the invoke lease's holder lives, applied by the event's
retry once the request is recorded, and retried or applied at once when the holder died. Every
interleaving ends in one terminal state, announced once. In-process moto: no servers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto import mock_aws

from lambdas import clients, complete, config, inference, invocation, jobs, lifecycle
from local.resources import create_jobs_table
from stacks import contract
from stacks.settings import Settings

TABLE, BUCKET, JOB = "jobs", "work", "walk-0123456789abcdef"
WORKER_DIED = "ClientError: Received server error (500) from primary with message Worker died."
ENGINE_ERROR = 'ClientError: Received server error (500) with message "RuntimeError: bad weights"'


class Endpoint:
    """InvokeEndpointAsync as the lease holder sees it; `during` runs between the endpoint's
    acceptance and the holder's ``record_invocation`` (the result's race window)."""

    def __init__(self) -> None:
        self.accepted: list[str] = []
        self.during: Callable[[], None] | None = None

    def __call__(
        self, record: dict[str, Any], settings: Any, lease_until: float
    ) -> tuple[dict[str, Any], int]:
        inference_id = jobs.inference_id(record["job_id"], jobs.attempt_of(record))
        self.accepted.append(inference_id)
        if self.during is not None:
            during, self.during = self.during, None
            during()
        output = f"s3://{BUCKET}/async-output/{inference_id}.out"
        return {"OutputLocation": output, "FailureLocation": output + ".err"}, 1


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[jobs.JobStore]:
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "NOTIFY_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:notify",
        **contract.retry_environment(
            work_bucket=BUCKET, endpoint_name="tracker", defaults=contract.job_defaults(Settings())
        ),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(clients, "_cache", {})
    with mock_aws():
        dynamodb = clients.client("dynamodb")
        create_jobs_table(dynamodb, TABLE)
        s3 = clients.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=f"jobs/{JOB}.json", Body=json.dumps({"job_id": JOB}))
        yield jobs.JobStore(TABLE, dynamodb=dynamodb)


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Endpoint:
    fake = Endpoint()
    monkeypatch.setattr(invocation, "invoke_endpoint", fake)
    return fake


@pytest.fixture
def announced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The phases written with the user's message (each terminal write stores one outbox)."""
    written: list[str] = []
    real = jobs.JobStore._transition

    def spy(self: jobs.JobStore, job_id: str, event: str, *args: Any, **kwargs: Any) -> bool:
        changed = real(self, job_id, event, *args, **kwargs)
        if changed and lifecycle.target(event) in lifecycle.ANNOUNCED:
            written.append(lifecycle.target(event))
        return changed

    monkeypatch.setattr(jobs.JobStore, "_transition", spy)
    return written


def _register(store: jobs.JobStore) -> dict[str, Any]:
    now = jobs.utc_now()
    record = {"job_id": JOB, "status": jobs.QUEUED, "created_at": now, "updated_at": now,
              "manifest": f"s3://{BUCKET}/jobs/{JOB}.json"}  # fmt: skip
    assert store.create(record)
    return record


def _submit(store: jobs.JobStore, lease_s: float = 60.0) -> invocation.Invoked:
    """Submit's part: take the lease, send the request, record it."""
    settings = config.RetrySettings.from_env()
    return invocation.invoke_job(_register(store), settings, store, time.time() + lease_s)


def _result(kind: str, attempt: int = 1) -> inference.InferenceResult:
    inference_id = jobs.inference_id(JOB, attempt)
    if kind == "success":
        output = f"s3://{BUCKET}/async-output/{inference_id}.out"
        summary = {"job_id": JOB, "counts": {"tracks": 3}, "artifacts": {}}
        clients.client("s3").put_object(
            Bucket=BUCKET, Key=output.split("/", 3)[3], Body=json.dumps(summary)
        )
        return inference.InferenceResult(JOB, True, "Completed", output, None, None, attempt)
    reason = WORKER_DIED if kind == "transient" else ENGINE_ERROR
    return inference.InferenceResult(JOB, False, "Failed", None, None, reason, attempt)


def _early(result: inference.InferenceResult, store: jobs.JobStore, seen: list[Any]) -> None:
    """The result's delivery inside the race window: what it raised or returned, and the
    record it left."""
    try:
        seen.append(inference.apply_result(result, store))
    except invocation.JobBusy as error:
        seen.append(error)
    seen.append(store.get(JOB))


# Each kind of result: its terminal state and the requests the endpoint accepts in all.
EACH_KIND_OF_RESULT = pytest.mark.parametrize(
    ("kind", "final", "requests"),
    [
        ("success", lifecycle.DONE, [JOB]),
        ("final", lifecycle.FAILED_INFERENCE, [JOB]),
        ("transient", lifecycle.DONE, [JOB, f"{JOB}.attempt-2"]),
    ],
)


@EACH_KIND_OF_RESULT
def test_a_result_before_its_invocation_is_recorded_waits_for_the_live_lease_holder(
    store: jobs.JobStore,
    endpoint: Endpoint,
    announced: list[str],
    kind: str,
    final: str,
    requests: list[str],
) -> None:
    seen: list[Any] = []
    endpoint.during = lambda: _early(_result(kind), store, seen)

    invoked = _submit(store)

    held, during = seen
    assert lifecycle.phase_of(during) == lifecycle.PENDING and announced == []
    assert isinstance(held, invocation.JobBusy)  # the event is retried
    assert type(held).__name__ == "ResultBeforeInvocation"
    # The holder's write was not pre-empted: the request is recorded, not sent again.
    assert invoked.action == "queued"
    assert lifecycle.phase_of(store.get(JOB)) == lifecycle.INVOKED

    outcome = inference.apply_result(_result(kind), store)  # the retried delivery
    if kind == "transient":
        assert outcome.action == "retried" and store.get(JOB)["attempt"] == 2
        outcome = inference.apply_result(_result("success", attempt=2), store)
    assert lifecycle.phase_of(store.get(JOB)) == final
    assert announced == [final]
    assert endpoint.accepted == requests
    # Later copies of every result change nothing.
    for attempt in range(1, len(requests) + 1):
        late = inference.apply_result(_result(kind, attempt), store)
        assert late.action == "duplicate"
    assert announced == [final] and endpoint.accepted == requests


@EACH_KIND_OF_RESULT
def test_a_result_of_a_holder_that_died_before_recording_is_applied_once(
    store: jobs.JobStore,
    endpoint: Endpoint,
    announced: list[str],
    kind: str,
    final: str,
    requests: list[str],
) -> None:
    """Submit sent the request and died: its lease ran out with the record still PENDING."""
    record = _register(store)
    assert store.acquire_invoke_lease(JOB, "dead", time.time() - 1)
    endpoint(record, None, 0.0)  # its request reached the endpoint
    assert lifecycle.phase_of(store.get(JOB)) == lifecycle.PENDING

    outcome = inference.apply_result(_result(kind), store)

    if kind == "transient":  # a new attempt under a new lease, not a final failure
        assert outcome.action == "retried"
        retried = store.get(JOB)
        assert lifecycle.phase_of(retried) == lifecycle.INVOKED and retried["attempt"] == 2
        assert announced == []
        inference.apply_result(_result("success", attempt=2), store)
    assert lifecycle.phase_of(store.get(JOB)) == final
    assert announced == [final] and endpoint.accepted == requests
    # The retried upload event finds nothing to invoke; late copies change nothing.
    assert not invocation.needs_invocation(store.get(JOB))
    assert inference.apply_result(_result(kind), store).action == "duplicate"
    assert announced == [final] and endpoint.accepted == requests


def test_the_complete_handler_fails_a_held_back_notification_so_it_is_redelivered(
    store: jobs.JobStore,
    endpoint: Endpoint,
    announced: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBS_TABLE", TABLE)
    message = {"inferenceId": JOB, "invocationStatus": "Failed", "failureReason": WORKER_DIED}
    event = {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(message)}}]}
    raised: list[Exception] = []

    def deliver() -> None:
        try:
            complete.handler(event)
        except complete.CompleteError as error:
            raised.append(error)

    endpoint.during = deliver
    _submit(store)
    assert len(raised) == 1 and "ResultBeforeInvocation" in str(raised[0])
    assert announced == []
    (outcome,) = complete.handler(event)["jobs"]  # the redelivery
    assert outcome["action"] == "retried" and endpoint.accepted == [JOB, f"{JOB}.attempt-2"]


def test_a_holder_that_leases_between_the_read_and_the_write_holds_the_result_back(
    store: jobs.JobStore,
    endpoint: Endpoint,
    announced: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The record is read lease-free, then a retried upload event takes a live lease before the
    result's write: the write's condition refuses, and the result is retried, not dropped."""
    _register(store)
    real_succeed = jobs.JobStore.succeed

    def leased_first(self: jobs.JobStore, *args: Any) -> bool:
        assert self.acquire_invoke_lease(JOB, "new-holder", time.time() + 60)
        return real_succeed(self, *args)

    monkeypatch.setattr(jobs.JobStore, "succeed", leased_first)
    with pytest.raises(inference.ResultBeforeInvocation):
        inference.apply_result(_result("success"), store)
    assert lifecycle.phase_of(store.get(JOB)) == lifecycle.PENDING and announced == []
    assert store.record_invocation(JOB, "new-holder", "s3://work/async-output/x.out", None)
    monkeypatch.setattr(jobs.JobStore, "succeed", real_succeed)

    assert inference.apply_result(_result("success"), store).action == "succeeded"
    assert announced == [lifecycle.DONE]


def test_results_are_held_back_only_by_a_live_lease_on_a_pending_record() -> None:
    now = 1000.0
    pending = {"job_id": JOB, "status": jobs.QUEUED, "lease_until": now + 1}
    assert lifecycle.held_back(pending, lifecycle.INFERENCE_FAILED, now)
    assert not lifecycle.held_back({**pending, "lease_until": now - 1}, lifecycle.RETRY, now)
    assert not lifecycle.held_back({**pending, "invoked_at": "t"}, lifecycle.INFERENCE_OK, now)
    assert not lifecycle.held_back(pending, lifecycle.TIMEOUT, now)
    for event in lifecycle.HELD_BY_LEASE:
        assert lifecycle.LEASE_FREE in lifecycle.condition_for(event)
    assert lifecycle.LEASE_FREE not in lifecycle.condition_for(lifecycle.INVOKE_OK)
