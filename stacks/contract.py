"""The one deployment contract: the names and values the stacks, the runtimes and ``local/`` share.

Pure Python (no ``aws_cdk``), so ``local/`` and the tests build exactly what a deployment builds.
The Lambdas and the engine never import this module: they receive it through their environment
(``lambda_environment``, ``model_environment``) and parse it themselves; a unit test feeds these
builders' output to the Lambdas' parser so the two sides cannot drift.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stacks.settings import Settings

# --- S3 layout (docs/ARCHITECTURE.md, Buckets and keys) ---------------------------------------
# The input prefix is a setting (``input_prefix``); everything the pipeline writes lives in the
# work bucket under these fixed prefixes, so no output can reach the upload trigger.
MANIFEST_PREFIX = "jobs/"
RESULTS_PREFIX = "results/"
ASYNC_OUTPUT_PREFIX = "async-output/"
ASYNC_FAILURE_PREFIX = "async-failures/"
WORK_PREFIXES = (MANIFEST_PREFIX, RESULTS_PREFIX, ASYNC_OUTPUT_PREFIX, ASYNC_FAILURE_PREFIX)

# --- Jobs table ----------------------------------------------------------------------------
TABLE_KEY = "job_id"
STATUS_INDEX = "by_status"
STATUS_INDEX_PARTITION = "status"
STATUS_INDEX_SORT = "created_at"
TTL_ATTRIBUTE = "expires_at"  # epoch seconds; DynamoDB deletes the item some time after it
KEEP_FOREVER = 0  # JOB_RETENTION_DAYS value meaning "records never expire"

# --- Tracking stack outputs (the `motflow` command finds a deployment through them) -----------
OUTPUT_INPUT_BUCKET = "InputBucketName"
OUTPUT_UPLOAD_PREFIX = "UploadPrefix"
OUTPUT_WORK_BUCKET = "WorkBucketName"
OUTPUT_JOBS_TABLE = "JobsTableName"
OUTPUT_ENDPOINT = "EndpointName"
OUTPUT_NOTIFICATIONS_TOPIC = "NotificationsTopicArn"
OUTPUT_OPERATOR_POLICY = "OperatorPolicyArn"
# The deployment's facts `motflow` checks options against before uploading (deployment_facts),
# the same ones the local stack writes to its discovery file (local/discovery.DEPLOYMENT_FIELD).
OUTPUT_JOB_DEFAULTS = "JobDefaults"
# CloudFormation's quotas page gives no output-value limit; we keep to the 4,096 bytes it gives
# parameter values and custom-resource data. The facts are a few hundred bytes; synth refuses
# more rather than risk a failed deploy.
OUTPUT_VALUE_MAX_BYTES = 4096


def stack_name(prefix: str, kind: str) -> str:
    """The CloudFormation stack name: ``motflow`` + ``Tracking`` -> ``MotflowTracking``."""
    return "".join(part.capitalize() for part in prefix.split("-")) + kind


# make deploy reads these to refuse an instance-type change of an autoscaled variant.
OUTPUT_INSTANCE_TYPE = "EndpointInstanceType"
OUTPUT_VARIANT = "EndpointVariantName"
# Handler -> the output holding its failed-events queue URL (scripts/replay_failed_events.py).
OUTPUT_FAILED_EVENTS = {
    "submit": "SubmitFailedEventsQueueUrl",
    "complete": "CompleteFailedEventsQueueUrl",
    "sweeper": "SweeperFailedEventsQueueUrl",
    "notifier": "NotifierFailedEventsQueueUrl",
}


def tracking_stack_name(prefix: str) -> str:
    """The tracking stack's name for a name prefix (``motflow`` -> ``MotflowTracking``)."""
    return "".join(part.capitalize() for part in prefix.split("-")) + "Tracking"


