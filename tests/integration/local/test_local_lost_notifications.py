"""When SageMaker's notifications are lost, the sweeper finishes the jobs, on the local stack and
under each handler's deployed IAM policy (local/iam_gate.py).

The stack's success and error subscriptions are removed, so nothing reaches ``complete`` by
itself. The sweeper (run as its role, on a schedule event stamped past the grace period) applies
the segments' results, requests the parent's stitch and applies its result; the handlers'
missing-object paths (a deleted upload, a result that is gone) and ``complete``'s retry of a
transient failure run here too. `make iam-mutation` relies on these calls.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local.event_pump import LambdaContext, sns_event_from_sqs
from local.moto_service import ACCOUNT, REGION
from local.schedule import scheduled_event
from local.stack import LocalStack, local_stack
from stacks import contract
from stacks.settings import Settings
from tests.integration.local.test_local_stack_flow import notifications_for, write_short_clip

pytestmark = [pytest.mark.integration, pytest.mark.slow]

THRESHOLD_S, OVERLAP_S = 20, 1  # the 30 s sample becomes a parent with two segments
TIMEOUT_S = 240.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    settings = Settings.from_context(
        {
            "segment_threshold_s": THRESHOLD_S,
            "segment_overlap_s": OVERLAP_S,
            "max_concurrent_invocations_per_instance": 2,
        }
    )
    with local_stack(tmp_path_factory.mktemp("lost-notifications"), settings) as running:
        sns = running.client("sns")
        for topic in (running.resources.success_topic_arn, running.resources.error_topic_arn):
            for subscription in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]:
                sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
        yield running


@pytest.fixture(scope="module")
def clips(sample_video: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    short = tmp_path_factory.mktemp("clips") / "short.mp4"
    write_short_clip(sample_video, short, 1, 20)  # 2 s from the start: one job
    return {"long": sample_video, "short": short}


_LAST_SWEEP: list[datetime] = []


def sweep(stack: LocalStack, after_s: float = contract.SWEEP_GRACE_S + 5) -> dict[str, Any]:
    """One sweeper run as the sweeper role, stamped past every deadline it can have set: a
    grace after now, and after the previous sweep (which moves a record it found unfinished
    on by one recheck, counted from that sweep's own time)."""
    from lambdas import sweeper

    step = timedelta(seconds=after_s)
    at = max([datetime.now(UTC), *_LAST_SWEEP]) + step
    _LAST_SWEEP[:] = [at]
    event = scheduled_event(ACCOUNT, REGION, "sweeper", at)
    context = LambdaContext("sweeper", timeout_s=contract.SWEEPER_TIMEOUT_S)
    return stack.as_role(sweeper.handler, "sweeper")(event, context)


def wait_for(what: str, check: Any, timeout_s: float = TIMEOUT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def exists(stack: LocalStack, uri: str) -> bool:
    bucket, key = uri[len("s3://") :].split("/", 1)
    found = stack.client("s3").list_objects_v2(Bucket=bucket, Prefix=key)
    return any(item["Key"] == key for item in found.get("Contents", []))


def finished(stack: LocalStack, record: dict[str, Any]) -> bool:
    """The endpoint wrote the job's output or failure object."""
    return exists(stack, record["inference_output"]) or exists(
        stack, record.get("inference_failure") or record["inference_output"]
    )


def invoked(stack: LocalStack, job_id: str) -> dict[str, Any] | None:
    record = stack.job(job_id)
    return record if record and record.get("inference_output") else None


def sns_event(message: dict[str, Any], topic_arn: str) -> dict[str, Any]:
    envelope = {"Type": "Notification", "TopicArn": topic_arn, "Message": json.dumps(message)}
    return sns_event_from_sqs(json.dumps(envelope))


def test_the_sweeper_applies_lost_results_and_stitches_the_parent(
    stack: LocalStack, clips: dict[str, Path]
) -> None:
    _key, parent_id = stack.upload(clips["long"], f"{stack.settings.input_prefix}lost/long.mp4")
    segment_ids = list(
        wait_for("the segments", lambda: (stack.job(parent_id) or {}).get("segments"))
    )
    records = [wait_for("an invoked segment", lambda s=s: invoked(stack, s)) for s in segment_ids]
    # Usually still running: the sweeper finds no result object (404, so it may list the
    # prefix). A segment that already finished has its result applied by this sweep.
    first = sweep(stack)
    applied_early = {j["job_id"] for j in first["jobs"] if j["action"] == "result-applied"}
    assert stack.job(parent_id)["status"] == "QUEUED"
    for record in records:
        wait_for("a segment's result", lambda r=record: finished(stack, r))
    # Nothing told complete: only what the sweeper applied has moved on.
    assert all(stack.job(s)["status"] == "QUEUED" for s in segment_ids if s not in applied_early)
    assert all(stack.job(s)["status"] == "SUCCEEDED" for s in applied_early)

    sweep(stack)  # applies every segment's result and requests the stitch
    assert all(stack.job(s)["status"] == "SUCCEEDED" for s in segment_ids)
    stitch = wait_for(
        "the stitch request", lambda: (stack.job(parent_id) or {}).get("stitch_invoked_at")
    )
    assert stitch
    output = stack.job(parent_id)["inference_output"]
    wait_for("the stitch's output", lambda: exists(stack, output))
    sweep(stack)  # applies the stitch's result

    final = stack.job(parent_id)
    assert final["status"] == "SUCCEEDED", final.get("reason")
    (message,) = notifications_for(stack, parent_id)
    assert json.loads(message["Message"])["status"] == "SUCCEEDED"
    stack.check_alive()  # no IAM denial on the way


def test_a_result_that_is_gone_fails_the_job_with_a_reason(
    stack: LocalStack, clips: dict[str, Path]
) -> None:
    _key, job_id = stack.upload(clips["short"], f"{stack.settings.input_prefix}lost/gone.mp4")
    record = wait_for("the invocation", lambda: invoked(stack, job_id))
    missing = f"s3://{stack.resources.work_bucket}/{contract.ASYNC_OUTPUT_PREFIX}gone.out"
    message = {
        "invocationStatus": "Completed",
        "inferenceId": stack.jobs.inference_id(job_id, 1),
        "responseParameters": {"outputLocation": missing},
        "eventName": "InferenceResult",
    }
    complete = stack.as_role(stack.complete.handler, "complete")
    complete(sns_event(message, stack.resources.success_topic_arn), LambdaContext("complete"))
    final = stack.job(job_id)
    assert final["status"] == "FAILED" and "could not be read" in final["reason"], final
    assert record["inference_output"] != missing
    stack.check_alive()


def test_complete_retries_a_transient_failure_as_a_new_attempt(
    stack: LocalStack, clips: dict[str, Path]
) -> None:
    _key, job_id = stack.upload(clips["short"], f"{stack.settings.input_prefix}lost/retry.mp4")
    wait_for("the invocation", lambda: invoked(stack, job_id))
    message = {
        "invocationStatus": "Failed",
        "inferenceId": stack.jobs.inference_id(job_id, 1),
        # the model server's answer when a worker process ended mid-request (transient)
        "failureReason": (
            'ClientError: Received server error (500) from primary with message "Worker died."'
        ),
        "eventName": "InferenceResult",
    }
    complete = stack.as_role(stack.complete.handler, "complete")
    complete(sns_event(message, stack.resources.error_topic_arn), LambdaContext("complete"))
    record = stack.job(job_id)
    assert record["status"] == "QUEUED" and stack.jobs.attempt_of(record) == 2, record
    assert exists(stack, record["manifest"]) and record["manifest"].endswith(".json")
    stack.check_alive()


def test_an_upload_deleted_before_submit_reads_it_is_rejected(stack: LocalStack) -> None:
    key = f"{stack.settings.input_prefix}lost/deleted.mp4"
    event = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": stack.resources.input_bucket},
                    "object": {"key": key, "size": 1024, "eTag": "0123456789abcdef" * 2},
                },
            }
        ]
    }
    submit = stack.as_role(stack.submit.handler, "submit")
    submit(event, LambdaContext("submit", timeout_s=contract.SUBMIT_TIMEOUT_S))
    job_id = stack.jobs.job_id_for(stack.resources.input_bucket, key, "0123456789abcdef" * 2)
    record = stack.job(job_id)
    assert record["status"] == "REJECTED" and "deleted" in record["reason"], record
    stack.check_alive()


