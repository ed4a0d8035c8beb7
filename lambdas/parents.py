"""A long video's parent job follows its segment jobs (lambdas/segments.py plans them).

Segments are ordinary jobs with a ``parent`` field; the user hears only about the parent.
When a segment fails, the parent fails naming it; when the last one succeeds, one caller wins a
conditional write (``stitch_requested_at``) and invokes the endpoint with the parent's stitch
manifest, whose result arrives at ``complete`` like any job's and ends the parent once.
"""

from __future__ import annotations

import logging
from typing import Any

try:
    from . import clients, jobs, notify
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import clients
    import jobs
    import notify

log = logging.getLogger("motflow.parents")
log.setLevel(logging.INFO)


def segment_failure_reason(segment: dict[str, Any]) -> str:
    plan = segment.get("segment") or {}
    where = f"{float(plan.get('start_s', 0)):.0f}-{float(plan.get('end_s', 0)):.0f} s"
    return (
        f"Segment {plan.get('index')} ({where}, job {segment['job_id']}) failed: "
        f"{segment.get('reason') or 'no reason recorded'}"
    )


def after_segment(store: jobs.JobStore, topic_arn: str, segment: dict[str, Any]) -> str:
    """Move the parent on after a segment's result was applied; returns what happened."""
    parent_id = segment["parent"]
    parent = store.get(parent_id)
    if parent is None or parent["status"] != jobs.QUEUED:
        return "parent-final"
    if segment["status"] in (jobs.FAILED, jobs.REJECTED):
        details = {"failed_segment": segment["job_id"]}
        if store.fail_inference(parent_id, segment_failure_reason(segment), details):
            notify.tell_user_once(store, topic_arn, parent_id)
            return "parent-failed"
        return "parent-final"
    states = [(store.get(job_id) or {}).get("status") for job_id in parent["segments"]]
    if any(status != jobs.SUCCEEDED for status in states):
        return "waiting"
    if not store.claim_stitch(parent_id):
        return "stitch-claimed-elsewhere"
    request = parent["stitch_request"]
    try:
        clients.client("sagemaker-runtime").invoke_endpoint_async(
            EndpointName=request["endpoint_name"],
            InputLocation=parent["manifest"],
            ContentType="application/json",
            InferenceId=parent_id,
            InvocationTimeoutSeconds=int(request["invocation_timeout_s"]),
            RequestTTLSeconds=int(request["request_ttl_s"]),
        )
    except Exception:
        store.release_stitch(parent_id)  # the notification is retried and claims it again
        raise
    log.info("job %s: all %d segments done, stitching", parent_id, len(states))
    return "stitching"
