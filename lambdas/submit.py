"""S3 ObjectCreated -> validated job record -> one InvokeEndpointAsync per upload.

Order per record (crash-safe; docs/RELIABILITY.md explains each step): read the record by the
deterministic job id; for a new upload validate it cheaply (HeadObject and the first bytes),
write the manifest, and claim the job with a conditional put; then take a short invoke lease,
invoke the endpoint, and record the invocation. A record with a recorded invocation makes any
later event a no-op.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
)

try:
    from . import (
        clients,
        config,
        header_duration,
        job_options,
        jobs,
        lifecycle,
        notify,
        s3_events,
        segments,
        video_magic,
    )
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import clients
    import config
    import header_duration
    import job_options
    import jobs
    import lifecycle
    import notify
    import s3_events
    import segments
    import video_magic

log = logging.getLogger("motflow.submit")
log.setLevel(logging.INFO)


class SubmitError(RuntimeError):
    """Some records of an event could not be submitted; raised after all others were handled,
    so the event goes to the Lambda retry and then to the on-failure destination for replay."""


class JobBusy(RuntimeError):
    """Another live attempt holds the invoke lease of this job; retry the event later."""


class InvocationFailed(RuntimeError):
    """InvokeEndpointAsync was refused for good (a 4xx); the job is FAILED (stage submit)."""


class InvocationDeferred(RuntimeError):
    """InvokeEndpointAsync got no acceptance within the bounded retries (throttled, 5xx,
    timeout); the job stays QUEUED unannounced and the event is retried."""


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
    store = jobs.JobStore(settings.jobs_table)
    lease_until = _lease_deadline(context, settings)
    outcomes: list[Outcome] = []
    failures: list[str] = []
    for raw in s3_events.records(event):
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
    if not obj.key.startswith(settings.input_prefix):
        log.warning("ignoring %s: outside the input prefix %s", obj.uri, settings.input_prefix)
        return Outcome(obj.key, None, None, "ignored", "outside the input prefix")
    if not (obj.version_id or obj.etag):
        obj = dataclasses.replace(obj, etag=_current_etag(obj))
    job_id = jobs.job_id_for(obj.bucket, obj.key, obj.version_id or obj.etag)
    record = store.get(job_id)
    if record is None:
        record = _register(obj, job_id, settings, store)
    if _needs_invocation(record):
        if record.get("segments"):
            return _dispatch_segments(record, obj, settings, store, lease_until)
        return _invoke_once(record, settings, store, lease_until)
    if record["status"] == jobs.REJECTED and "notified_phase" not in record:
        notify.tell_user_once(store, settings.notify_topic_arn, job_id)
        log.info("job %s rejected: %s", job_id, record.get("reason"))
        return Outcome(obj.key, job_id, jobs.REJECTED, "rejected", record.get("reason", ""))
    log.info("duplicate event for job %s (%s): no-op", job_id, record["status"])
    notify.tell_user_once(store, settings.notify_topic_arn, job_id)
    return Outcome(obj.key, job_id, record["status"], "duplicate")


def _needs_invocation(record: dict[str, Any]) -> bool:
    return lifecycle.next_phase(lifecycle.phase_of(record), lifecycle.LEASE) is not None


def _current_etag(obj: s3_events.S3Object) -> str | None:
    head = clients.client("s3").head_object(Bucket=obj.bucket, Key=obj.key)
    return s3_events.normalise_etag(head.get("ETag"))


def _register(
    obj: s3_events.S3Object, job_id: str, settings: config.SubmitSettings, store: jobs.JobStore
) -> dict[str, Any]:
    """Validate a first-seen upload and create its record; the first writer wins."""
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
    reason, facts = inspect_upload(obj, settings)
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
            manifest=write_manifest(
                job_id, obj, settings, record.get("options"), extra=stitch if plan else None
            ),
            output=settings.results_uri(job_id),
            **extra,
        )
    if settings.job_retention_days:
        record[jobs.TTL_ATTRIBUTE] = jobs.expiry_epoch(settings.job_retention_days)
    if store.create(record):
        log.info("job %s created as %s for %s", job_id, record["status"], obj.uri)
        return record
    existing = store.get(job_id)
    if existing is None:
        raise RuntimeError(f"job {job_id} could not be created and does not exist")
    return existing


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
        "manifest": write_manifest(job_id, obj, settings, options, extra={"segment": plan}),
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
        if not _needs_invocation(segment):
            continue
        try:
            _invoke_once(segment, settings, store, lease_until)
        except InvocationFailed as error:
            token = uuid.uuid4().hex
            reason = f"Segment {plan['index']} could not be submitted: {error}"
            if store.acquire_invoke_lease(job_id, token, lease_until) and store.fail_submission(
                job_id, token, reason
            ):
                notify.tell_user_once(store, settings.notify_topic_arn, job_id)
            raise
    token = uuid.uuid4().hex
    if store.acquire_invoke_lease(job_id, token, lease_until):
        store.record_invocation(job_id, token, parent["output"], None, 0)
    log.info("job %s queued as %d segments", job_id, len(parent["segment_plan"]))
    return Outcome(parent["key"], job_id, jobs.QUEUED, "queued", "segments")


def _human_bytes(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            break
        value /= 1024
    return f"{value:.1f} {unit}"


def inspect_upload(
    obj: s3_events.S3Object, settings: config.SubmitSettings
) -> tuple[str | None, dict[str, Any]]:
    """(rejection reason or None, facts) from HeadObject and a ranged read of the first bytes."""
    name = obj.key.rsplit("/", 1)[-1]
    if not obj.key.lower().endswith(settings.video_suffixes):
        accepted = ", ".join(settings.video_suffixes)
        return f"'{name}' is not a video file name (accepted extensions: {accepted}).", {}
    s3 = clients.client("s3")
    if obj.version_id:
        selector = {"VersionId": obj.version_id}
    elif obj.etag:
        selector = {"IfMatch": f'"{obj.etag}"'}
    else:
        selector = {}
    try:
        head = s3.head_object(Bucket=obj.bucket, Key=obj.key, **selector)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code"))
        if code in ("404", "NoSuchKey", "NotFound", "NoSuchVersion"):
            return "The upload was deleted before it could be checked.", {}
        if code in ("412", "PreconditionFailed"):
            return (
                "The file was replaced by a newer upload before it could be checked;"
                " the newer upload is processed as its own job.",
                {},
            )
        raise
    size = int(head["ContentLength"])
    facts: dict[str, Any] = {"size_bytes": size}
    try:
        options, tag, retry_of = job_options.from_metadata(head.get("Metadata") or {})
    except job_options.OptionError as error:
        return f"'{name}' has a bad per-job option: {error}. Fix it and upload again.", facts
    facts.update(options=options, tag=tag, retry_of=retry_of)
    if size == 0:
        return f"'{name}' is empty (0 bytes).", facts
    if size > settings.max_video_bytes:
        limit = _human_bytes(settings.max_video_bytes)
        return f"'{name}' is {_human_bytes(size)}, over the {limit} limit.", facts
    head_range = f"bytes=0-{video_magic.HEAD_BYTES - 1}"
    first = s3.get_object(Bucket=obj.bucket, Key=obj.key, Range=head_range, **selector)
    leading = first["Body"].read()
    container = video_magic.detect_container(leading)
    if container is None:
        return (
            f"'{name}' is not a video we can read: it starts with "
            f"{video_magic.describe_bytes(leading)}, not an MP4/MOV, Matroska/WebM or AVI header.",
            facts,
        )
    facts["container"] = video_magic.CONTAINER_NAMES[container]
    if container == "iso-bmff":
        return _inspect_mp4_tracks(name, size, s3, obj, selector, facts), facts
    header_range = f"bytes=0-{min(size, header_duration.HEADER_BYTES) - 1}"
    header = s3.get_object(Bucket=obj.bucket, Key=obj.key, Range=header_range, **selector)
    duration = header_duration.header_duration_s(container, header["Body"].read())
    if duration is not None:
        facts["duration_s"] = round(duration, 3)
    return None, facts


def _inspect_mp4_tracks(
    name: str,
    size: int,
    s3: Any,
    obj: s3_events.S3Object,
    selector: dict[str, str],
    facts: dict[str, Any],
) -> str | None:
    """A reason when the MP4's index says it cannot be tracked: no index, no video track, or
    a video track without frames (a few small ranged reads, never the whole file)."""

    def read(offset: int, length: int) -> bytes:
        last = min(offset + length, size) - 1
        reply = s3.get_object(
            Bucket=obj.bucket, Key=obj.key, Range=f"bytes={offset}-{last}", **selector
        )
        return reply["Body"].read()

    tracks = video_magic.mp4_tracks(read, size)
    if tracks is None:
        return None
    if tracks.duration_s is not None:
        facts["duration_s"] = round(tracks.duration_s, 3)
    if not tracks.has_index:
        return (
            f"'{name}' is an MP4 without its index (no moov box): the upload is probably"
            " incomplete or the file was cut. Upload the complete file."
        )
    if tracks.video_tracks == 0:
        holds = " and ".join(tracks.other_tracks) or "no tracks"
        return f"'{name}' has no video track (it holds only {holds}). Upload a video file."
    if tracks.video_samples == 0 and not tracks.fragmented:
        return f"'{name}' has a video track with no frames. Upload a video with frames."
    return None


def video_version(obj: s3_events.S3Object) -> str | None:
    """The manifest's ``video_version``: the S3 version id, else the ETag in its quoted form.

    Version ids never contain quotes, so the container tells the two apart by the quotes.
    """
    if obj.version_id:
        return obj.version_id
    return f'"{obj.etag}"' if obj.etag else None


def write_manifest(
    job_id: str,
    obj: s3_events.S3Object,
    settings: config.SubmitSettings,
    options: dict[str, Any] | None = None,
    attempt: int = 1,
    extra: dict[str, Any] | None = None,
) -> str:
    """Write the job manifest (deterministic content, so rewriting it is harmless).

    It names exactly the uploaded version of the video, so an overwrite while the job waits in
    the endpoint queue does not change what the job reads. `options` (the upload's own, from
    its metadata) override the deployment's.
    """
    manifest = {
        "job_id": job_id,
        "video": obj.uri,
        "video_version": video_version(obj),
        "output": settings.results_uri(job_id),
        "options": {**settings.job_options, **(options or {})},
        "attempt": attempt,
        **(extra or {}),  # a long video's `segment`, or its parent's `stitch` list
    }
    key = settings.manifest_key(job_id)
    clients.client("s3").put_object(
        Bucket=settings.work_bucket,
        Key=key,
        Body=json.dumps(manifest, ensure_ascii=False, sort_keys=True).encode("utf-8"),
        ContentType="application/json",
    )
    return f"s3://{settings.work_bucket}/{key}"


def _describe_error(error: Exception) -> str:
    attempts = getattr(error, "motflow_attempts", 1)
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code", "error")
        message = details.get("Message") or "no message"
        return f"{code}: {message}, after {attempts} attempt(s)"
    return f"{type(error).__name__}, after {attempts} attempt(s)"


# Errors after which the endpoint certainly did not accept the request: retrying cannot run a
# job twice. Read timeouts, dropped connections and 5xx are ambiguous (SageMaker may have
# queued it and does not deduplicate on InferenceId); they are retried too, because the
# container claims each attempt before working (model_code/claims.py), so a duplicate request
# is a cheap no-op there and `complete` ignores its result.
_REFUSED_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})
_FINAL_CODES = frozenset({"ValidationError", "ValidationException", "AccessDeniedException"})
_RETRY_BASE_S = 0.2
_RETRY_CAP_S = 5.0


def retry_decision(error: Exception) -> str:
    """``"refused"`` (safe to resend), ``"ambiguous"`` (maybe accepted) or ``"final"``."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in _REFUSED_CODES or status == 429:
            return "refused"
        if code in _FINAL_CODES or 400 <= status < 500:
            return "final"
        return "ambiguous"
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        return "refused"  # nothing reached the service
    return "ambiguous"


