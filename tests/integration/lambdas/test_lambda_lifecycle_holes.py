"""Issue 21's holes 3-8 and 10, each reproduced against a moto server (each failed on the code
before the outbox, deadlines and attempt scoping): messages written with the state change and
delivered from the table's stream, a deadline on every open record, events scoped to their
attempt."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from lambdas import config, jobs, lifecycle, notify, sweeper
from tests.integration.lambdas.fake_sagemaker_runtime import THROTTLED
from tests.integration.lambdas.lambda_harness import MP4_HEADER, TABLE, WORK_BUCKET, Aws
from tests.integration.lambdas.test_lambda_complete_flow import _error, _success
from tests.integration.lambdas.test_lambda_recovery import _schedule, sweep_env  # noqa: F401
from tests.integration.lambdas.test_lambda_segments import parent  # noqa: F401
from tests.integration.lambdas.test_lambda_transient_retry import WORKER_DIED, _transient

pytestmark = pytest.mark.integration

LATER = 8 * 3600  # past every notify deadline


def _invoked(aws: Aws, name: str) -> dict[str, Any]:
    (outcome,) = aws.submit(aws.upload_and_receive(f"videos/{name}", MP4_HEADER))["jobs"]
    return aws.job(outcome["job_id"])


def _dedup_ids(aws: Aws) -> list[str]:
    return [m["MessageAttributes"]["dedup_id"]["Value"] for m in aws.notifications()]


class _SnsDown:
    """notify.publish_outbox failing `times` times (None: always), then working."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, times: int | None = None) -> None:
        self.left = times
        self.real = notify.publish_outbox
        monkeypatch.setattr(notify, "publish_outbox", self)

    def __call__(self, topic_arn: str, outbox: dict[str, Any]) -> str:
        if self.left is None or self.left > 0:
            self.left = None if self.left is None else self.left - 1
            raise ConnectionError("SNS is unreachable")
        return self.real(topic_arn, outbox)


