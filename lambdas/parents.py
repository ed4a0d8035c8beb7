"""A long video's parent job follows its segment jobs (lambdas/segments.py plans them).

Segments are ordinary jobs with a ``parent`` field; the user hears only about the parent.
The parent waits ``INVOKED`` while its segments run. When a segment fails, the parent fails
naming it. When every segment has succeeded, one caller takes the stitch lease (a conditional
write), sends the parent's stitch manifest to the endpoint with the single-shot invoke, and
records it; the stitch's result reaches ``complete`` like any job's and ends the parent once.
``complete`` calls this after each segment result and the sweeper for parents it finds, so a
lost notification or a caller that died holding the lease is picked up on the next sweep.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

try:
    from . import config, invocation, jobs, lifecycle
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import config
    import invocation
    import jobs
    import lifecycle

log = logging.getLogger("motflow.parents")
log.setLevel(logging.INFO)


def segment_failure_reason(segment: dict[str, Any]) -> str:
    plan = segment.get("segment") or {}
    where = f"{float(plan.get('start_s', 0)):.0f}-{float(plan.get('end_s', 0)):.0f} s"
    return (
        f"Segment {plan.get('index')} ({where}, job {segment['job_id']}) failed: "
        f"{segment.get('reason') or 'no reason recorded'}"
    )


def advance(
    store: jobs.JobStore,
    parent_id: str,
    settings: config.InvokeSettings,
    now: float | None = None,
) -> str:
    """Move the parent on from its segments' states; returns what happened.

    A segment that failed fails the parent naming it; segments still running leave it waiting
    (each has its own deadline, and the sweeper looks at the parent again at the parent's);
    once all succeeded the stitch is requested, until ``stitch_due`` (fixed by the first claim):
    a request still not accepted then times the parent out, and one the endpoint refuses for
    good (a 4xx) fails it. Every way ends in one terminal write, which carries the message.
    """
    now = time.time() if now is None else now
    parent = store.get(parent_id)
    if parent is None or lifecycle.phase_of(parent) != lifecycle.INVOKED:
        return "parent-moved-on"
    if "stitch_invoked_at" in parent:
        return "stitching"
    found = store.get_many(parent["segments"])
    segments = [found.get(job_id, {"job_id": job_id}) for job_id in parent["segments"]]
    failed = [s for s in segments if s.get("status") in (jobs.FAILED, jobs.REJECTED)]
    attempt = jobs.attempt_of(parent)
    if failed:
        details = {"failed_segment": failed[0]["job_id"]}
        reason = segment_failure_reason(failed[0])
        if store.fail_inference(parent, reason, details, attempt):
            return "parent-failed"
        return "parent-moved-on"
    if any(s.get("status") != jobs.SUCCEEDED for s in segments):
        return "waiting"
    due = parent.get("stitch_due")
    if due is not None and now >= float(due):
        reason = (
            "Every part of the long video was tracked, but joining them could not be handed to"
            " the tracking service in time. Upload the video again."
        )
        return "timed-out" if store.time_out(parent, reason) else "parent-moved-on"
    return _request_stitch(store, parent, settings)


def _request_stitch(
    store: jobs.JobStore, parent: dict[str, Any], settings: config.InvokeSettings
) -> str:
    parent_id = parent["job_id"]
    lease_until = time.time() + settings.invoke_lease_s
    if not store.claim_stitch(parent_id, lease_until):
        return "stitch-claimed-elsewhere"
    try:
        reply, _requests = invocation.invoke_endpoint(parent, settings, lease_until)
    except (ClientError, BotoCoreError) as error:
        if invocation.retry_decision(error) == "final":
            reason = (
                f"The tracking service refused to join the video's parts"
                f" ({invocation.describe_error(error)}). Upload the video again; if it fails"
                f" again, report job {parent_id}."
            )
            store.fail_inference(
                store.get(parent_id) or parent, reason, {}, jobs.attempt_of(parent)
            )
            return "stitch-refused"
        # Not accepted yet (throttled, 5xx): the lease goes back with a deadline at the next
        # recheck, so the sweeper tries again until stitch_due, then times the parent out.
        log.warning("job %s: stitch request not accepted yet: %s", parent_id, error)
        store.release_stitch(store.get(parent_id) or parent)
        return "stitch-deferred"
    except Exception:
        store.release_stitch(store.get(parent_id) or parent)
        raise
    store.record_stitch(parent_id, reply["OutputLocation"], reply.get("FailureLocation"))
    log.info("job %s: all %d segments done, stitching", parent_id, len(parent["segments"]))
    return "stitching"
