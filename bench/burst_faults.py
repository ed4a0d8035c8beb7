"""The burst of `bench.burst` with faults injected: `python -m bench.burst_faults [N]`.

Faults, all in the local stack's own process or on its real model server:
- the serving workers are killed (SIGKILL) once a longer clip is being tracked; the server
  answers "Worker died." and restarts them; ``complete`` retries the job as a new attempt;
- storage pauses: a share of the S3 and DynamoDB writes made in this process (the Lambdas, the
  endpoint emulator) stall before or after the write (`PAUSE_S`, scaled down from the 10–40 s of
  issue 11 so a run fits in minutes; `--pause LOW HIGH` sets them);
- throttling: every `THROTTLE_EVERY`-th InvokeEndpointAsync request is refused with 429;
- notifications delivered twice and out of order: each SageMaker notification is handled again
  after a random delay, and half of the originals are held back a little;
- SNS answers lost: a share of the user's messages (`ANSWER_LOST_SHARE`) are published, and then
  the notifier sees an error instead of SNS's answer, so the table stream retries the batch and
  the message goes out again. Such repeats must carry the same dedup id (reported with it).

Prints the `bench.burst` figures; lost and double-processed must be 0 and every job must be
told exactly once (one distinct dedup id per job; the only repeats allowed are lost answers,
with the same id). Double-processed counts jobs with more than one complete (non-duplicate)
run, read from the endpoint's outputs, since a retried attempt is a second request by design.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import random
import signal
import tempfile
import threading
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from bench.burst import CONCURRENCY, BurstReport, run_burst, write_clips
from lambdas import notify
from lambdas.jobs import split_inference_id
from local.event_pump import LambdaContext
from local.stack import LocalStack, local_stack
from model_code.progress import PROGRESS_JSON
from model_code.serving.pool import WORKER_CMDLINE_MARK
from stacks.contract import results_prefix
from stacks.settings import Settings

LOG = logging.getLogger("bench.burst_faults")
DEFAULT_CLIPS = 60
PAUSE_S = (1.0, 4.0)
PAUSE_SHARE = 0.1
THROTTLE_EVERY = 3
ANSWER_LOST_SHARE = 0.2
LONG_CLIP_FRAMES = 600
KILL_WAIT_S = 4 * 3600  # the long clip may wait long behind a paused burst
WRITES = frozenset({"PutObject", "PutItem", "UpdateItem"})
WORKER_MARK = WORKER_CMDLINE_MARK


@dataclass
class FaultLog:
    paused: int = 0
    workers_killed: int = 0
    duplicates_sent: int = 0
    held_back: int = 0
    answers_lost: int = 0
    timers: list[threading.Timer] = field(default_factory=list)


@contextlib.contextmanager
def storage_pauses(
    log: FaultLog, pause_s: tuple[float, float], share: float, seed: int
) -> Iterator[None]:
    """Stall a share of this process's S3/DynamoDB writes before or after the call."""
    original = BaseClient._make_api_call
    chance = random.Random(seed)
    lock = threading.Lock()

    def paused_call(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        with lock:
            pause = chance.random() < share and operation in WRITES
            before = chance.random() < 0.5
            seconds = chance.uniform(*pause_s)
        if pause:
            log.paused += 1
            if before:
                time.sleep(seconds)
        result = original(self, operation, params)
        if pause and not before:
            time.sleep(seconds)
        return result

    BaseClient._make_api_call = paused_call  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


@contextlib.contextmanager
def sns_answers_lost(log: FaultLog, share: float, seed: int) -> Iterator[None]:
    """A `share` of the notifier's publishes succeed, and then the caller gets an error instead
    of SNS's answer (a read timeout after the request was handled): the stream retries."""
    real = notify.publish_outbox
    chance = random.Random(seed + 2)
    lock = threading.Lock()

    def answer_lost(topic_arn: str, outbox: dict[str, Any]) -> str:
        message_id = real(topic_arn, outbox)
        with lock:
            lose = chance.random() < share
            log.answers_lost += lose
        if lose:
            raise ConnectionError(f"SNS's answer to publishing {outbox['id']} was lost")
        return message_id

    notify.publish_outbox = answer_lost  # type: ignore[assignment]
    try:
        yield
    finally:
        notify.publish_outbox = real  # type: ignore[assignment]


def throttle_every(stack: LocalStack, every: int) -> None:
    """Refuse every `every`-th InvokeEndpointAsync request with 429 ThrottlingException."""
    counter = iter(range(1, 1 << 62))
    lock = threading.Lock()

    def throttle() -> bool:
        with lock:
            return next(counter) % every == 0

    stack.emulator.throttle = throttle


def duplicate_and_reorder(stack: LocalStack, log: FaultLog, seed: int) -> None:
    """Deliver every SageMaker notification twice, and hold some back so they arrive late."""
    pump = stack.pump
    original = pump._deliver
    chance = random.Random(seed)
    lock = threading.Lock()

    def again(route: Any, event: dict[str, Any]) -> None:
        try:
            route.handler(event, LambdaContext(function_name=route.name, timeout_s=60))
        except Exception:  # a failed duplicate changes nothing; the original is redelivered
            LOG.info("duplicate delivery to %s failed", route.name, exc_info=True)

    def later(delay: float, call: Any, *args: Any) -> None:
        timer = threading.Timer(delay, call, args)
        timer.daemon = True
        log.timers.append(timer)
        timer.start()

    def deliver(route: Any, message: dict[str, Any]) -> None:
        if not route.name.startswith("complete"):
            original(route, message)
            return
        with lock:
            hold, repeat_after = chance.random() < 0.5, chance.uniform(0.5, 5.0)
        event = route.to_event(message["Body"])
        log.duplicates_sent += 1
        later(repeat_after, again, route, event)
        if hold:
            log.held_back += 1
            later(chance.uniform(0.5, 3.0), original, route, message)
        else:
            original(route, message)

    pump._deliver = types.MethodType(lambda self, r, m: deliver(r, m), pump)  # type: ignore[method-assign]


def kill_workers_during(stack: LocalStack, log: FaultLog, clip_name: str) -> threading.Thread:
    """SIGKILL the model server's workers once the job of `clip_name` is being tracked: its request
    reached the endpoint and the container reported progress (a request still waiting in
    the server's queue would just be served by the replacement workers)."""
    emulator = stack.emulator
    original = emulator._invoke_model
    started: list[str] = []
    running = threading.Event()

    def invoke(invocation: Any, body: bytes) -> tuple[bytes, str]:
        if clip_name.split(".")[0] in invocation.inference_id and not running.is_set():
            started.append(split_inference_id(invocation.inference_id)[0])
            running.set()
        return original(invocation, body)

    emulator._invoke_model = invoke  # type: ignore[method-assign]

    def tracking(job_id: str, timeout_s: float) -> bool:
        s3 = stack.client("s3")
        key = results_prefix(job_id) + PROGRESS_JSON
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(ClientError):
                s3.head_object(Bucket=stack.resources.work_bucket, Key=key)
                return True
            time.sleep(0.05)
        return False

    def killer() -> None:
        if not running.wait(timeout=KILL_WAIT_S) or not tracking(started[0], timeout_s=120):
            return
        root = psutil.Process(stack.model_server.process.popen.pid)
        for proc in root.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if WORKER_MARK in " ".join(proc.cmdline()):
                    proc.send_signal(signal.SIGKILL)
                    log.workers_killed += 1

    thread = threading.Thread(target=killer, name="worker-killer", daemon=True)
    thread.start()
    return thread


def complete_runs(stack: LocalStack, job_ids: set[str]) -> dict[str, int]:
    """How many requests per job ran to a real (non-duplicate) result, from the outputs."""
    s3 = stack.client("s3")
    bucket = stack.resources.work_bucket
    runs = dict.fromkeys(job_ids, 0)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="async-output/")
    for page in pages:
        for item in page.get("Contents", []):
            name = item["Key"].rsplit("/", 1)[-1].removesuffix(".out")
            job_id = name.split(".", 1)[0]
            if job_id not in runs:
                continue
            body = json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            if not body.get("duplicate"):
                runs[job_id] += 1
    return runs


