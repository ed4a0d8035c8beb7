"""moto's server with DynamoDB's write atomicity: `python -m local.moto_atomic [moto_server args]`.

DynamoDB applies a conditional write atomically: two writers racing on one item cannot both
see the condition hold. moto's server answers requests on several threads and checks a
condition and writes without a lock, so two concurrent conditional writes can both succeed,
which AWS never allows. Every DynamoDB write here runs under one lock; nothing else changes.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_LOCK = threading.RLock()


def _atomic(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    return locked


def make_writes_atomic() -> None:
    """Patch moto's DynamoDB backend so each write is checked and applied under one lock."""
    for name in WRITES:
        method = getattr(DynamoDBBackend, name)
        if not getattr(method, "_motflow_atomic", False):
            locked = _atomic(method)
            locked._motflow_atomic = True  # type: ignore[attr-defined]
            setattr(DynamoDBBackend, name, locked)


if __name__ == "__main__":
    make_writes_atomic()
    main()