def invoke_endpoint(
    record: dict[str, Any],
    settings: config.InvokeSettings,
    lease_until: float,
) -> tuple[dict[str, Any], int]:
    """InvokeEndpointAsync, sent by a single-shot client; we decide on each retry ourselves.

    Retries are bounded by ``INVOKE_MAX_ATTEMPTS`` and by the lease (never past the time this
    Lambda invocation may still run). Returns the reply and the number of requests sent; the
    final error carries that number as ``motflow_attempts``.
    """
    runtime = clients.client("sagemaker-runtime", max_attempts=1)
    attempt = 0
    while True:
        attempt += 1
        try:
            reply = runtime.invoke_endpoint_async(
                EndpointName=settings.endpoint_name,
                InputLocation=record["manifest"],
                ContentType="application/json",
                InferenceId=jobs.inference_id(record["job_id"], jobs.attempt_of(record)),
                InvocationTimeoutSeconds=settings.invocation_timeout_s,
                RequestTTLSeconds=settings.request_ttl_s,
            )
            return reply, attempt
        except (ClientError, BotoCoreError) as error:
            decision = retry_decision(error)
            pause = min(_RETRY_CAP_S, _RETRY_BASE_S * 2 ** (attempt - 1)) * random.uniform(0.5, 1)
            log.warning(
                "job %s: InvokeEndpointAsync attempt %d failed (%s): %s",
                record["job_id"],
                attempt,
                decision,
                error,
            )
            out_of_time = time.time() + pause + 30 > lease_until
            if decision == "final" or attempt >= settings.invoke_max_attempts or out_of_time:
                error.motflow_attempts = attempt  # type: ignore[attr-defined]
                raise
            time.sleep(pause)