# --- Handler timeouts and job deadlines (docs/RELIABILITY.md, "Sweeper") ----------------------
# The deployment and local/ use the same values, so leases and redeliveries behave alike.
SUBMIT_TIMEOUT_S = 60  # also the submit lease: an attempt cannot outlive its invocation
COMPLETE_TIMEOUT_S = 60
SWEEPER_TIMEOUT_S = 120
SWEEP_INTERVAL_S = 300  # the EventBridge schedule
SWEEP_PENDING_AFTER_S = 1800  # Lambda's async retries of an upload event are long over by then
INFERENCE_MAX_ATTEMPTS = 3  # runs of a job whose failures are transient (worker died, timeout)
SWEEP_GRACE_S = 300
# How long the stream's notifier has to send a terminal record's message before the sweeper
# sends it itself (Lambda retries a failing stream batch NOTIFIER_RETRY_ATTEMPTS times first).
NOTIFY_DEADLINE_S = 900
NOTIFIER_TIMEOUT_S = 60
NOTIFIER_RETRY_ATTEMPTS = 5
NOTIFIER_BATCH_SIZE = 10
DEADLINE_INDEX = "by_deadline"
DEADLINE_INDEX_PARTITION = "deadline_pk"  # one constant value ("open") on every indexed record
DEADLINE_INDEX_SORT = "deadline"  # epoch seconds (a number)
STREAM_VIEW = "NEW_IMAGE"  # the notifier reads the outbox from the record after each change


# --- Model container ------------------------------------------------------------------------
# Largest body the model server accepts; async invocations carry at most 1 GB, manifests are tiny.
MAX_REQUEST_BYTES = 1024 * 1024 * 1024
# The engine prices each job from its instance type (model_code/pricing.py reads this variable).
INSTANCE_TYPE_ENV = "MOTFLOW_INSTANCE_TYPE"


@dataclass(frozen=True)
class ResourceNames:
    """Physical names shared by a deployment and the local stack."""

    input_bucket: str
    work_bucket: str
    log_bucket: str
    jobs_table: str
    success_topic: str
    error_topic: str
    notifications_topic: str
    alarms_topic: str
    endpoint_name: str
    dashboard: str

    @property
    def endpoint_log_group(self) -> str:
        return endpoint_log_group(self.endpoint_name)


def endpoint_log_group(endpoint_name: str) -> str:
    """The log group SageMaker writes an endpoint's container logs to."""
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"


def resource_names(prefix: str, account: str, region: str) -> ResourceNames:
    """Names built from the prefix, so two deployments coexist in one account.

    ``account`` and ``region`` may be CDK tokens (unresolved strings).
    """
    return ResourceNames(
        input_bucket=f"{prefix}-input-{account}-{region}",
        work_bucket=f"{prefix}-work-{account}-{region}",
        log_bucket=f"{prefix}-logs-{account}-{region}",
        jobs_table=f"{prefix}-jobs",
        success_topic=f"{prefix}-async-success",
        error_topic=f"{prefix}-async-error",
        notifications_topic=f"{prefix}-notifications",
        alarms_topic=f"{prefix}-alarms",
        endpoint_name=f"{prefix}-tracking",
        dashboard=f"{prefix}-tracking",
    )


# S3's rules for a general purpose bucket's name (dots allowed, no IP-address form).
_BUCKET_NAME = re.compile(r"^(?!\d+\.\d+\.\d+\.\d+$)(?!xn--)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def deployment_names(
    prefix: str, account: str, region: str, *, input_bucket: str | None = None
) -> ResourceNames:
    """``resource_names``, with an existing bucket of the user's as the input bucket when named
    (``motflow:input_bucket_name``; the stack then creates no input bucket)."""
    names = resource_names(prefix, account, region)
    if input_bucket is None:
        return names
    return replace(names, input_bucket=checked_bucket_name(input_bucket))


def checked_bucket_name(name: str) -> str:
    """`name` when S3 accepts it as a bucket name; else ValueError."""
    if not _BUCKET_NAME.match(name) or ".." in name:
        raise ValueError(f"{name!r} is not a valid S3 bucket name")
    return name


def upload_key_filter(input_prefix: str) -> dict[str, str]:
    """The upload trigger's S3 key filter, for the stack and local/ alike: the prefix only.

    Every upload under the prefix reaches submit, which rejects a non-video suffix with a
    reason (S3 suffix filters are case-sensitive and would drop `.Mp4` or `.txt` silently).
    """
    return {"prefix": input_prefix}


def manifest_key(job_id: str) -> str:
    return f"{MANIFEST_PREFIX}{job_id}.json"


def results_prefix(job_id: str) -> str:
    return f"{RESULTS_PREFIX}{job_id}/"


# --- Lambda environment (docs/ARCHITECTURE.md, Lambda environment) ---------------------------


