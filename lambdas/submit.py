"""S3 ObjectCreated -> validated job record -> one InvokeEndpointAsync per upload.

Order per record (crash-safe; docs/RELIABILITY.md explains each step): read the record by the
deterministic job id; for a new upload validate it cheaply (HeadObject and the first bytes),
write the manifest, and claim the job with a conditional put; then take a short invoke lease,
invoke the endpoint, and record the invocation. A record with a recorded invocation makes any
later event a no-op.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote_plus

try:
    from . import (
        analytics_spec,
        clients,
        config,
        inspection,
        invocation,
        jobs,
        manifests,
        s3_events,
        segments,
    )
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import analytics_spec
    import clients
    import config
    import inspection
    import invocation
    import jobs
    import manifests
    import s3_events
    import segments

try:
    from . import job_metrics
    from .job_logging import bind_job, job_context
except ImportError:  # Lambda runtime: modules are top-level
    import job_metrics
    from job_logging import bind_job, job_context

log = logging.getLogger("motflow.submit")
log.setLevel(logging.INFO)


class SubmitError(RuntimeError):
    """Some records of an event could not be submitted; raised after all others were handled,
    so the event goes to the Lambda retry and then to the on-failure destination for replay."""


@dataclass(frozen=True)
class Outcome:
    key: str
    job_id: str | None
    status: str | None
    action: str  # queued | rejected | duplicate | ignored
    detail: str = ""


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point for S3 ObjectCreated notifications (one or more records)."""
    settings = config.SubmitSettings.from_env()
    store = jobs.JobStore(settings.jobs_table, deadlines=settings.deadlines)
    lease_until = _lease_deadline(context, settings)
    outcomes: list[Outcome] = []
    failures: list[str] = []
    for raw in s3_events.records(event):
        with job_context():
            try:
                obj = s3_events.parse_record(raw)
                if obj is not None:
                    outcomes.append(submit_object(obj, settings, store, lease_until))
            except Exception as error:
                # One bad record must not block the others; the event is failed at the end.
                key = unquote_plus(raw.get("s3", {}).get("object", {}).get("key", "?"))
                log.exception("record for key %s failed", key)
                failures.append(f"{key}: {type(error).__name__}: {error}")
    if failures:
        raise SubmitError(f"{len(failures)} record(s) failed: " + "; ".join(failures))
    return {"jobs": [asdict(outcome) for outcome in outcomes]}


def _lease_deadline(context: Any, settings: config.SubmitSettings) -> float:
    """Epoch seconds after which this invocation can no longer be running."""
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining_ms):
        return time.time() + remaining_ms() / 1000.0
    return time.time() + settings.invoke_lease_s


def submit_object(
    obj: s3_events.S3Object,
    settings: config.SubmitSettings,
    store: jobs.JobStore,
    lease_until: float,
) -> Outcome:
    """Take one uploaded object to QUEUED-and-invoked or REJECTED, at most once."""
    if obj.key.endswith("/"):
        log.info("ignoring folder marker %s", obj.uri)
        return Outcome(obj.key, None, None, "ignored", "folder marker")
    if obj.key.endswith(analytics_spec.SIDECAR_SUFFIX):
        log.info("ignoring analytics sidecar %s: it is read with its video", obj.uri)
        return Outcome(obj.key, None, None, "ignored", "analytics sidecar")
    if not obj.key.startswith(settings.input_prefix):
        log.warning("ignoring %s: outside the input prefix %s", obj.uri, settings.input_prefix)
        return Outcome(obj.key, None, None, "ignored", "outside the input prefix")
    if not (obj.version_id or obj.etag):
        obj = dataclasses.replace(obj, etag=_current_etag(obj))
    job_id = jobs.job_id_for(obj.bucket, obj.key, obj.version_id or obj.etag)
    bind_job(job_id)
    record = store.get(job_id)
    created = record is None
    if record is None:
        record, created = _register(obj, job_id, settings, store)
    if invocation.needs_invocation(record):
        if record.get("segments"):
            return _dispatch_segments(record, obj, settings, store, lease_until)
        invoked = invocation.invoke_job(record, settings, store, lease_until)
        return Outcome(obj.key, job_id, invoked.status, invoked.action)
    if record["status"] == jobs.REJECTED and created:
        log.info("job %s rejected: %s", job_id, record.get("reason"))
        job_metrics.emit(store.table_name, jobs.REJECTED)
        return Outcome(obj.key, job_id, jobs.REJECTED, "rejected", record.get("reason", ""))
    log.info("duplicate event for job %s (%s): no-op", job_id, record["status"])
    return Outcome(obj.key, job_id, record["status"], "duplicate")