@dataclass(frozen=True)
class FaultReport:
    burst: BurstReport
    faults: FaultLog
    runs_per_job: dict[str, int]
    attempts: dict[str, int]  # jobs per attempt number reached
    throttled: int
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def double_processed(self) -> int:
        return sum(1 for n in self.runs_per_job.values() if n > 1)

    @property
    def not_told_once(self) -> int:
        """Jobs told no message, or two different ones (repeats of one dedup id are one)."""
        ids = self.burst.dedup_ids_per_job
        return sum(
            1 for job_id in self.burst.messages_per_job if len(set(ids.get(job_id, []))) != 1
        )

    @property
    def duplicates(self) -> dict[str, int]:
        """Dedup ids that arrived more than once, with how many copies."""
        copies: dict[str, int] = {}
        for ids in self.burst.dedup_ids_per_job.values():
            for dedup_id in ids:
                copies[dedup_id] = copies.get(dedup_id, 0) + 1
        return {dedup_id: n for dedup_id, n in sorted(copies.items()) if n > 1}


def run_faulty_burst(
    stack: LocalStack,
    folder: Path,
    count: int,
    *,
    pause_s: tuple[float, float] = PAUSE_S,
    pause_share: float = PAUSE_SHARE,
    answer_lost_share: float = ANSWER_LOST_SHARE,
    timeout_s: float = 600.0,
    seed: int = 11,
) -> FaultReport:
    """`count` clips (one of them longer, tracked while its workers are killed) with faults."""
    clips = write_clips(folder, count - 1)
    (folder / "long").mkdir(exist_ok=True)
    (long_clip,) = write_clips(folder / "long", 1, frames=LONG_CLIP_FRAMES)
    long_clip = long_clip.rename(folder / "long-clip.mp4")
    ordered = [*clips[: count // 2], long_clip, *clips[count // 2 :]]
    log = FaultLog()
    throttle_every(stack, THROTTLE_EVERY)
    duplicate_and_reorder(stack, log, seed)
    kill_workers_during(stack, log, long_clip.name)
    with (
        sns_answers_lost(log, answer_lost_share, seed),
        storage_pauses(log, pause_s, pause_share, seed),
    ):
        burst = run_burst(stack, ordered, timeout_s=timeout_s)
        time.sleep(max(pause_s) + 6)  # let held-back and repeated deliveries land
        job_ids = set(burst.messages_per_job)
        dedup_ids = {j: list(ids) for j, ids in burst.dedup_ids_per_job.items()}
        late = run_burst_messages(stack, job_ids, dedup_ids)
    messages = {j: burst.messages_per_job[j] + late.get(j, 0) for j in job_ids}
    burst = dataclasses.replace(burst, messages_per_job=messages, dedup_ids_per_job=dedup_ids)
    attempts: dict[str, int] = {}
    records = {job_id: stack.job(job_id) or {} for job_id in job_ids}
    for record in records.values():
        attempt = str(record.get("attempt", 1))
        attempts[attempt] = attempts.get(attempt, 0) + 1
    for timer in log.timers:
        timer.cancel()
    return FaultReport(
        burst, log, complete_runs(stack, job_ids), attempts, stack.emulator.throttled, records
    )


def run_burst_messages(
    stack: LocalStack, job_ids: set[str], dedup_ids: dict[str, list[str]]
) -> dict[str, int]:
    """Messages that arrived after the burst's own count (a second message would be here)."""
    from bench.burst import _messages

    return _messages(stack, job_ids, dedup_ids)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.burst_faults")
    parser.add_argument("clips", nargs="?", type=int, default=DEFAULT_CLIPS)
    parser.add_argument("--pause", nargs=2, type=float, default=PAUSE_S, metavar=("LOW", "HIGH"))
    parser.add_argument(
        "--pause-share", type=float, default=PAUSE_SHARE,
        help="share of the writes that stall (1 stalls every write; default %(default)s)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    settings = Settings.from_context({"max_concurrent_invocations_per_instance": CONCURRENCY})
    with (
        tempfile.TemporaryDirectory(prefix="motflow-faults-") as folder,
        local_stack(Path(folder) / "run", settings) as stack,
    ):
        report = run_faulty_burst(
            stack, Path(folder), args.clips, pause_s=tuple(args.pause),
            pause_share=args.pause_share,
            timeout_s=max(600.0, args.clips * 15.0 * max(1.0, args.pause_share * 10)
                          * max(1.0, args.pause[1] / PAUSE_S[1])),
        )  # fmt: skip
    burst, faults = report.burst, report.faults
    print(f"clips: {burst.jobs} (3 frames, 96x64 H.264; one of {LONG_CLIP_FRAMES} frames)")
    print(f"faults: workers killed {faults.workers_killed}, writes paused {faults.paused} "
          f"({args.pause[0]:g}-{args.pause[1]:g} s), throttled requests {report.throttled}, "
          f"notifications repeated {faults.duplicates_sent}, "
          f"held back {faults.held_back}, SNS answers lost {faults.answers_lost}")  # fmt: skip
    print(f"succeeded: {burst.succeeded}, lost: {burst.lost}, "
          f"double-processed: {report.double_processed}, "
          f"jobs not told exactly once: {report.not_told_once}")  # fmt: skip
    duplicates = report.duplicates
    print(f"messages: {sum(burst.messages_per_job.values())}, duplicates (same dedup id): "
          f"{sum(duplicates.values()) - len(duplicates)}")  # fmt: skip
    for dedup_id, copies in duplicates.items():
        print(f"  {copies}x dedup_id {dedup_id}")
    print(f"jobs per attempt reached: {dict(sorted(report.attempts.items()))}")
    print(f"throughput: {burst.jobs_per_minute:.1f} jobs/min")
    print(f"upload-to-terminal: p50 {burst.p50_s:.1f} s, p95 {burst.p95_s:.1f} s")
    print(f"peak RSS of the model server and its workers: {burst.peak_rss_mb:.0f} MiB")
    for job_id, record in sorted(report.records.items()):
        told = burst.messages_per_job.get(job_id, 0)
        distinct = len(set(burst.dedup_ids_per_job.get(job_id, [])))
        if distinct != 1 or record.get("status") != "SUCCEEDED":
            fields = ("status", "attempt", "notified_phase", "failed_stage", "reason")
            detail = ", ".join(f"{k}={record.get(k)!r}" for k in fields)
            print(f"  odd job {job_id}: told {told}x, {detail}")


if __name__ == "__main__":
    main()
