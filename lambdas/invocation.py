"""InvokeEndpointAsync for one job attempt: the single-shot client, our bounded retry policy,
and the invoke lease that makes one caller send it (submit for new uploads and segments,
complete for a retried attempt, a long video's stitch request from complete or the sweeper).
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
)

try:
    from . import clients, config, jobs, lifecycle
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import clients
    import config
    import jobs
    import lifecycle

log = logging.getLogger("motflow.invocation")
log.setLevel(logging.INFO)


class JobBusy(RuntimeError):
    """Another live attempt holds the invoke lease of this job; retry the event later."""


class InvocationFailed(RuntimeError):
    """InvokeEndpointAsync was refused for good (a 4xx); the job is FAILED (stage submit)."""


class InvocationDeferred(RuntimeError):
    """InvokeEndpointAsync got no acceptance within the bounded retries (throttled, 5xx,
    timeout); the job stays QUEUED unannounced and the event is retried."""


@dataclass(frozen=True)
class Invoked:
    job_id: str
    status: str
    action: str  # queued | duplicate


def needs_invocation(record: dict[str, Any]) -> bool:
    """Whether the record waits for a request to the endpoint (the lease may be taken)."""
    return lifecycle.next_phase(lifecycle.phase_of(record), lifecycle.LEASE) is not None


def describe_error(error: Exception) -> str:
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
    final error carries that number as ``motflow_attempts`` and, as ``motflow_maybe_queued``,
    whether any request had an ambiguous answer.
    """
    runtime = clients.client("sagemaker-runtime", max_attempts=1)
    attempt = 0
    maybe_queued = False
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
            maybe_queued = maybe_queued or decision == "ambiguous"
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
                # Any ambiguous answer on the way: the endpoint may run one of these requests.
                error.motflow_maybe_queued = maybe_queued  # type: ignore[attr-defined]
                raise
            time.sleep(pause)


def invoke_job(
    record: dict[str, Any],
    settings: config.InvokeSettings,
    store: jobs.JobStore,
    lease_until: float,
) -> Invoked:
    """Invoke the endpoint for a job with no recorded invocation, under an exclusive lease:
    a new upload or segment (submit), a retried attempt (complete)."""
    job_id = record["job_id"]
    token = uuid.uuid4().hex
    if not store.acquire_invoke_lease(job_id, token, lease_until):
        latest = store.get(job_id) or record
        if not needs_invocation(latest):
            log.info("job %s was invoked by another attempt: no-op", job_id)
            return Invoked(job_id, latest["status"], "duplicate")
        raise JobBusy(
            f"job {job_id} is being submitted by another attempt until epoch"
            f" {latest.get('lease_until')}; the event will be retried"
        )
    try:
        response, requests = invoke_endpoint(record, settings, lease_until)
    except (ClientError, BotoCoreError) as error:
        described = describe_error(error)
        if retry_decision(error) != "final":
            maybe_queued = bool(getattr(error, "motflow_maybe_queued", False))
            store.defer_submission(job_id, token, described, maybe_queued)
            raise InvocationDeferred(
                f"job {job_id}: the tracking service did not accept it yet ({described});"
                " the event is retried"
            ) from error
        reason = (
            f"The tracking service refused the job ({described}). The stack's operators must"
            " check the endpoint; the upload event is kept and can be replayed."
        )
        store.fail_submission(store.get(job_id) or record, token, reason)
        raise InvocationFailed(f"job {job_id}: {reason}") from error
    if not store.record_invocation(
        job_id, token, response["OutputLocation"], response.get("FailureLocation"), requests
    ):
        log.warning("job %s: invoke lease lost before the invocation was recorded", job_id)
    log.info("job %s queued on %s", job_id, settings.endpoint_name)
    return Invoked(job_id, jobs.QUEUED, "queued")
