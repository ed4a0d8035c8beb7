"""One worker process: load the model once, then answer requests from the front process.

The front sends ``{"body_path", "content_type"}`` over a pipe; the worker answers
``{"status", "content_type", "body"}``. Its first message says whether the model loaded:
``{"ready": True}`` or ``{"ready": False, "error": "<one line>"}``. A worker ignores SIGINT and
SIGTERM: the front decides when it stops (a ``None`` request, or SIGKILL after the grace time).
"""

from __future__ import annotations

import logging
import signal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

LOG = logging.getLogger("motflow.serving.worker")


def run_worker(conn: Connection, model_dir: str) -> None:
    """The worker's main loop (the target of a spawned process)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        from model_code.handler import handle, load_model

        model = load_model(model_dir)
    except Exception as error:  # any failure to load makes the server unhealthy, with its cause
        LOG.exception("the model did not load")
        conn.send({"ready": False, "error": f"{type(error).__name__}: {error}"})
        return
    conn.send({"ready": True})
    while True:
        try:
            request: dict[str, Any] | None = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        body = Path(request["body_path"]).read_bytes()
        reply = handle(model, body, request.get("content_type"))
        conn.send({"status": reply.status, "content_type": reply.content_type, "body": reply.body})
