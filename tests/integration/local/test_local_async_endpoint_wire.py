"""The async-endpoint emulator speaks InvokeEndpointAsync as botocore does, against real moto."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from local.async_endpoint import AsyncEndpointEmulator, EndpointConfig
from local.environment import patched_environ
from local.event_pump import sns_event_from_sqs
from local.moto_service import ACCOUNT, REGION, fake_aws_environment
from local.ports import free_port
from local.resources import LocalResources, create_resources
from stacks import contract
from stacks.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def moto_resources() -> Iterator[tuple[boto3.Session, LocalResources]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    try:
        with patched_environ(fake_aws_environment(f"http://{host}:{port}", REGION)):
            session = boto3.Session(region_name=REGION)
            settings = Settings()
            names = contract.resource_names(settings.name_prefix, ACCOUNT, REGION)
            yield session, create_resources(session, names, input_prefix=settings.input_prefix)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def emulator(
    moto_resources: tuple[boto3.Session, LocalResources],
) -> Iterator[AsyncEndpointEmulator]:
    session, resources = moto_resources
    config = EndpointConfig(
        endpoint_name=resources.endpoint_name,
        account=ACCOUNT,
        region=REGION,
        model_url=f"http://127.0.0.1:{free_port()}",
        output_path=f"s3://{resources.work_bucket}/async-output/",
        failure_path=f"s3://{resources.work_bucket}/async-failures/",
        success_topic_arn=resources.success_topic_arn,
        error_topic_arn=resources.error_topic_arn,
        max_concurrent_invocations=2,
    )
    with AsyncEndpointEmulator(config, session) as running:
        yield running


def _runtime(emulator: AsyncEndpointEmulator) -> Any:
    return boto3.client("sagemaker-runtime", endpoint_url=emulator.url, region_name=REGION)


def _receive_notification(
    session: boto3.Session, queue_url: str, inference_id: str, timeout_s: float = 20.0
) -> dict[str, Any]:
    """The Lambda SNS event carrying the notification for `inference_id`."""
    sqs = session.client("sqs")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reply = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)
        for message in reply.get("Messages", []):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            event = sns_event_from_sqs(message["Body"])
            if json.loads(event["Records"][0]["Sns"]["Message"])["inferenceId"] == inference_id:
                return event
    raise AssertionError(f"no notification for {inference_id} on {queue_url} in {timeout_s} s")


def test_invoke_returns_output_and_failure_locations(
    emulator: AsyncEndpointEmulator, moto_resources: tuple[boto3.Session, LocalResources]
) -> None:
    _, resources = moto_resources
    reply = _runtime(emulator).invoke_endpoint_async(
        EndpointName=resources.endpoint_name,
        InputLocation=f"s3://{resources.input_bucket}/videos/missing.mp4",
        ContentType="video/mp4",
        InferenceId="job-wire-1",
        InvocationTimeoutSeconds=3600,
        RequestTTLSeconds=600,
    )
    assert reply["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert reply["InferenceId"] == "job-wire-1"
    assert reply["OutputLocation"] == f"s3://{resources.work_bucket}/async-output/job-wire-1.out"
    assert reply["FailureLocation"] == (
        f"s3://{resources.work_bucket}/async-failures/job-wire-1-error.out"
    )


def test_unknown_endpoint_is_a_validation_error(emulator: AsyncEndpointEmulator) -> None:
    with pytest.raises(ClientError) as caught:
        _runtime(emulator).invoke_endpoint_async(
            EndpointName="no-such-endpoint", InputLocation="s3://bucket/key"
        )
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert "no-such-endpoint" in caught.value.response["Error"]["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_out_of_range_timeout_is_rejected(
    emulator: AsyncEndpointEmulator, moto_resources: tuple[boto3.Session, LocalResources]
) -> None:
    _, resources = moto_resources
    with pytest.raises(ClientError) as caught:
        _runtime(emulator).invoke_endpoint_async(
            EndpointName=resources.endpoint_name,
            InputLocation=f"s3://{resources.input_bucket}/videos/a.mp4",
            InvocationTimeoutSeconds=7200,
        )
    assert caught.value.response["Error"]["Code"] == "ValidationError"


def test_unreadable_input_fails_with_an_error_notification(
    emulator: AsyncEndpointEmulator, moto_resources: tuple[boto3.Session, LocalResources]
) -> None:
    session, resources = moto_resources
    input_location = f"s3://{resources.input_bucket}/videos/absent.mp4"
    reply = _runtime(emulator).invoke_endpoint_async(
        EndpointName=resources.endpoint_name,
        InputLocation=input_location,
        ContentType="application/json",
        InferenceId="job-wire-absent",
    )
    event = _receive_notification(session, resources.error_queue_url, "job-wire-absent")
    record = event["Records"][0]
    assert record["EventSource"] == "aws:sns"
    assert record["Sns"]["TopicArn"] == resources.error_topic_arn
    notification = json.loads(record["Sns"]["Message"])
    assert notification["invocationStatus"] == "Failed"
    assert notification["inferenceId"] == "job-wire-absent"
    assert notification["requestParameters"]["inputLocation"] == input_location
    assert notification["requestParameters"]["endpointName"] == resources.endpoint_name
    assert notification["responseParameters"]["failureLocation"] == reply["FailureLocation"]
    assert "absent.mp4" in notification["failureReason"]
    assert notification["awsRegion"] == REGION
    assert notification["eventTime"].endswith("Z")

    s3 = session.client("s3")
    failure_key = reply["FailureLocation"].split("/", 3)[3]
    assert s3.get_object(Bucket=resources.work_bucket, Key=failure_key)["Body"].read()
    output_key = reply["OutputLocation"].split("/", 3)[3]
    listed = s3.list_objects_v2(Bucket=resources.work_bucket, Prefix=output_key)
    assert listed.get("KeyCount", 0) == 0
