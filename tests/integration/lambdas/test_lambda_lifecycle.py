"""Issue 11 items 1, 2 and 5 against a moto server: single-shot invokes, the total state machine
applied by real conditional writes, and one message per outcome under concurrent deliveries."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from lambdas import clients, complete, jobs, lifecycle
from tests.integration.lambdas.fake_sagemaker_runtime import ACCEPTED_THEN_500, INVALID, UNAVAILABLE
from tests.integration.lambdas.lambda_harness import MP4_HEADER, TABLE, WORK_BUCKET, Aws
from tests.integration.lambdas.test_lambda_complete_flow import _error, _success

pytestmark = pytest.mark.integration

TOKEN = "holder"
SEEN = "2026-11-21T11:00:00.000Z"
# What each phase's record stores beyond status and failed stage.
_PHASE_EXTRAS: dict[str, dict[str, Any]] = {
    lifecycle.INVOKED: {"invoked_at": SEEN},
}


def _seed(store: jobs.JobStore, job_id: str, phase: str) -> None:
    """A record in `phase`, holding an expired lease with a known token."""
    if phase == lifecycle.NEW:
        return
    status, stage = lifecycle.STORED[phase]
    record = {
        "job_id": job_id,
        "status": status,
        "failed_stage": stage,
        "created_at": SEEN,
        "updated_at": SEEN,
        "invoke_lease": TOKEN,
        "lease_until": 1.0,
        **_PHASE_EXTRAS.get(phase, {}),
    }
    store._db.put_item(TableName=TABLE, Item=jobs.to_dynamo(record))


def _apply(store: jobs.JobStore, job_id: str, event: str) -> bool:
    """The one JobStore write that performs `event`."""
    new = {"job_id": job_id, "created_at": SEEN, "updated_at": SEEN}

    def read() -> dict[str, Any]:
        return store.get(job_id) or new

    writes = {
        lifecycle.ACCEPT: lambda: store.create({**new, "status": jobs.QUEUED}),
        lifecycle.REJECT: lambda: store.create(
            {**new, "status": jobs.REJECTED, "failed_stage": jobs.STAGE_VALIDATION}
        ),
        lifecycle.LEASE: lambda: store.acquire_invoke_lease(job_id, "next", time.time() + 60),
        lifecycle.INVOKE_OK: lambda: store.record_invocation(job_id, TOKEN, "s3://w/o", None),
        lifecycle.INVOKE_DEFERRED: lambda: store.defer_submission(
            job_id, TOKEN, "throttled", False
        ),
        lifecycle.INVOKE_FAILED: lambda: store.fail_submission(read(), TOKEN, "refused"),
        lifecycle.RETRY: lambda: store.retry(job_id, 1, "worker died"),
        lifecycle.INFERENCE_OK: lambda: store.succeed(read(), {"outputs": {}}, 1),
        lifecycle.INFERENCE_FAILED: lambda: store.fail_inference(read(), "bad video", {}, 1),
        lifecycle.TIMEOUT: lambda: store.time_out(read(), "too long"),
        lifecycle.STITCH_LEASE: lambda: store.claim_stitch(job_id, time.time() + 60),
        lifecycle.STITCH_OK: lambda: store.record_stitch(job_id, "s3://w/o", None),
    }
    assert set(writes) == set(lifecycle.EVENTS)
    return writes[event]()


def test_the_transition_table_is_total() -> None:
    assert set(lifecycle.TRANSITIONS) == {
        (phase, event) for phase in lifecycle.PHASES for event in lifecycle.EVENTS
    }
    final = {lifecycle.DONE, lifecycle.FAILED_INFERENCE, lifecycle.REJECTED_PHASE}
    for (phase, _event), target in lifecycle.TRANSITIONS.items():
        assert phase not in final or target is None, "a final phase must never move"
        assert target is None or target in lifecycle.PHASES


@pytest.mark.parametrize("phase", lifecycle.PHASES)
def test_every_event_in_every_phase_does_what_the_table_says(aws: Aws, phase: str) -> None:
    store = jobs.JobStore(TABLE)
    for event in lifecycle.EVENTS:
        job_id = f"{phase.lower()}-{event}".replace("_", "-")
        _seed(store, job_id, phase)
        changed = _apply(store, job_id, event)
        expected = lifecycle.next_phase(phase, event)
        after = lifecycle.phase_of(store.get(job_id))
        assert changed == (expected is not None), (phase, event)
        assert after == (expected or phase), (phase, event, after)
        if changed:  # issue 21, deliverables 1 and 2: by construction, for every transition
            record = store.get(job_id) or {}
            if after in lifecycle.OPEN:
                assert float(record[jobs.DEADLINE]) > time.time(), (phase, event)
            else:
                assert record["outbox"]["id"] == f"{job_id}:{after}", (phase, event)
                assert float(record[jobs.DEADLINE]) == record["outbox"]["due"]


def test_a_submit_failure_then_a_replay_then_an_inference_failure_is_announced(aws: Aws) -> None:
    """Issue 11 item 2: the second failure used to be silenced by notified_status=FAILED."""
    aws.endpoint.answer_always(INVALID)
    event = aws.upload_and_receive("videos/twice.mp4", MP4_HEADER)
    with pytest.raises(Exception, match="ValidationError"):
        aws.submit(event)
    (first,) = aws.notifications()
    assert "kept for a replay" in first["Message"]

    aws.endpoint.answer_always(None)
    (outcome,) = aws.submit(event)["jobs"]
    record = aws.job(outcome["job_id"])
    aws.complete(aws.sns_event(_error(aws, record)))

    record = aws.job(outcome["job_id"])
    assert lifecycle.phase_of(record) == lifecycle.FAILED_INFERENCE
    (second,) = aws.notifications()
    assert second["MessageAttributes"]["status"]["Value"] == jobs.FAILED
    assert "no decodable frames" in second["Message"]


def test_an_error_for_a_job_failed_at_submit_is_applied_and_announced(aws: Aws) -> None:
    """The lost-acknowledgement case for errors: the endpoint ran it although submit failed."""
    aws.endpoint.answer_always(INVALID)
    event = aws.upload_and_receive("videos/lost-ack.mp4", MP4_HEADER)
    with pytest.raises(Exception, match="ValidationError"):
        aws.submit(event)
    (job,) = jobs.list_jobs(jobs.FAILED)
    aws.notifications()
    job["inference_failure"] = f"s3://{WORK_BUCKET}/async-failures/lost-ack-error.out"

    aws.complete(aws.sns_event(_error(aws, job)))

    assert lifecycle.phase_of(aws.job(job["job_id"])) == lifecycle.FAILED_INFERENCE
    assert len(aws.notifications()) == 1


def test_the_invoke_client_never_retries_by_itself(aws: Aws, monkeypatch) -> None:
    """Issue 11 item 1: one request per decision; botocore's own retries are off."""
    monkeypatch.setenv("INVOKE_MAX_ATTEMPTS", "1")
    aws.endpoint.answer_always(UNAVAILABLE)
    event = aws.upload_and_receive("videos/once.mp4", MP4_HEADER)

    with pytest.raises(Exception, match="after 1 attempt"):
        aws.submit(event)

    assert len(aws.endpoint.requests) == 1
    runtime = clients.client("sagemaker-runtime", max_attempts=1)
    assert runtime.meta.config.retries["total_max_attempts"] == 1