def _invoke_once(
    record: dict[str, Any],
    settings: config.SubmitSettings | config.RetrySettings,
    store: jobs.JobStore,
    lease_until: float,
) -> Outcome:
    """Invoke the endpoint for a job with no recorded invocation, under an exclusive lease."""
    job_id = record["job_id"]
    token = uuid.uuid4().hex
    if not store.acquire_invoke_lease(job_id, token, lease_until):
        latest = store.get(job_id) or record
        if not _needs_invocation(latest):
            log.info("job %s was invoked by another attempt: no-op", job_id)
            return Outcome(record["key"], job_id, latest["status"], "duplicate")
        raise JobBusy(
            f"job {job_id} is being submitted by another attempt until epoch"
            f" {latest.get('lease_until')}; the event will be retried"
        )
    try:
        response, requests = invoke_endpoint(record, settings, lease_until)
    except (ClientError, BotoCoreError) as error:
        described = _describe_error(error)
        if retry_decision(error) != "final":
            store.defer_submission(job_id, token, described)
            raise InvocationDeferred(
                f"job {job_id}: the tracking service did not accept it yet ({described});"
                " the event is retried"
            ) from error
        reason = (
            f"The tracking service refused the job ({described}). The stack's operators must"
            " check the endpoint; the upload event is kept and can be replayed."
        )
        if store.fail_submission(job_id, token, reason):
            notify.tell_user_once(store, settings.notify_topic_arn, job_id)
        raise InvocationFailed(f"job {job_id}: {reason}") from error
    if not store.record_invocation(
        job_id, token, response["OutputLocation"], response.get("FailureLocation"), requests
    ):
        log.warning("job %s: invoke lease lost before the invocation was recorded", job_id)
    log.info("job %s queued on %s", job_id, settings.endpoint_name)
    return Outcome(record["key"], job_id, jobs.QUEUED, "queued")


# Invoke the endpoint for a QUEUED job not yet invoked, once: a new upload here, a retried
# attempt in `complete`.
invoke_job = _invoke_once
