"""The job state machine as one total table: every (phase, event) pair has a defined outcome.

A *phase* is what a transition needs to know about a record; it refines the stored ``status``
(``QUEUED`` splits by whether the endpoint accepted the job, ``FAILED`` by the stage that failed).
An *event* is something that happens to a job. ``TRANSITIONS[(phase, event)]`` is the phase the
job moves to, or ``None``: the event is a no-op in that phase (a duplicate, late or stale event).
``JobStore`` builds each write's DynamoDB condition from this table, so the table is the only
place the rules live; docs/RELIABILITY.md prints it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Stored statuses and failure stages (the record's ``status`` and ``failed_stage``).
QUEUED, SUCCEEDED, FAILED, REJECTED = "QUEUED", "SUCCEEDED", "FAILED", "REJECTED"
STAGE_VALIDATION, STAGE_SUBMIT, STAGE_INFERENCE, STAGE_TIMEOUT = (
    "validation",
    "submit",
    "inference",
    "timeout",
)

# Phases.
NEW = "NEW"  # no record yet
PENDING = "PENDING"  # QUEUED, the endpoint has not (knowingly) accepted it
INVOKED = "INVOKED"  # QUEUED, the endpoint accepted it (invoked_at is set)
DONE = "SUCCEEDED"
FAILED_SUBMIT = "FAILED_SUBMIT"  # the endpoint refused it; a replay may resubmit
FAILED_INFERENCE = "FAILED_INFERENCE"
FAILED_TIMEOUT = "FAILED_TIMEOUT"  # the sweeper gave up: past the last moment a result could come
REJECTED_PHASE = "REJECTED"
PHASES = (
    NEW,
    PENDING,
    INVOKED,
    DONE,
    FAILED_SUBMIT,
    FAILED_INFERENCE,
    FAILED_TIMEOUT,
    REJECTED_PHASE,
)

# Events.
ACCEPT = "accept"  # submit: a valid upload is registered
REJECT = "reject"  # submit: an invalid upload is registered
LEASE = "lease"  # submit: take the right to invoke the endpoint
INVOKE_OK = "invoke_ok"  # submit: the endpoint accepted the request
INVOKE_DEFERRED = "invoke_deferred"  # submit: no answer yet (throttled, 5xx, timeout); retried
INVOKE_FAILED = "invoke_failed"  # submit: the endpoint refused it for good (4xx validation)
RETRY = "retry"  # complete: a transient inference failure is retried with a new attempt
INFERENCE_OK = "inference_ok"  # complete: SageMaker reported success
INFERENCE_FAILED = "inference_failed"  # complete: SageMaker reported a failure
TIMEOUT = "timeout"  # sweeper: past the deadline with no result
# A long video's parent waits INVOKED on its segments, then on its stitch request:
STITCH_LEASE = "stitch_lease"  # complete or sweeper: every segment succeeded, take the stitch
STITCH_OK = "stitch_ok"  # the endpoint accepted the stitch request
EVENTS = (
    ACCEPT,
    REJECT,
    LEASE,
    INVOKE_OK,
    INVOKE_DEFERRED,
    INVOKE_FAILED,
    RETRY,
    INFERENCE_OK,
    INFERENCE_FAILED,
    TIMEOUT,
    STITCH_LEASE,
    STITCH_OK,
)

_ALL_NOOP: dict[tuple[str, str], str | None] = {(p, e): None for p in PHASES for e in EVENTS}
TRANSITIONS: Mapping[tuple[str, str], str | None] = {
    **_ALL_NOOP,
    (NEW, ACCEPT): PENDING,
    (NEW, REJECT): REJECTED_PHASE,
    (PENDING, LEASE): PENDING,
    (FAILED_SUBMIT, LEASE): PENDING,  # a replay of the upload event resubmits
    (PENDING, INVOKE_OK): INVOKED,
    # A transient refusal is not an outcome: the job stays PENDING, unannounced, and the event
    # is retried; the sweeper ends it if no retry gets through (docs/RELIABILITY.md).
    (PENDING, INVOKE_DEFERRED): PENDING,
    (PENDING, INVOKE_FAILED): FAILED_SUBMIT,
    (INVOKED, RETRY): PENDING,
    # A transient failure of a request whose holder died before recording it (its lease ran
    # out; a live lease holds the result back, see HELD_BY_LEASE) is retried the same way.
    (PENDING, RETRY): PENDING,
    (INVOKED, STITCH_LEASE): INVOKED,
    (INVOKED, STITCH_OK): INVOKED,
    # A success of the record's attempt may arrive while the job waits (a lost acknowledgement
    # of an ambiguous request) or after a refusal (an earlier request of that attempt was
    # queued after all). A timeout is final: it is written only once no result can come any
    # more (docs/RELIABILITY.md, "Deadlines"), so a user is never told FAILED, then SUCCEEDED.
    (PENDING, INFERENCE_OK): DONE,
    (INVOKED, INFERENCE_OK): DONE,
    (FAILED_SUBMIT, INFERENCE_OK): DONE,
    (PENDING, INFERENCE_FAILED): FAILED_INFERENCE,
    (INVOKED, INFERENCE_FAILED): FAILED_INFERENCE,
    (FAILED_SUBMIT, INFERENCE_FAILED): FAILED_INFERENCE,
    (PENDING, TIMEOUT): FAILED_TIMEOUT,
    (INVOKED, TIMEOUT): FAILED_TIMEOUT,
}

# What a record in each phase stores (status, failed stage) and the DynamoDB condition that
# holds exactly for it. ``#s`` names ``status``; the values are bound by ``PHASE_VALUES``.
STORED: Mapping[str, tuple[str, str | None]] = {
    PENDING: (QUEUED, None),
    INVOKED: (QUEUED, None),
    DONE: (SUCCEEDED, None),
    FAILED_SUBMIT: (FAILED, STAGE_SUBMIT),
    FAILED_INFERENCE: (FAILED, STAGE_INFERENCE),
    FAILED_TIMEOUT: (FAILED, STAGE_TIMEOUT),
    REJECTED_PHASE: (REJECTED, STAGE_VALIDATION),
}
PHASE_CONDITIONS: Mapping[str, str] = {
    NEW: "attribute_not_exists(job_id)",
    PENDING: "(#s = :ph_queued AND attribute_not_exists(invoked_at))",
    INVOKED: "(#s = :ph_queued AND attribute_exists(invoked_at))",
    DONE: "#s = :ph_succeeded",
    FAILED_SUBMIT: "(#s = :ph_failed AND failed_stage = :ph_submit)",
    FAILED_INFERENCE: "(#s = :ph_failed AND failed_stage = :ph_inference)",
    FAILED_TIMEOUT: "(#s = :ph_failed AND failed_stage = :ph_timeout)",
    REJECTED_PHASE: "#s = :ph_rejected",
}
PHASE_VALUES: Mapping[str, str] = {
    ":ph_queued": QUEUED,
    ":ph_succeeded": SUCCEEDED,
    ":ph_failed": FAILED,
    ":ph_rejected": REJECTED,
    ":ph_submit": STAGE_SUBMIT,
    ":ph_inference": STAGE_INFERENCE,
    ":ph_timeout": STAGE_TIMEOUT,
}
# A live invoke lease makes a PENDING record its holder's until the holder records its request
# (``invoke_ok``) or gives the lease back: a result of that request can come back milliseconds
# after it was sent, before that write. Such a result is held back (the write's condition
# fails; the caller raises so its event is retried) and applies once the request is recorded.
# A lease that ran out holds nothing back: its holder is dead, and the table above applies.
HELD_BY_LEASE = frozenset({RETRY, INFERENCE_OK, INFERENCE_FAILED})
LEASE_FREE = "(attribute_not_exists(lease_until) OR lease_until < :lease_now)"
# Phases that end a job as far as the user is concerned: each is announced once, from the
# outbox its transition writes (notify.outbox_for), by the stream-driven notifier.
ANNOUNCED = frozenset({DONE, FAILED_SUBMIT, FAILED_INFERENCE, FAILED_TIMEOUT, REJECTED_PHASE})
# Phases a job waits in: every record in one carries a deadline (jobs.DEADLINE) and the
# sweeper does the phase's way out when it passes. No other phase waits for anything.
OPEN = frozenset({PENDING, INVOKED})


def phase_of(record: Mapping[str, Any] | None) -> str:
    """The phase of a stored record (``NEW`` for None)."""
    if record is None:
        return NEW
    status = record.get("status")
    if status == QUEUED:
        return INVOKED if "invoked_at" in record else PENDING
    for phase, (stored_status, stage) in STORED.items():
        if stored_status == status and stage in (None, record.get("failed_stage")):
            if status == FAILED and stage is None:
                continue
            return phase
    raise ValueError(f"job record {record.get('job_id')!r} has an unknown state {status!r}")


def next_phase(phase: str, event: str) -> str | None:
    """Where `event` takes a job in `phase`; None when it is a no-op there."""
    return TRANSITIONS[(phase, event)]


def lease_live(record: Mapping[str, Any], now: float) -> bool:
    """Whether the record's invoke lease is held at `now` (LEASE_FREE is its negation)."""
    until = record.get("lease_until")
    return until is not None and float(until) >= now


