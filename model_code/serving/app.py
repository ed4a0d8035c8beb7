"""The HTTP front: an ASGI app with SageMaker's two routes over the worker pool.

`/ping` is answered on the event loop and never waits for a worker, so it stays responsive
while every worker is busy. `/invocations` spools the body to a file (memory stays flat for
large bodies), hands the file to an idle worker in a thread and relays the reply.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from model_code.serving.pool import STOPPED_MID_REQUEST, Outcome, WorkerPool

LOG = logging.getLogger("motflow.serving")
JSON = "application/json"

Scope = dict[str, Any]


class ServingApp:
    """The ASGI application. `pool` is started on lifespan startup and closed on shutdown."""

    def __init__(self, pool: WorkerPool, *, max_request_bytes: int, spool_dir: Path | None = None):
        self.pool = pool
        self.max_request_bytes = max_request_bytes
        self.spool_dir = spool_dir
        # One thread per worker waits on its reply; a spare one for spooling edge cases.
        self._threads = ThreadPoolExecutor(
            max_workers=pool.size + 2, thread_name_prefix="invocation"
        )

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/ping" and method in ("GET", "HEAD"):
            healthy, why = self.pool.health()
            status = 200 if healthy else 503
            body = {"status": "Healthy" if healthy else "Unhealthy", "detail": why}
            await _respond(send, status, json.dumps(body).encode(), JSON)
            return
        if path == "/invocations" and method == "POST":
            try:
                outcome = await self._invoke(scope, receive)
            except asyncio.CancelledError:
                # uvicorn's shutdown deadline passed first: still a retryable answer, not a 500.
                await _respond(send, 503, STOPPED_MID_REQUEST)
                raise
            await _respond(send, outcome.status, outcome.body, outcome.content_type)
            return
        if path in ("/ping", "/invocations"):
            await _respond(send, 405, b"Method not allowed.", "text/plain")
            return
        await _respond(send, 404, b"Not found: the routes are GET /ping and POST /invocations.")

    async def _invoke(self, scope: Scope, receive: Any) -> Outcome:
        content_type = _header(scope, b"content-type")
        with tempfile.NamedTemporaryFile(
            prefix="motflow-request-", dir=self.spool_dir, delete=True
        ) as spool:
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return Outcome(499, b"The client went away.")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_request_bytes:
                    return Outcome(
                        413,
                        f"The request body is over {self.max_request_bytes} bytes; send a job "
                        "manifest (application/json) that points at the video in S3.".encode(),
                    )
                spool.write(chunk)
                if not message.get("more_body", False):
                    break
            spool.flush()
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._threads, self.pool.invoke, Path(spool.name), content_type
            )

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.pool.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.get_running_loop().run_in_executor(None, self.pool.close)
                self._threads.shutdown(wait=False, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _respond(send: Any, status: int, body: bytes, content_type: str = "text/plain") -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode("latin-1")),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