def test_hole_3_a_sweeper_timeout_message_lost_to_sns_is_sent_later(
    sweep_env: Aws,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    aws = sweep_env
    record = _invoked(aws, "silent.mp4")
    final = config.Deadlines.from_env().invoked_s + 60
    down = _SnsDown(monkeypatch)
    assert sweeper.handler(_schedule(final), None)["jobs"][0]["action"] == "timed-out"
    assert aws.notifications() == []  # the stream's retries all failed
    assert len(aws.stream.failed_batches) == 1  # and the batch went to the on-failure record
    assert aws.stream.failed_batches[0]["requestContext"]["condition"] == "RetryAttemptsExhausted"
    monkeypatch.setattr(notify, "publish_outbox", down.real)

    assert sweeper.handler(_schedule(final + LATER), None)["jobs"] == [
        {"job_id": record["job_id"], "action": "sent"}
    ]
    assert _dedup_ids(aws) == [f"{record['job_id']}:FAILED_TIMEOUT"]
    # Nothing left to do: the record leaves the deadline index, later sweeps do nothing.
    assert sweeper.handler(_schedule(final + 2 * LATER), None)["jobs"] == []
    assert jobs.DEADLINE not in aws.job(record["job_id"])


def test_hole_4_a_long_videos_failure_message_lost_once_is_still_sent(
    sweep_env: Aws,  # noqa: F811
    parent: dict[str, Any],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    aws = sweep_env
    broken = aws.job(parent["segments"][1])
    broken["inference_failure"] = f"s3://{WORK_BUCKET}/async-failures/{broken['job_id']}.err"
    event = aws.sns_event(_error(aws, broken))
    _SnsDown(monkeypatch, times=1)

    aws.complete(event)
    aws.complete(event)  # the redelivery finds the parent moved on
    assert aws.job(parent["job_id"])["status"] == jobs.FAILED
    # The stream retried the failed batch: one message, the parent's.
    assert _dedup_ids(aws) == [f"{parent['job_id']}:FAILED_INFERENCE"]


def test_hole_5_and_10_a_publisher_that_dies_before_marking_strands_nothing(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No claim exists to strand a message: a notifier that died after publishing (SNS's
    answer lost, or a crash before marking it sent) is retried, and the repeat carries the same
    dedup id; the record ends marked sent."""
    record = _invoked(aws, "lost-answer.mp4")
    aws.complete(aws.sns_event(_success(aws, record)))
    real_mark = jobs.JobStore.mark_sent
    calls = []

    def dies_once(self: jobs.JobStore, job_id: str, outbox_id: str) -> bool:
        calls.append(outbox_id)
        if len(calls) == 1:
            raise TimeoutError("the answer to Publish was lost")
        return real_mark(self, job_id, outbox_id)

    monkeypatch.setattr(jobs.JobStore, "mark_sent", dies_once)
    ids = _dedup_ids(aws)
    assert ids == [f"{record['job_id']}:SUCCEEDED"] * 2  # at least once, same dedup id
    done = aws.job(record["job_id"])
    assert done["notified_id"] == ids[0] and "notice_claim" not in done
    assert jobs.DEADLINE not in done
    aws.complete(aws.sns_event(_success(aws, record)))  # a duplicate notification
    assert aws.notifications() == []


def test_hole_6_a_refused_stitch_request_fails_the_parent_once(
    aws: Aws,
    parent: dict[str, Any],  # noqa: F811
) -> None:
    aws.endpoint.reject_inference_id(parent["job_id"])
    for job_id in parent["segments"]:
        aws.complete(aws.sns_event(_success(aws, aws.job(job_id))))
    failed = aws.job(parent["job_id"])
    assert lifecycle.phase_of(failed) == lifecycle.FAILED_INFERENCE
    assert "refused to join" in failed["reason"] and "ValidationError" in failed["reason"]
    assert _dedup_ids(aws) == [f"{parent['job_id']}:FAILED_INFERENCE"]


def test_hole_6_a_stitch_throttled_until_its_deadline_times_the_parent_out(
    sweep_env: Aws,  # noqa: F811
    parent: dict[str, Any],  # noqa: F811
) -> None:
    aws = sweep_env
    aws.endpoint.answer_always(THROTTLED)
    for job_id in parent["segments"]:  # the last one's stitch request is throttled
        aws.complete(aws.sns_event(_success(aws, aws.job(job_id))))
    waiting = aws.job(parent["job_id"])
    assert waiting["status"] == jobs.QUEUED and "stitch_due" in waiting
    due = float(waiting["stitch_due"]) - time.time()
    # Sweeps before the stitch's deadline try again; after it, one way out: FAILED (timeout).
    (early,) = sweeper.handler(_schedule(config.Deadlines.from_env().recheck_s + 5), None)["jobs"]
    assert early == {"job_id": parent["job_id"], "action": "stitch-deferred"}
    actions = [a["action"] for a in sweeper.handler(_schedule(due + 5), None)["jobs"]]
    assert actions == ["timed-out"]
    assert lifecycle.phase_of(aws.job(parent["job_id"])) == lifecycle.FAILED_TIMEOUT
    assert _dedup_ids(aws) == [f"{parent['job_id']}:FAILED_TIMEOUT"]
    later = [a["action"] for a in sweeper.handler(_schedule(due + 30 * 86400), None)["jobs"]]
    assert later == []


def test_hole_7_a_duplicate_reply_recorded_as_output_does_not_hold_the_job_forever(
    sweep_env: Aws,  # noqa: F811
) -> None:
    aws = sweep_env
    record = _invoked(aws, "double.mp4")
    key = record["inference_output"].split("/", 3)[3]
    aws.put_json(WORK_BUCKET, key, {"job_id": record["job_id"], "attempt": 1, "duplicate": True})
    deadlines = config.Deadlines.from_env()

    (first,) = sweeper.handler(_schedule(deadlines.recheck_s + 5), None)["jobs"]
    assert first["action"] == "rechecking"
    (last,) = sweeper.handler(_schedule(deadlines.invoked_s + 5), None)["jobs"]
    assert last["action"] == "timed-out"
    assert _dedup_ids(aws) == [f"{record['job_id']}:FAILED_TIMEOUT"]


def test_hole_8_a_stale_sweep_cannot_fail_a_retried_attempt(
    sweep_env: Aws,  # noqa: F811
) -> None:
    aws = sweep_env
    record = _invoked(aws, "retried.mp4")
    failure = f"s3://{WORK_BUCKET}/{record['inference_failure'].split('/', 3)[3]}"
    aws.put_json(WORK_BUCKET, failure.split("/", 3)[3], {"message": "Worker died."})
    stale = aws.job(record["job_id"])  # what a sweep read while attempt 1 was current
    aws.complete(aws.sns_event(_transient(aws, record, WORKER_DIED)))  # -> attempt 2
    retried = aws.job(record["job_id"])
    assert retried["attempt"] == 2

    store = jobs.JobStore(TABLE)
    settings = config.SweeperSettings.from_env()
    swept = sweeper.sweep_job(stale, time.time() + 3600, settings, store)

    assert swept.action == "changed"
    assert lifecycle.phase_of(aws.job(record["job_id"])) == lifecycle.INVOKED
    aws.complete(aws.sns_event(_success(aws, aws.job(record["job_id"]))))
    assert aws.job(record["job_id"])["status"] == jobs.SUCCEEDED
    messages = aws.notifications()
    assert [json.loads(m["Message"])["status"] for m in messages] == [jobs.SUCCEEDED]
