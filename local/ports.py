"""Free ports on 127.0.0.1 and bounded waiting for local services."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable

LOCALHOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout_s: float,
    what: str,
    interval_s: float = 0.2,
    abort: Callable[[], str | None] | None = None,
) -> None:
    """Poll `ready()` until it is true; raise TimeoutError naming `what` after `timeout_s`.

    `abort()` may return a message (e.g. "process exited") to stop waiting early with an error.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        if ready():
            return
        if abort is not None:
            reason = abort()
            if reason:
                raise RuntimeError(f"{what} failed to start: {reason}")
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} was not ready after {timeout_s:.0f} s")
        time.sleep(interval_s)


def http_status(url: str, *, timeout_s: float = 2.0) -> int | None:
    """HTTP status of GET `url`, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (OSError, TimeoutError):
        return None