def test_a_video_gone_before_its_job_ran_fails_as_missing_not_denied(
    stack: LocalStack, clips: dict[str, Path]
) -> None:
    """The endpoint role may list the upload prefix, so a deleted upload reads as missing."""
    _key, job_id = stack.upload(clips["short"], f"{stack.settings.input_prefix}lost/source.mp4")
    record = wait_for("the invocation", lambda: invoked(stack, job_id))
    s3 = stack.client("s3")
    bucket, key = record["manifest"][len("s3://") :].split("/", 1)
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    manifest["video"] = f"s3://{stack.resources.input_bucket}/{stack.settings.input_prefix}gone.mp4"
    manifest["job_id"] = "gone-video"  # its own job: its own results folder and claim
    manifest["output"] = f"s3://{bucket}/{contract.results_prefix('gone-video')}"
    gone_key = f"{contract.MANIFEST_PREFIX}gone-video.json"
    s3.put_object(Bucket=bucket, Key=gone_key, Body=json.dumps(manifest).encode())
    runtime = stack.session.client("sagemaker-runtime", endpoint_url=stack.emulator.url)
    reply = runtime.invoke_endpoint_async(
        EndpointName=stack.resources.endpoint_name,
        InputLocation=f"s3://{bucket}/{gone_key}",
        ContentType="application/json",
        InferenceId="gone-video",
    )
    failure = reply["FailureLocation"]
    wait_for("the failure object", lambda: exists(stack, failure))
    fbucket, fkey = failure[len("s3://") :].split("/", 1)
    body = s3.get_object(Bucket=fbucket, Key=fkey)["Body"].read().decode()
    assert "no longer exists" in body or "does not exist" in body, body
    assert "denied" not in body, body
    stack.check_alive()


