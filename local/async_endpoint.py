"""Emulator of a SageMaker asynchronous endpoint in front of the local model server.

It speaks the real `InvokeEndpointAsync` wire format (rest-json, see botocore's sagemaker-runtime
model), queues requests, runs at most `max_concurrent_invocations` at once against the model
server's `/invocations`, writes the response or the error to S3 and publishes SageMaker-shaped
notifications to the success and error topics.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3

from local.ports import LOCALHOST

LOG = logging.getLogger(__name__)

INVOKE_PATH = re.compile(r"^/endpoints/(?P<name>[^/]+)/async-invocations/?$")
HEADER_INPUT_LOCATION = "X-Amzn-SageMaker-InputLocation"
HEADER_CONTENT_TYPE = "X-Amzn-SageMaker-Content-Type"
HEADER_ACCEPT = "X-Amzn-SageMaker-Accept"
HEADER_CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
HEADER_INFERENCE_ID = "X-Amzn-SageMaker-Inference-Id"
HEADER_INVOCATION_TIMEOUT = "X-Amzn-SageMaker-InvocationTimeoutSeconds"
HEADER_REQUEST_TTL = "X-Amzn-SageMaker-RequestTTLSeconds"
HEADER_OUTPUT_LOCATION = "X-Amzn-SageMaker-OutputLocation"
HEADER_FAILURE_LOCATION = "X-Amzn-SageMaker-FailureLocation"

# SageMaker's documented defaults and limits for asynchronous invocations.
DEFAULT_INVOCATION_TIMEOUT_S = 900
MAX_INVOCATION_TIMEOUT_S = 3600
DEFAULT_REQUEST_TTL_S = 6 * 3600
DEFAULT_CONTENT_TYPE = "application/octet-stream"
WORKER_POLL_S = 0.2


@dataclass(frozen=True)
class EndpointConfig:
    endpoint_name: str
    account: str
    region: str
    model_url: str
    output_path: str
    failure_path: str
    success_topic_arn: str
    error_topic_arn: str
    max_concurrent_invocations: int


@dataclass(frozen=True)
class Invocation:
    inference_id: str
    input_location: str
    content_type: str
    accept: str | None
    custom_attributes: str | None
    invocation_timeout_s: int
    request_ttl_s: int
    output_location: str
    failure_location: str
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class InvocationFailed(Exception):
    """The model (or reading the input) failed; `body` goes to the failure location."""

    def __init__(self, reason: str, body: bytes) -> None:
        super().__init__(reason)
        self.reason = reason
        self.body = body


class AsyncEndpointEmulator:
    """HTTP front end plus a bounded pool of invocation workers. Use as a context manager."""

    def __init__(
        self,
        config: EndpointConfig,
        session: boto3.Session,
        *,
        authorize: Callable[[dict[str, str]], str | None] | None = None,
    ) -> None:
        """`session` is the endpoint's execution role: SageMaker reads the input, writes the
        output or failure and publishes the notification with it. `authorize`, given a
        request's lower-case headers, answers why the caller may not invoke (None: it may)."""
        if config.max_concurrent_invocations < 1:
            raise ValueError("max_concurrent_invocations must be at least 1")
        self.config = config
        self.authorize = authorize
        self._s3 = session.client("s3")
        self._sns = session.client("sns")
        self._queue: queue.Queue[Invocation] = queue.Queue()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer((LOCALHOST, 0), _handler_class(self))
        self._server.daemon_threads = True
        self._threads: list[threading.Thread] = []
        self.completed = 0
        self.failed = 0
        self.throttled = 0
        self.running = 0
        self.peak_running = 0  # the most invocations that ran at the same time
        self._count_lock = threading.Lock()
        # Fault injection (bench.burst_faults): when this returns True, a request is refused
        # with 429 ThrottlingException, as SageMaker does over its invocation rate.
        self.throttle: Callable[[], bool] | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> AsyncEndpointEmulator:
        serve = threading.Thread(target=self._server.serve_forever, name="async-endpoint-http")
        self._threads.append(serve)
        for index in range(self.config.max_concurrent_invocations):
            worker = threading.Thread(target=self._work, name=f"async-endpoint-worker-{index}")
            self._threads.append(worker)
        for thread in self._threads:
            thread.daemon = True
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5.0)

    def idle(self) -> bool:
        """True when no invocation is queued or running."""
        return self._queue.unfinished_tasks == 0

    def accept(self, endpoint_name: str, headers: dict[str, str]) -> Invocation:
        """Validate an InvokeEndpointAsync request and queue it; raises ValidationError, or
        Throttled when fault injection refuses it."""
        if self.throttle is not None and self.throttle():
            self.throttled += 1
            raise Throttled("Rate exceeded")
        if endpoint_name != self.config.endpoint_name:
            raise ValidationError(
                f"Endpoint {endpoint_name} of account {self.config.account} not found."
            )
        input_location = headers.get(HEADER_INPUT_LOCATION.lower())
        if not input_location or not input_location.startswith("s3://"):
            raise ValidationError("InputLocation must be an S3 URI (s3://bucket/key).")
        timeout_s = _int_header(headers, HEADER_INVOCATION_TIMEOUT, DEFAULT_INVOCATION_TIMEOUT_S)
        if not 1 <= timeout_s <= MAX_INVOCATION_TIMEOUT_S:
            raise ValidationError(
                f"InvocationTimeoutSeconds must be between 1 and {MAX_INVOCATION_TIMEOUT_S}."
            )
        inference_id = headers.get(HEADER_INFERENCE_ID.lower()) or str(uuid.uuid4())
        invocation = Invocation(
            inference_id=inference_id,
            input_location=input_location,
            content_type=headers.get(HEADER_CONTENT_TYPE.lower()) or DEFAULT_CONTENT_TYPE,
            accept=headers.get(HEADER_ACCEPT.lower()),
            custom_attributes=headers.get(HEADER_CUSTOM_ATTRIBUTES.lower()),
            invocation_timeout_s=timeout_s,
            request_ttl_s=_int_header(headers, HEADER_REQUEST_TTL, DEFAULT_REQUEST_TTL_S),
            output_location=f"{_dir(self.config.output_path)}{inference_id}.out",
            failure_location=f"{_dir(self.config.failure_path)}{inference_id}-error.out",
        )
        self._queue.put(invocation)
        return invocation

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                invocation = self._queue.get(timeout=WORKER_POLL_S)
            except queue.Empty:
                continue
            with self._count_lock:
                self.running += 1
                self.peak_running = max(self.peak_running, self.running)
            try:
                self._run(invocation)
            except Exception:
                LOG.exception("async endpoint: invocation %s crashed", invocation.inference_id)
            finally:
                with self._count_lock:
                    self.running -= 1
                self._queue.task_done()

    def _run(self, invocation: Invocation) -> None:
        waited_s = (datetime.now(UTC) - invocation.received_at).total_seconds()
        try:
            if waited_s > invocation.request_ttl_s:
                raise InvocationFailed(
                    "ClientError: Request expired: it waited longer than RequestTTLSeconds.", b""
                )
            body = self._read_s3(invocation.input_location)
            response, content_type = self._invoke_model(invocation, body)
        except InvocationFailed as failure:
            if self._stop.is_set():
                LOG.info("async endpoint stopped during %s", invocation.inference_id)
                return
            self._write_s3(invocation.failure_location, failure.body, "text/plain; charset=utf-8")
            self._notify(self.config.error_topic_arn, invocation, failure=failure)
            self.failed += 1
            return
        self._write_s3(invocation.output_location, response, content_type)
        self._notify(self.config.success_topic_arn, invocation, content_type=content_type)
        self.completed += 1

    def _read_s3(self, uri: str) -> bytes:
        bucket, key = _split_s3_uri(uri)
        try:
            return self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except self._s3.exceptions.ClientError as error:
            raise InvocationFailed(
                f"ClientError: Failed to download input data from {uri}: {error}",
                str(error).encode(),
            ) from error

    def _invoke_model(self, invocation: Invocation, body: bytes) -> tuple[bytes, str]:
        headers = {"Content-Type": invocation.content_type}
        if invocation.accept:
            headers["Accept"] = invocation.accept
        if invocation.custom_attributes:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = invocation.custom_attributes
        request = urllib.request.Request(
            f"{self.config.model_url}/invocations", data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=invocation.invocation_timeout_s) as reply:
                content_type = reply.headers.get("Content-Type") or DEFAULT_CONTENT_TYPE
                return reply.read(), content_type
        except urllib.error.HTTPError as error:
            message = error.read()
            raise InvocationFailed(
                f"ClientError: Received server error ({error.code}) from model with message "
                f'"{message.decode(errors="replace")[:1000]}". '
                f"See the failure location {invocation.failure_location}.",
                message,
            ) from error
        except TimeoutError as error:
            raise InvocationFailed(
                "ClientError: Inference timed out after "
                f"{invocation.invocation_timeout_s} s (InvocationTimeoutSeconds).",
                b"Inference timed out",
            ) from error
        except OSError as error:
            raise InvocationFailed(
                f"ServerError: The model container did not answer: {error}", str(error).encode()
            ) from error

    def _write_s3(self, uri: str, body: bytes, content_type: str) -> None:
        bucket, key = _split_s3_uri(uri)
        self._s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)

    def _notify(
        self,
        topic_arn: str,
        invocation: Invocation,
        *,
        content_type: str | None = None,
        failure: InvocationFailed | None = None,
    ) -> None:
        message: dict[str, Any] = {
            "awsRegion": self.config.region,
            "eventTime": _timestamp(datetime.now(UTC)),
            "receivedTime": _timestamp(invocation.received_at),
            "invocationStatus": "Completed" if failure is None else "Failed",
            "requestParameters": {
                "contentType": invocation.content_type,
                "endpointName": self.config.endpoint_name,
                "inputLocation": invocation.input_location,
            },
            "inferenceId": invocation.inference_id,
            "eventVersion": "1.0",
            "eventSource": "aws:sagemaker",
            "eventName": "InferenceResult",
        }
        if failure is None:
            message["responseParameters"] = {
                "contentType": content_type,
                "outputLocation": invocation.output_location,
            }
        else:
            message["failureReason"] = failure.reason
            message["responseParameters"] = {
                "contentType": "text/plain; charset=utf-8",
                "failureLocation": invocation.failure_location,
            }
        self._sns.publish(TopicArn=topic_arn, Message=json.dumps(message))