def _current_etag(obj: s3_events.S3Object) -> str | None:
    head = clients.client("s3").head_object(Bucket=obj.bucket, Key=obj.key)
    return s3_events.normalise_etag(head.get("ETag"))


def _register(
    obj: s3_events.S3Object, job_id: str, settings: config.SubmitSettings, store: jobs.JobStore
) -> tuple[dict[str, Any], bool]:
    """Validate a first-seen upload and create its record; the first writer wins. Returns the
    record and whether this call created it."""
    now = jobs.utc_now()
    record: dict[str, Any] = {
        "job_id": job_id,
        "created_at": now,
        "updated_at": now,
        "bucket": obj.bucket,
        "key": obj.key,
        "version_id": obj.version_id,
        "etag": obj.etag,
        "video": obj.uri,
    }
    reason, facts = inspection.inspect_upload(obj, settings)
    record.update(facts)
    if reason:
        record.update(status=jobs.REJECTED, reason=reason, failed_stage=jobs.STAGE_VALIDATION)
    else:
        plan = segments.plan(
            record.get("duration_s"), settings.segment_threshold_s, settings.segment_overlap_s
        )
        extra = _parent_fields(job_id, plan) if plan else {}
        stitch = {"stitch": [settings.results_uri(i) for i in extra.get("segments", [])]}
        record.update(
            status=jobs.QUEUED,
            manifest=manifests.write_manifest(
                job_id, obj, settings, record.get("options"), extra=stitch if plan else None
            ),
            output=settings.results_uri(job_id),
            **extra,
        )
    if settings.job_retention_days:
        record[jobs.TTL_ATTRIBUTE] = jobs.expiry_epoch(settings.job_retention_days)
    if store.create(record):
        log.info("job %s created as %s for %s", job_id, record["status"], obj.uri)
        return record, True
    existing = store.get(job_id)
    if existing is None:
        raise RuntimeError(f"job {job_id} could not be created and does not exist")
    return existing, False


def _parent_fields(job_id: str, plan: list[segments.Segment]) -> dict[str, Any]:
    """A long video's parent record: its segment jobs and their time windows."""
    return {
        "segments": [segments.segment_job_id(job_id, s.index) for s in plan],
        "segment_plan": [s.to_dict() for s in plan],
    }


def _segment_job(
    parent: dict[str, Any],
    plan: dict[str, Any],
    obj: s3_events.S3Object,
    settings: config.SubmitSettings,
    store: jobs.JobStore,
) -> dict[str, Any]:
    """The segment's record, created on first sight (a replay finds it by its id)."""
    job_id = segments.segment_job_id(parent["job_id"], int(plan["index"]))
    existing = store.get(job_id)
    if existing is not None:
        return existing
    now = jobs.utc_now()
    options = parent.get("options")
    record = {
        **{k: parent[k] for k in ("bucket", "key", "version_id", "etag", "video") if k in parent},
        "job_id": job_id,
        "created_at": now,
        "updated_at": now,
        "status": jobs.QUEUED,
        "parent": parent["job_id"],
        "segment": plan,
        "manifest": manifests.write_manifest(
            job_id, obj, settings, options, extra={"segment": plan}
        ),
        "output": settings.results_uri(job_id),
    }
    if jobs.TTL_ATTRIBUTE in parent:
        record[jobs.TTL_ATTRIBUTE] = parent[jobs.TTL_ATTRIBUTE]
    store.create(record)
    return store.get(job_id) or record


def _dispatch_segments(
    parent: dict[str, Any],
    obj: s3_events.S3Object,
    settings: config.SubmitSettings,
    store: jobs.JobStore,
    lease_until: float,
) -> Outcome:
    """Invoke every segment not yet invoked (each under its own lease), then mark the parent
    invoked. A segment the endpoint refuses fails the parent (stage submit) naming it; a replay
    of the upload event invokes only the segments still missing."""
    job_id = parent["job_id"]
    for plan in parent["segment_plan"]:
        segment = _segment_job(parent, plan, obj, settings, store)
        if not invocation.needs_invocation(segment):
            continue
        try:
            invocation.invoke_job(segment, settings, store, lease_until)
        except invocation.InvocationFailed as error:
            token = uuid.uuid4().hex
            reason = f"Segment {plan['index']} could not be submitted: {error}"
            if store.acquire_invoke_lease(job_id, token, lease_until):
                store.fail_submission(store.get(job_id) or parent, token, reason)
            raise
    token = uuid.uuid4().hex
    if store.acquire_invoke_lease(job_id, token, lease_until):
        store.record_invocation(job_id, token, parent["output"], None, 0)
    log.info("job %s queued as %d segments", job_id, len(parent["segment_plan"]))
    return Outcome(parent["key"], job_id, jobs.QUEUED, "queued", "segments")