def test_the_sweeper_sends_a_message_the_notifier_could_not(
    stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdas import notify

    empty = tmp_path / "unsendable.mp4"
    empty.write_bytes(b"")
    original, refused = notify.send_outbox, []

    def unreachable(store: Any, topic_arn: str, refused_id: str, outbox: dict) -> None:
        if refused_id.startswith("unsendable-"):  # job ids start with the file's name
            refused.append(refused_id)
            raise ConnectionError("SNS unreachable (test)")
        original(store, topic_arn, refused_id, outbox)

    monkeypatch.setattr(notify, "send_outbox", unreachable)
    _key, job_id = stack.upload(empty, f"{stack.settings.input_prefix}lost/unsendable.mp4")
    # The stream's notifier tries, and Lambda's retries of the batch give up.
    wait_for(
        "the notifier to give up",
        lambda: len(refused) > contract.NOTIFIER_RETRY_ATTEMPTS,
        timeout_s=120,
    )
    monkeypatch.setattr(notify, "send_outbox", original)
    record = stack.job(job_id)
    assert record["status"] == "REJECTED" and notify.unsent(record) is not None
    assert notifications_for(stack, job_id, timeout_s=2) == []

    sweep(stack, after_s=contract.NOTIFY_DEADLINE_S + 5)  # the sweeper sends it, as its role
    (message,) = notifications_for(stack, job_id)
    assert json.loads(message["Message"])["status"] == "REJECTED"
    assert notify.unsent(stack.job(job_id)) is None
    stack.check_alive()
