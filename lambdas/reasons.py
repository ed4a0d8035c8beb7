"""Turn what SageMaker and the container report about a failure into one short reason a user
can act on: what happened, and what to do. Tracebacks, internal paths and request ids stay in
the logs and in the failure object; they never reach the record or the notification.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REASON_MAX = 300
_STATUS = re.compile(r"(?:server|client) error \((\d{3})\)", re.IGNORECASE)
_EXCEPTION = re.compile(r"^\s*(?:[\w.]+\.)?([A-Z]\w*(?:Error|Exception|Exit|Interrupt))\b", re.M)
_PATH = re.compile(r"(?:s3://\S+|(?<![\w.])/(?:tmp|opt|var|home|usr|root|proc)/\S*)")
_WORKER_DIED = "Worker died"
_TRACE_START = ("Traceback", "  File ", "Traceback (most recent call last)")


@dataclass(frozen=True)
class FailureReason:
    text: str  # for the record and the notification
    transient: bool  # the same request may well succeed again (worker died, timeout)


def _first_line(body: str) -> str:
    for line in body.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(_TRACE_START):
            return stripped
    return ""


def _clean(text: str) -> str:
    """Internal paths out, one line, at most REASON_MAX characters cut at a word boundary."""
    text = _PATH.sub("<file>", " ".join(text.split()))
    if len(text) <= REASON_MAX:
        return text
    cut = text[: REASON_MAX - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def _with_action(what: str, action: str) -> str:
    what = _clean(what).rstrip(".")
    return f"{what}. {action}"


def explain(
    failure_reason: str | None, body: str | None, status: str, job_id: str
) -> FailureReason:
    """The user's reason for a failed inference, from SageMaker's notification and error body."""
    sagemaker = failure_reason or ""
    text = body or ""
    found = _STATUS.search(sagemaker)
    code = int(found.group(1)) if found else None
    if status and status not in ("Completed", "Failed"):
        return FailureReason(
            f"The job ended as {status} before it could run (it waited too long in the queue)."
            " Upload the video again.",
            transient=True,
        )
    if "timed out" in sagemaker.lower() or "timeout" in sagemaker.lower():
        return FailureReason(
            "Tracking took longer than the time limit. Split the video into shorter parts or"
            " raise the stride, then upload it again.",
            transient=True,
        )
    if code in (400, 415) and _first_line(text):
        what = re.sub(r"^[A-Z]\w*(?:Error|Exception): ", "", _first_line(text))
        return FailureReason(
            _with_action(what, "Check that the file plays, then upload it again."),
            transient=False,
        )
    # The model server answers 500 "Worker died." (model_code/serving/pool.py) when the worker
    # process ended mid-request (SIGKILL, e.g. for memory): the next attempt gets a fresh worker.
    worker_died = _WORKER_DIED in sagemaker or _WORKER_DIED in text
    if worker_died or (
        code is None and ("did not answer" in sagemaker or "ServerError" in sagemaker)
    ):
        return FailureReason(
            "The tracking worker stopped before it finished. Upload the video again; if this"
            f" persists, report job {job_id}.",
            transient=True,
        )
    exceptions = _EXCEPTION.findall(text)
    kind = exceptions[-1] if exceptions else "an internal error"
    return FailureReason(
        f"The tracking engine failed with {kind}. Upload the video again; if it fails again,"
        f" report job {job_id}.",
        transient=False,
    )
