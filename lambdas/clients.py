"""boto3 clients with bounded standard-mode retries, cached per process and per endpoint.

Deployed, the credentials are the function role's, from the environment. A host that runs
several functions in one process (the local stack) gives each call its function's role with
`credentials_for_context`; clients are cached per credentials too.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
from botocore.config import Config

_lock = threading.Lock()
_cache: dict[tuple[str | None, ...], Any] = {}
_credentials: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "motflow_client_credentials", default=None
)


@contextlib.contextmanager
def credentials_for_context(credentials: Mapping[str, str]) -> Iterator[None]:
    """Clients made in this context sign with `credentials` (boto3 Session keyword names:
    ``aws_access_key_id``, ``aws_secret_access_key``, optional ``aws_session_token``)."""
    token = _credentials.set(dict(credentials))
    try:
        yield
    finally:
        _credentials.reset(token)


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
    credentials = _credentials.get()
    key += tuple(f"{name}={value}" for name, value in sorted((credentials or {}).items()))
    with _lock:
        if key not in _cache:
            config = Config(
                retries={"mode": "standard", "total_max_attempts": max_attempts},
                connect_timeout=5,
                read_timeout=30,
                max_pool_connections=32,
            )
            session = boto3.session.Session(**(credentials or {}))
            _cache[key] = session.client(service, config=config)
        return _cache[key]
