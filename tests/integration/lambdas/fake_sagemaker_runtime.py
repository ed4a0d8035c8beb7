"""Test double for SageMaker runtime's InvokeEndpointAsync, spoken over real HTTP.

moto's invoke_endpoint_async is a stub that records nothing, so the tests point
``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` here instead: it speaks the wire format botocore uses
(POST /endpoints/{name}/async-invocations, 202 with the locations in headers), records every
request, and can answer with scripted throttling or server errors.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

THROTTLED = 429
UNAVAILABLE = 503
INVALID = 400
# Queued like a 202 (the job will run), but the caller is answered 500: SageMaker's ambiguous case.
ACCEPTED_THEN_500 = 1500

_ERROR_BODIES = {
    THROTTLED: {"__type": "ThrottlingException", "message": "Rate exceeded"},
    UNAVAILABLE: {"__type": "ServiceUnavailable", "message": "Service is unavailable"},
    ACCEPTED_THEN_500: {"__type": "InternalFailure", "message": "Internal error"},
    INVALID: {"__type": "ValidationError", "message": "Endpoint is not in service"},
}


@dataclass(frozen=True)
class AsyncRequest:
    endpoint: str
    inference_id: str | None
    input_location: str | None
    content_type: str | None
    invocation_timeout_s: str | None
    request_ttl_s: str | None
    status: int


@dataclass
class FakeAsyncEndpoint:
    work_bucket: str = "motflow-work"
    requests: list[AsyncRequest] = field(default_factory=list)
    _script: list[int] = field(default_factory=list)
    _always: int | None = None
    _reject_ids: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeAsyncEndpoint:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                endpoint._handle(self)

            def log_message(self, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._script.clear()
            self._always = None
            self._reject_ids.clear()

    def answer_next(self, *statuses: int) -> None:
        """The next requests get these error statuses, in order; later ones are accepted."""
        with self._lock:
            self._script.extend(statuses)

    def answer_always(self, status: int | None) -> None:
        """Every request gets `status` (None: accept again)."""
        with self._lock:
            self._always = status

    def reject_inference_id(self, inference_id: str) -> None:
        """Requests for this inference id get a 400 ValidationError (not retried)."""
        with self._lock:
            self._reject_ids.add(inference_id)

    def accepted(self) -> list[AsyncRequest]:
        """Requests the endpoint queued (and so will run), whatever the caller was answered."""
        with self._lock:
            return [r for r in self.requests if r.status in (202, ACCEPTED_THEN_500)]

    def accepted_ids(self) -> list[str | None]:
        return [r.inference_id for r in self.accepted()]

    def _decide(self, inference_id: str | None) -> int:
        with self._lock:
            if inference_id in self._reject_ids:
                return INVALID
            if self._script:
                return self._script.pop(0)
            return self._always or 202

    def _handle(self, http: BaseHTTPRequestHandler) -> None:
        length = int(http.headers.get("Content-Length") or 0)
        http.rfile.read(length)
        parts = http.path.split("/")
        if len(parts) != 4 or parts[1] != "endpoints" or parts[3] != "async-invocations":
            http.send_response(404)
            http.end_headers()
            return
        headers = http.headers
        inference_id = headers.get("X-Amzn-SageMaker-Inference-Id")
        status = self._decide(inference_id)
        request = AsyncRequest(
            endpoint=unquote(parts[2]),
            inference_id=inference_id,
            input_location=headers.get("X-Amzn-SageMaker-InputLocation"),
            content_type=headers.get("X-Amzn-SageMaker-Content-Type"),
            invocation_timeout_s=headers.get("X-Amzn-SageMaker-InvocationTimeoutSeconds"),
            request_ttl_s=headers.get("X-Amzn-SageMaker-RequestTTLSeconds"),
            status=status,
        )
        with self._lock:
            self.requests.append(request)
        if status != 202:
            body = json.dumps(_ERROR_BODIES[status]).encode()
            http.send_response(500 if status == ACCEPTED_THEN_500 else status)
            http.send_header("Content-Type", "application/x-amz-json-1.1")
            http.send_header("Content-Length", str(len(body)))
            http.end_headers()
            http.wfile.write(body)
            return
        name = uuid.uuid4()
        body = json.dumps({"InferenceId": inference_id}).encode()
        http.send_response(202)
        http.send_header("Content-Type", "application/json")
        http.send_header("Content-Length", str(len(body)))
        http.send_header(
            "X-Amzn-SageMaker-OutputLocation", f"s3://{self.work_bucket}/async-output/{name}.out"
        )
        http.send_header(
            "X-Amzn-SageMaker-FailureLocation",
            f"s3://{self.work_bucket}/async-failures/{name}-error.out",
        )
        http.end_headers()
        http.wfile.write(body)