def test_an_ambiguous_5xx_is_retried_by_us_and_counted_on_the_record(aws: Aws) -> None:
    """The endpoint queued the first request but answered 500: SageMaker will run it twice,
    the record says so, and the container's claim makes the second run a no-op."""
    aws.endpoint.answer_next(ACCEPTED_THEN_500)
    event = aws.upload_and_receive("videos/ambiguous.mp4", MP4_HEADER)

    (outcome,) = aws.submit(event)["jobs"]

    assert outcome["action"] == "queued"
    assert aws.endpoint.accepted_ids() == [outcome["job_id"]] * 2
    record = aws.job(outcome["job_id"])
    assert record["invoke_requests"] == 2 and record["invoke_attempts"] == 1


def test_concurrent_duplicate_deliveries_send_one_message(aws: Aws) -> None:
    """Issue 11 item 5: the message is claimed with a conditional write before publishing."""
    (outcome,) = aws.submit(aws.upload_and_receive("videos/dup.mp4", MP4_HEADER))["jobs"]
    record = aws.job(outcome["job_id"])
    event = aws.sns_event(_success(aws, record))
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def deliver() -> None:
        barrier.wait()
        try:
            complete.handler(event, None)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert [m["MessageAttributes"]["status"]["Value"] for m in aws.notifications()] == [
        jobs.SUCCEEDED
    ]
    assert aws.job(outcome["job_id"])["notified_phase"] == lifecycle.DONE