@dataclass(frozen=True)
class JobDefaults:
    """What the submit Lambda needs to write manifests and invoke the endpoint."""

    input_prefix: str
    video_suffixes: Sequence[str]
    max_video_bytes: int
    invocation_timeout_s: int
    request_ttl_s: int
    job_options: Mapping[str, Any]
    job_retention_days: int | None
    trained_classes: bool = False  # trained weights name their own classes (lambdas/config.py)
    invoke_max_attempts: int = 5
    invoke_lease_s: int = SUBMIT_TIMEOUT_S
    inference_max_attempts: int = INFERENCE_MAX_ATTEMPTS
    segment_threshold_s: int = 600
    segment_overlap_s: int = 2


def job_defaults(settings: Settings) -> JobDefaults:
    """The submit Lambda's values from the deployment settings."""
    return JobDefaults(
        input_prefix=settings.input_prefix,
        video_suffixes=settings.video_suffixes,
        max_video_bytes=settings.max_video_bytes,
        invocation_timeout_s=settings.invocation_timeout_s,
        request_ttl_s=settings.request_ttl_s,
        job_options={
            "detector": settings.detector,
            "stride": settings.stride,
            "classes": list(settings.classes),
            "annotate": settings.annotate,
            "preview": settings.preview,
        },
        job_retention_days=settings.job_retention_days,
        trained_classes=settings.trained_classes,
        segment_threshold_s=settings.segment_threshold_s,
        segment_overlap_s=settings.segment_overlap_s,
    )


def deployment_facts(settings: Settings) -> dict[str, Any]:
    """What `motflow` needs to check options as submit will: the job defaults (the detector among
    them) and whether the detector's classes are trained ones (lambdas/job_options)."""
    return {
        "job_options": dict(job_defaults(settings).job_options),
        "trained_classes": settings.trained_classes,
    }


def encode_deployment_facts(facts: Mapping[str, Any]) -> str:
    """The ``JobDefaults`` output's value: compact JSON, at most ``OUTPUT_VALUE_MAX_BYTES``."""
    text = json.dumps(dict(facts), sort_keys=True, separators=(",", ":"))
    size = len(text.encode())
    if size > OUTPUT_VALUE_MAX_BYTES:
        raise ValueError(
            f"the {OUTPUT_JOB_DEFAULTS} output would be {size} bytes, over the"
            f" {OUTPUT_VALUE_MAX_BYTES}-byte limit: name fewer default classes"
        )
    return text


def decode_deployment_facts(text: str | None) -> dict[str, Any] | None:
    """The facts from a ``JobDefaults`` output value; None when absent or not the facts (a stack
    that predates the output: submit still checks every job)."""
    if not text:
        return None
    try:
        facts = json.loads(text)
    except ValueError:
        return None
    if not isinstance(facts, dict) or not isinstance(facts.get("job_options"), dict):
        return None
    return facts


def deployment_model_environment(settings: Settings) -> dict[str, str]:
    """The model environment of a deployment: one server worker per concurrent invocation."""
    return model_environment(
        invocation_timeout_s=settings.invocation_timeout_s,
        workers=settings.max_concurrent_invocations_per_instance,
        extra={INSTANCE_TYPE_ENV: settings.instance_type},
    )


def complete_environment(*, jobs_table: str, notify_topic_arn: str) -> dict[str, str]:
    """Every variable the ``complete`` Lambda reads; each one is required there."""
    return {"JOBS_TABLE": jobs_table, "NOTIFY_TOPIC_ARN": notify_topic_arn}


def submit_environment(
    *,
    jobs_table: str,
    notify_topic_arn: str,
    work_bucket: str,
    endpoint_name: str,
    defaults: JobDefaults,
) -> dict[str, str]:
    """Every variable the ``submit`` Lambda reads; each one is required there."""
    retention = defaults.job_retention_days
    return {
        **complete_environment(jobs_table=jobs_table, notify_topic_arn=notify_topic_arn),
        "WORK_BUCKET": work_bucket,
        "ENDPOINT_NAME": endpoint_name,
        "INPUT_PREFIX": defaults.input_prefix,
        "MANIFEST_PREFIX": MANIFEST_PREFIX,
        "RESULTS_PREFIX": RESULTS_PREFIX,
        "VIDEO_SUFFIXES": ",".join(defaults.video_suffixes),
        "MAX_VIDEO_BYTES": str(defaults.max_video_bytes),
        "INVOCATION_TIMEOUT_S": str(defaults.invocation_timeout_s),
        "REQUEST_TTL_S": str(defaults.request_ttl_s),
        "JOB_OPTIONS": json.dumps(
            dict(defaults.job_options), sort_keys=True, separators=(",", ":")
        ),
        "DETECTOR_CLASSES": "trained" if defaults.trained_classes else "builtin",
        "JOB_RETENTION_DAYS": str(KEEP_FOREVER if retention is None else retention),
        "INVOKE_MAX_ATTEMPTS": str(defaults.invoke_max_attempts),
        "INVOKE_LEASE_S": str(defaults.invoke_lease_s),
        "SEGMENT_THRESHOLD_S": str(defaults.segment_threshold_s),
        "SEGMENT_OVERLAP_S": str(defaults.segment_overlap_s),
        **deadline_environment(defaults),
    }