class Throttled(Exception):
    """The request is refused for its rate (HTTP 429); nothing was queued."""


class ValidationError(Exception):
    """Answered as SageMaker's 400 ValidationError."""


def _handler_class(emulator: AsyncEndpointEmulator) -> type[BaseHTTPRequestHandler]:
    class InvokeHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            match = INVOKE_PATH.match(self.path.split("?", 1)[0])
            if match is None:
                self._error(404, "UnknownOperationException", f"Unknown operation {self.path}")
                return
            headers = {name.lower(): value for name, value in self.headers.items()}
            refused = emulator.authorize(headers) if emulator.authorize else None
            if refused:
                self._error(403, "AccessDeniedException", refused)
                return
            try:
                invocation = emulator.accept(urllib.request.unquote(match["name"]), headers)
            except ValidationError as error:
                self._error(400, "ValidationError", str(error))
                return
            except Throttled as error:
                self._error(429, "ThrottlingException", str(error))
                return
            body = json.dumps(
                {
                    "InferenceId": invocation.inference_id,
                    "OutputLocation": invocation.output_location,
                }
            )
            self._send(
                202,
                body,
                {
                    HEADER_OUTPUT_LOCATION: invocation.output_location,
                    HEADER_FAILURE_LOCATION: invocation.failure_location,
                },
            )

        def _error(self, status: int, code: str, message: str) -> None:
            self._send(status, json.dumps({"message": message}), {"x-amzn-ErrorType": code})

        def _send(self, status: int, body: str, headers: dict[str, str]) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            LOG.debug("async endpoint: " + format, *args)

    return InvokeHandler


def _int_header(headers: dict[str, str], name: str, default: int) -> int:
    value = headers.get(name.lower())
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as error:
        raise ValidationError(f"{name} must be an integer, got {value!r}.") from error


def _split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _dir(s3_path: str) -> str:
    return s3_path if s3_path.endswith("/") else f"{s3_path}/"


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
