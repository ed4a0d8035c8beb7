"""boto3 clients with bounded standard-mode retries, cached per process and per endpoint."""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

_lock = threading.Lock()
_cache: dict[tuple[str | None, ...], Any] = {}


def client(service: str, *, max_attempts: int = 5) -> Any:
    """A client for `service` retrying throttling and 5xx with backoff, at most `max_attempts`.

    Cached by everything that changes where it talks to, so a changed ``AWS_ENDPOINT_URL*`` or
    region (tests, the local stack) gets a fresh client instead of a stale one.
    """
    service_env = "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_")
    key = (
        service,
        str(max_attempts),
        os.environ.get("AWS_ENDPOINT_URL"),
        os.environ.get(service_env),
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    )
    with _lock:
        if key not in _cache:
            config = Config(
                retries={"mode": "standard", "total_max_attempts": max_attempts},
                connect_timeout=5,
                read_timeout=30,
                max_pool_connections=32,
            )
            _cache[key] = boto3.session.Session().client(service, config=config)
        return _cache[key]
