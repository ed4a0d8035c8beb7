"""The server's settings, read once from the container environment.

The stack writes these variables on the SageMaker model (stacks/contract.py, model_environment);
each has a default that matches SageMaker's container contract.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MODEL_DIR_ENV = "MOTFLOW_MODEL_DIR"
WORKERS_ENV = "MOTFLOW_SERVER_WORKERS"
TIMEOUT_ENV = "MOTFLOW_INVOCATION_TIMEOUT_S"
MAX_REQUEST_ENV = "MOTFLOW_MAX_REQUEST_BYTES"
GRACE_ENV = "MOTFLOW_SHUTDOWN_GRACE_S"
HOST_ENV = "MOTFLOW_SERVER_HOST"
# SageMaker sets this when a container must listen elsewhere than 8080 (inference pipelines).
PORT_ENV = "SAGEMAKER_BIND_TO_PORT"

DEFAULT_MODEL_DIR = "/opt/ml/model"
DEFAULT_PORT = 8080
DEFAULT_TIMEOUT_S = 3600
DEFAULT_MAX_REQUEST_BYTES = 1024**3
DEFAULT_GRACE_S = 30.0
# The server's own limit runs past SageMaker's InvocationTimeoutSeconds, so SageMaker's is the
# one a caller sees; ours only frees a worker that SageMaker has already given up on.
TIMEOUT_MARGIN_S = 60


class SettingsError(ValueError):
    """A container variable the server cannot use; the message names it."""


@dataclass(frozen=True)
class ServerSettings:
    model_dir: Path
    host: str
    port: int
    workers: int
    invocation_timeout_s: float
    max_request_bytes: int
    shutdown_grace_s: float

    @property
    def worker_timeout_s(self) -> float:
        return self.invocation_timeout_s + TIMEOUT_MARGIN_S

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        env = os.environ if environ is None else environ
        return cls(
            model_dir=Path(env.get(MODEL_DIR_ENV) or DEFAULT_MODEL_DIR),
            host=env.get(HOST_ENV) or "0.0.0.0",
            port=_number(env, PORT_ENV, DEFAULT_PORT, int, 1, 65535),
            workers=_number(env, WORKERS_ENV, 1, int, 1, 64),
            invocation_timeout_s=_number(env, TIMEOUT_ENV, DEFAULT_TIMEOUT_S, float, 1, 86400),
            max_request_bytes=_number(
                env, MAX_REQUEST_ENV, DEFAULT_MAX_REQUEST_BYTES, int, 1, 16 * 1024**3
            ),
            shutdown_grace_s=_number(env, GRACE_ENV, DEFAULT_GRACE_S, float, 0, 3600),
        )


def _number(env: Mapping[str, str], name: str, default, kind, low, high):
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a {kind.__name__}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={raw!r} must be between {low} and {high}")
    return value
