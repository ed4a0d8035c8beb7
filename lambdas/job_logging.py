"""`job_id` on every log line the handlers write.

Lambda's JSON log format (set on every function by the CDK) turns a log record's extra
attributes into fields; this module gives every record a `job_id` attribute, the job being
worked on (None outside one). A handler opens `job_context()` around each record or job it
handles, and the code that learns the job id calls `bind_job(job_id)` inside it. The name
`job_id` is thereby taken on log records: pass it through these, never as `extra=`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_JOB_ID: ContextVar[str | None] = ContextVar("motflow_job_id", default=None)
_OPEN: ContextVar[bool] = ContextVar("motflow_job_context_open", default=False)
_base_factory = logging.getLogRecordFactory()


def _record_with_job_id(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    record.job_id = _JOB_ID.get()
    return record


def install() -> None:
    """Make every log record carry `job_id` (idempotent)."""
    if getattr(logging.getLogRecordFactory(), "__name__", "") != _record_with_job_id.__name__:
        logging.setLogRecordFactory(_record_with_job_id)


@contextmanager
def job_context(job_id: str | None = None) -> Iterator[None]:
    """Log lines inside carry `job_id` (or the one `bind_job` sets); outside, the previous."""
    token, opened = _JOB_ID.set(job_id), _OPEN.set(True)
    try:
        yield
    finally:
        _OPEN.reset(opened)
        _JOB_ID.reset(token)


def bind_job(job_id: str | None) -> None:
    """The job the current `job_context` is about, once it is known. Outside a context (code
    called directly, not through a handler) it does nothing, so no job id outlives its job."""
    if _OPEN.get():
        _JOB_ID.set(job_id)


install()
