"""AWS resources in moto wired like the deployment, and handles to drive the Lambdas."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import boto3

from lambdas import complete, jobs, notifier, submit
from local.resources import create_jobs_table
from local.stream_pump import StreamPump
from stacks import contract
from tests.integration.lambdas.fake_sagemaker_runtime import FakeAsyncEndpoint

REGION = "us-east-1"
INPUT_BUCKET = "motflow-input"
WORK_BUCKET = "motflow-work"
TABLE = "motflow-jobs"
ENDPOINT = "motflow-endpoint"
MAX_VIDEO_BYTES = 1_000_000
JOB_OPTIONS = {"stride": 2, "annotate": False}
JOB_RETENTION_DAYS = 90


def _tiny_mp4() -> bytes:
    """A real 3-frame H.264 MP4 with its index first: what submit's header and track checks
    read (the bytes stay small, so the tests never download a real video)."""
    import tempfile

    import av
    import numpy as np

    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/tiny.mp4"
        with av.open(path, "w", options={"movflags": "faststart"}) as container:
            stream = container.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
            for index in range(3):
                image = np.full((16, 16, 3), index * 40, np.uint8)
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        with open(path, "rb") as handle:
            return handle.read()


# The leading bytes of each container kind; only submit's checks read them.
MP4_HEADER = _tiny_mp4()
MKV_HEADER = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01" + b"\x00" * 64
AVI_HEADER = b"RIFF\x24\x00\x00\x00AVI LIST" + b"\x00" * 64


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout_s} s") from None
            time.sleep(0.1)


class LambdaContext:
    """What the submit handler reads from the Lambda context: the time it has left."""

    def __init__(self, remaining_s: float) -> None:
        self._deadline = time.time() + remaining_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


@dataclass
class Aws:
    """Resources in moto wired like the deployment: bucket -> SQS events, topic -> SQS inbox."""

    endpoint: FakeAsyncEndpoint
    s3: Any
    sqs: Any
    sns: Any
    events_queue: str
    inbox_queue: str
    inference_queue: str
    notify_topic: str
    results_topic: str
    test_events: list[dict[str, Any]] = field(default_factory=list)
    stream: StreamPump | None = None

    def pump_stream(self) -> None:
        """Hand the jobs table's new stream records to the notifier, as the deployed event
        source mapping does (local/stream_pump.py)."""
        if self.stream is None:
            self.stream = StreamPump(
                boto3.session.Session(),
                TABLE,
                notifier.handler,
                batch_size=contract.NOTIFIER_BATCH_SIZE,
                retry_attempts=contract.NOTIFIER_RETRY_ATTEMPTS,
            )
        self.stream.pump()

    def upload(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)

    def _drain(self, queue_url: str, wanted: int, timeout_s: float = 20.0) -> list[str]:
        bodies: list[str] = []
        deadline = time.monotonic() + timeout_s
        while len(bodies) < wanted and time.monotonic() < deadline:
            response = self.sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            messages = response.get("Messages", [])
            if not messages:
                time.sleep(0.05)
                continue
            bodies.extend(m["Body"] for m in messages)
            self.sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
        return bodies

    def s3_events(self, count: int, queue_url: str | None = None) -> list[dict[str, Any]]:
        """The next `count` S3 notifications delivered to SQS, unchanged (test events set aside)."""
        events: list[dict[str, Any]] = []
        while len(events) < count:
            bodies = self._drain(queue_url or self.events_queue, count - len(events))
            if not bodies:
                break
            for body in bodies:
                event = json.loads(body)
                (self.test_events if event.get("Event") == "s3:TestEvent" else events).append(event)
        assert len(events) == count, f"expected {count} S3 events, got {len(events)}"
        return events

    def shard_upload_events(self, prefixes: list[str]) -> list[str]:
        """Send ObjectCreated events for each prefix to its own new queue; returns the queue URLs.

        moto's ReceiveMessage scans the whole queue on every call, so a 1,000-message queue is
        read in ~40 s; the same events spread over queues by prefix are read in a few seconds.
        """
        urls, configs = [], []
        for index, prefix in enumerate(prefixes):
            url = self.sqs.create_queue(QueueName=f"up-shard-{index}")["QueueUrl"]
            arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            urls.append(url)
            configs.append(
                {
                    "QueueArn": arn["Attributes"]["QueueArn"],
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
                }
            )
        self.s3.put_bucket_notification_configuration(
            Bucket=INPUT_BUCKET, NotificationConfiguration={"QueueConfigurations": configs}
        )
        return urls

    def upload_and_receive(self, key: str, body: bytes) -> dict[str, Any]:
        self.upload(key, body)
        (event,) = self.s3_events(1)
        return event

    def notifications(self) -> list[dict[str, Any]]:
        """Messages the user got on the notifications topic so far (SNS envelopes), once the
        table's stream reached the notifier."""
        self.pump_stream()
        found: list[dict[str, Any]] = []
        while True:
            bodies = self._drain(self.inbox_queue, 1000, timeout_s=0.3)
            if not bodies:
                return found
            found.extend(json.loads(b) for b in bodies)

    def sns_event(self, message: dict[str, Any] | str) -> dict[str, Any]:
        """Publish `message` as SageMaker would and return the Lambda SNS event moto delivered."""
        text = message if isinstance(message, str) else json.dumps(message)
        self.sns.publish(TopicArn=self.results_topic, Message=text)
        (body,) = self._drain(self.inference_queue, 1)
        envelope = json.loads(body)
        return {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": f"{self.results_topic}:subscription",
                    "Sns": envelope,
                }
            ]
        }

    def submit(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        return submit.handler(event, context)

    def complete(self, event: dict[str, Any]) -> dict[str, Any]:
        return complete.handler(event, None)

    def job(self, job_id: str) -> dict[str, Any]:
        record = jobs.get_job(job_id)
        assert record is not None, f"no job record {job_id}"
        return record

    def put_json(self, bucket: str, key: str, value: Any) -> str:
        self.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(value).encode())
        return f"s3://{bucket}/{key}"


def create_resources(s3: Any, sqs: Any, sns: Any, dynamodb: Any) -> dict[str, str]:
    s3.create_bucket(Bucket=INPUT_BUCKET)
    s3.create_bucket(Bucket=WORK_BUCKET)
    create_jobs_table(dynamodb, TABLE)
    urls = {name: sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("up", "inbox", "sm")}
    arns = {
        name: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        for name, url in urls.items()
    }
    s3.put_bucket_notification_configuration(
        Bucket=INPUT_BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arns["up"],
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "videos/"}]}},
                }
            ]
        },
    )
    notify_topic = sns.create_topic(Name="motflow-notifications")["TopicArn"]
    results_topic = sns.create_topic(Name="motflow-inference-results")["TopicArn"]
    sns.subscribe(TopicArn=notify_topic, Protocol="sqs", Endpoint=arns["inbox"])
    sns.subscribe(TopicArn=results_topic, Protocol="sqs", Endpoint=arns["sm"])
    return {
        "up": urls["up"],
        "inbox": urls["inbox"],
        "sm": urls["sm"],
        "notify_topic": notify_topic,
        "results_topic": results_topic,
    }
