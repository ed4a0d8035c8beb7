"""Fixtures: a moto server over HTTP, a fake SageMaker runtime endpoint, and fresh resources."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from stacks import contract
from tests.integration.lambdas.fake_sagemaker_runtime import FakeAsyncEndpoint
from tests.integration.lambdas.lambda_harness import (
    ENDPOINT,
    JOB_OPTIONS,
    JOB_RETENTION_DAYS,
    MAX_VIDEO_BYTES,
    REGION,
    TABLE,
    WORK_BUCKET,
    Aws,
    create_resources,
    free_port,
    wait_for,
)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """A moto server in its own process on a free loopback port."""
    port = free_port()
    # moto with DynamoDB conditional writes made atomic, as they are in AWS (local/moto_atomic.py).
    process = subprocess.Popen(
        [sys.executable, "-m", "local.moto_atomic", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/moto-api/data.json", timeout_s=30)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def fake_endpoint() -> Iterator[FakeAsyncEndpoint]:
    endpoint = FakeAsyncEndpoint(work_bucket=WORK_BUCKET).start()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def aws(moto_url: str, fake_endpoint: FakeAsyncEndpoint, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """Fresh moto state, the Lambda environment, and handles to feed and observe the handlers."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"))
    fake_endpoint.reset()
    for name, value in {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": fake_endpoint.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    config = Config(max_pool_connections=32)
    s3, sqs, sns, dynamodb = (
        boto3.client(service, config=config) for service in ("s3", "sqs", "sns", "dynamodb")
    )
    made = create_resources(s3, sqs, sns, dynamodb)
    lambda_env = contract.submit_environment(
        jobs_table=TABLE,
        notify_topic_arn=made["notify_topic"],
        work_bucket=WORK_BUCKET,
        endpoint_name=ENDPOINT,
        defaults=contract.JobDefaults(
            input_prefix="videos/",
            video_suffixes=(".mp4", ".mov", ".avi", ".mkv", ".webm"),
            max_video_bytes=MAX_VIDEO_BYTES,
            invocation_timeout_s=3600,
            request_ttl_s=21600,
            job_options=JOB_OPTIONS,
            job_retention_days=JOB_RETENTION_DAYS,
            invoke_max_attempts=3,
        ),
    )
    retry_env = contract.retry_environment(
        work_bucket=WORK_BUCKET, endpoint_name=ENDPOINT, defaults=contract.JobDefaults(
            input_prefix="videos/", video_suffixes=(".mp4",), max_video_bytes=MAX_VIDEO_BYTES,
            invocation_timeout_s=3600, request_ttl_s=21600, job_options=JOB_OPTIONS,
            job_retention_days=JOB_RETENTION_DAYS, invoke_max_attempts=3,
        ),
    )  # fmt: skip
    for name, value in {**retry_env, **lambda_env}.items():  # complete reads both, as deployed
        monkeypatch.setenv(name, value)
    return Aws(
        endpoint=fake_endpoint,
        s3=s3,
        sqs=sqs,
        sns=sns,
        events_queue=made["up"],
        inbox_queue=made["inbox"],
        inference_queue=made["sm"],
        notify_topic=made["notify_topic"],
        results_topic=made["results_topic"],
    )