def held_back(record: Mapping[str, Any] | None, event: str, now: float) -> bool:
    """Whether a live invoke lease holds `event` back from the record (HELD_BY_LEASE)."""
    return (
        event in HELD_BY_LEASE
        and record is not None
        and phase_of(record) == PENDING
        and lease_live(record, now)
    )


def target(event: str) -> str:
    """The one phase `event` moves a job to (every event has exactly one)."""
    (found,) = {t for (_p, e), t in TRANSITIONS.items() if e == event and t is not None}
    return found


def sources(event: str) -> tuple[str, ...]:
    """The phases `event` changes (those with a defined next phase)."""
    return tuple(p for p in PHASES if TRANSITIONS[(p, event)] is not None)


def condition_for(event: str) -> str:
    """The DynamoDB condition under which a write for `event` may apply (``:lease_now``, the
    time of the write, is bound by the caller for HELD_BY_LEASE events)."""
    found = sources(event)
    if not found:
        raise ValueError(f"event {event!r} changes no phase")
    if len(found) == 1:
        condition = PHASE_CONDITIONS[found[0]]
    else:
        condition = "(" + " OR ".join(PHASE_CONDITIONS[p] for p in found) + ")"
    return f"{condition} AND {LEASE_FREE}" if event in HELD_BY_LEASE else condition


def markdown_table() -> str:
    """The transition table as docs/RELIABILITY.md prints it (a test keeps the two equal)."""
    header = "| phase \\ event | " + " | ".join(f"`{e}`" for e in EVENTS) + " |"
    rule = "|---|" + "---|" * len(EVENTS)
    rows = [
        f"| `{p}` | " + " | ".join(TRANSITIONS[(p, e)] or "·" for e in EVENTS) + " |"
        for p in PHASES
    ]
    return "\n".join([header, rule, *rows])
