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

try:
    from . import config, jobs, notify, submit
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import config
    import jobs
    import notify
    import submit

log = logging.getLogger("motflow.parents")
log.setLevel(logging.INFO)


def segment_failure_reason(segment: dict[str, Any]) -> str:
    plan = segment.get("segment") or {}
    where = f"{float(plan.get('start_s', 0)):.0f}-{float(plan.get('end_s', 0)):.0f} s"
    return (
        f"Segment {plan.get('index')} ({where}, job {segment['job_id']}) failed: "
        f"{segment.get('reason') or 'no reason recorded'}"
    )


def advance(store: jobs.JobStore, parent_id: str, settings: config.InvokeSettings) -> str:
    """Move the parent on from its segments' states; returns what happened."""
    parent = store.get(parent_id)
    if parent is None or parent["status"] != jobs.QUEUED or "stitch_invoked_at" in parent:
        return "parent-moved-on"
    found = store.get_many(parent["segments"])
    segments = [found.get(job_id, {"job_id": job_id}) for job_id in parent["segments"]]
    failed = [s for s in segments if s.get("status") in (jobs.FAILED, jobs.REJECTED)]
    if failed:
        details = {"failed_segment": failed[0]["job_id"]}
        if store.fail_inference(parent_id, segment_failure_reason(failed[0]), details):
            notify.tell_user_once(store, settings.notify_topic_arn, parent_id)
            return "parent-failed"
        return "parent-moved-on"
    if any(s.get("status") != jobs.SUCCEEDED for s in segments):
        return "waiting"
    return _request_stitch(store, parent, settings)


def _request_stitch(
    store: jobs.JobStore, parent: dict[str, Any], settings: config.InvokeSettings
) -> str:
    parent_id = parent["job_id"]
    lease_until = time.time() + settings.invoke_lease_s
    if not store.claim_stitch(parent_id, lease_until):
        return "stitch-claimed-elsewhere"
    try:
        reply, _requests = submit.invoke_endpoint(parent, settings, lease_until)
    except Exception:
        store.release_stitch(parent_id)  # the next delivery or sweep takes it again
        raise
    store.record_stitch(parent_id, reply["OutputLocation"], reply.get("FailureLocation"))
    log.info("job %s: all %d segments done, stitching", parent_id, len(parent["segments"]))
    return "stitching"
