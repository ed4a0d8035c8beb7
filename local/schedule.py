"""An EventBridge schedule for the local stack: calls a handler every `interval_s` seconds with
the scheduled event EventBridge sends (``source: aws.events``, ``detail-type: Scheduled Event``)."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from local.event_pump import Handler, LambdaContext

LOG = logging.getLogger(__name__)


def scheduled_event(
    account: str, region: str, rule_name: str, at: datetime | None = None
) -> dict[str, Any]:
    """The event EventBridge delivers for a schedule rule, stamped `at` (default: now)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account}:rule/{rule_name}"],
        "detail": {},
    }


class Schedule:
    """Runs `handler` every `interval_s` on its own thread. Use as a context manager."""

    def __init__(
        self,
        name: str,
        handler: Handler,
        interval_s: float,
        *,
        account: str,
        region: str,
        timeout_s: int,
    ) -> None:
        self.name = name
        self._handler = handler
        self._interval_s = interval_s
        self._account, self._region, self._timeout_s = account, region, timeout_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"schedule-{name}", daemon=True)
        self.runs = 0
        self.failures = 0

    def __enter__(self) -> Schedule:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self._timeout_s)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            event = scheduled_event(self._account, self._region, self.name)
            try:
                self._handler(event, LambdaContext(self.name, timeout_s=self._timeout_s))
                self.runs += 1
            except Exception:
                self.failures += 1
                LOG.exception("schedule %s: handler failed", self.name)
