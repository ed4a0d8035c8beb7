"""500 uploads in one burst through moto S3 -> SQS -> submit.handler: none lost, none doubled."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from lambdas import jobs
from tests.integration.lambdas.lambda_harness import MP4_HEADER, Aws

pytestmark = [pytest.mark.integration, pytest.mark.slow]

UPLOADS = 500  # `python -m bench.burst` measures larger bursts
CAMERAS = 10  # upload prefixes, each with its own event queue
CONCURRENCY = 8  # concurrent handler invocations, as Lambda would run them


def test_a_burst_of_uploads_ends_with_one_job_and_one_invocation_each(aws: Aws) -> None:
    keys = [f"videos/burst/cam-{i % CAMERAS}/clip {i:04d}.mp4" for i in range(UPLOADS)]
    queues = aws.shard_upload_events([f"videos/burst/cam-{c}/" for c in range(CAMERAS)])
    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(lambda k: aws.upload(k, MP4_HEADER + k.encode()), keys))
    uploaded = time.perf_counter()
    events = [event for url in queues for event in aws.s3_events(UPLOADS // CAMERAS, url)]
    received = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        results = list(pool.map(aws.submit, events))
    submitted = time.perf_counter()

    print(
        f"\nburst of {UPLOADS}: upload {uploaded - started:.1f} s, receive"
        f" {received - uploaded:.1f} s, submit {submitted - received:.1f} s,"
        f" total {submitted - started:.1f} s ({CONCURRENCY} concurrent handlers)"
    )
    actions = Counter(outcome["action"] for r in results for outcome in r["jobs"])
    assert actions == {"queued": UPLOADS}
    queued = jobs.list_jobs(jobs.QUEUED)
    assert sorted(job["key"] for job in queued) == sorted(keys)
    assert all("invoked_at" in job for job in queued)
    invocations = Counter(aws.endpoint.accepted_ids())
    assert set(invocations) == {job["job_id"] for job in queued}
    assert set(invocations.values()) == {1}

    # The whole burst delivered again (at-least-once delivery): nothing new happens.
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        again = list(pool.map(aws.submit, events[:100]))
    assert {outcome["action"] for r in again for outcome in r["jobs"]} == {"duplicate"}
    assert len(aws.endpoint.requests) == UPLOADS