def deadline_environment(defaults: JobDefaults) -> dict[str, str]:
    """The job deadlines every handler that moves a job writes (lambdas/config.Deadlines):
    PENDING until Lambda's retries of the event are over, INVOKED until the endpoint's queue
    TTL and invocation timeout have both passed, plus the sweeper's grace."""
    return {
        "DEADLINE_PENDING_S": str(SWEEP_PENDING_AFTER_S + SWEEP_GRACE_S),
        "DEADLINE_INVOKED_S": str(
            defaults.request_ttl_s + defaults.invocation_timeout_s + SWEEP_GRACE_S
        ),
        "DEADLINE_RECHECK_S": str(SWEEP_GRACE_S),
        "DEADLINE_NOTIFY_S": str(NOTIFY_DEADLINE_S),
    }


def notifier_environment(*, jobs_table: str, notify_topic_arn: str) -> dict[str, str]:
    """Every variable the stream's ``notifier`` Lambda reads."""
    return complete_environment(jobs_table=jobs_table, notify_topic_arn=notify_topic_arn)


def retry_environment(
    *, work_bucket: str, endpoint_name: str, defaults: JobDefaults
) -> dict[str, str]:
    """What ``complete`` also reads, to resubmit a transient failure (config.RetrySettings)."""
    return {
        "WORK_BUCKET": work_bucket,
        "ENDPOINT_NAME": endpoint_name,
        "MANIFEST_PREFIX": MANIFEST_PREFIX,
        "INVOCATION_TIMEOUT_S": str(defaults.invocation_timeout_s),
        "REQUEST_TTL_S": str(defaults.request_ttl_s),
        "INVOKE_MAX_ATTEMPTS": str(defaults.invoke_max_attempts),
        "INVOKE_LEASE_S": str(COMPLETE_TIMEOUT_S),
        "INFERENCE_MAX_ATTEMPTS": str(defaults.inference_max_attempts),
        **deadline_environment(defaults),
    }


def sweeper_environment(
    *, jobs_table: str, notify_topic_arn: str, endpoint_name: str, defaults: JobDefaults
) -> dict[str, str]:
    """Every variable the ``sweeper`` Lambda reads; each one is required there."""
    return {
        **complete_environment(jobs_table=jobs_table, notify_topic_arn=notify_topic_arn),
        "ENDPOINT_NAME": endpoint_name,
        "INVOCATION_TIMEOUT_S": str(defaults.invocation_timeout_s),
        "REQUEST_TTL_S": str(defaults.request_ttl_s),
        "INVOKE_MAX_ATTEMPTS": str(defaults.invoke_max_attempts),
        "INVOKE_LEASE_S": str(SWEEPER_TIMEOUT_S),
        "SWEEP_PENDING_AFTER_S": str(SWEEP_PENDING_AFTER_S),
        "SWEEP_GRACE_S": str(SWEEP_GRACE_S),
        **deadline_environment(defaults),
    }


# --- Model environment ----------------------------------------------------------------------


def model_environment(
    *,
    invocation_timeout_s: int,
    workers: int,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The SageMaker model's container environment, read by the model server
    (model_code/serving/settings.py): one worker process per concurrent invocation, and the
    invocation timeout (the server's own limit runs a margin past it). ``extra`` adds engine
    variables (they may not override these).
    """
    env = {
        "MOTFLOW_SERVER_WORKERS": str(workers),
        "MOTFLOW_INVOCATION_TIMEOUT_S": str(invocation_timeout_s),
        "MOTFLOW_MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES),
    }
    clashes = sorted(set(extra or {}) & set(env))
    if clashes:
        raise ValueError(f"model environment: {', '.join(clashes)} are set by the contract")
    return {**env, **(extra or {})}
