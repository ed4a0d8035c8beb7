"""Typed settings for the Lambdas, read from the environment (see docs/ARCHITECTURE.md).

The stack sets every variable (``stacks/contract.py`` builds them); each one is required here, so
a missing or malformed value fails the first invocation with a message naming it instead of
running on a silent default.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

MAX_INVOCATION_TIMEOUT_S = 3600
MIN_REQUEST_TTL_S, MAX_REQUEST_TTL_S = 60, 21600
LAMBDA_MAX_RUNTIME_S = 900
MAX_VIDEO_BYTES_LIMIT = 5 * 1024**4  # S3's largest object
MAX_RETENTION_DAYS = 100 * 365
MAX_SEGMENT_S = 6 * 3600


class InvokeSettings(Protocol):
    """What sending an InvokeEndpointAsync request needs (submit, complete, the sweeper)."""

    notify_topic_arn: str
    endpoint_name: str
    invocation_timeout_s: int
    request_ttl_s: int
    invoke_max_attempts: int
    invoke_lease_s: int


def _invoke_fields(env: Mapping[str, str]) -> dict[str, Any]:
    """The ``InvokeSettings`` fields other than the topic, read the same way for every handler
    that invokes the endpoint."""
    return {
        "endpoint_name": _required(env, "ENDPOINT_NAME"),
        "invocation_timeout_s": _integer(env, "INVOCATION_TIMEOUT_S", 1, MAX_INVOCATION_TIMEOUT_S),
        "request_ttl_s": _integer(env, "REQUEST_TTL_S", MIN_REQUEST_TTL_S, MAX_REQUEST_TTL_S),
        "invoke_max_attempts": _integer(env, "INVOKE_MAX_ATTEMPTS", 1, 10),
        "invoke_lease_s": _integer(env, "INVOKE_LEASE_S", 1, LAMBDA_MAX_RUNTIME_S),
    }


@dataclass(frozen=True)
class Deadlines:
    """How long a job may wait in each open phase before the sweeper does its way out
    (docs/RELIABILITY.md, "Deadlines"). Every write into an open phase sets one of these.

    - ``pending_s``: not handed to the endpoint yet (Lambda's retries of the event are over);
    - ``invoked_s``: handed over: the request may wait ``REQUEST_TTL_S`` in the endpoint's
      queue and then run ``INVOCATION_TIMEOUT_S``; past that no result can come;
    - ``recheck_s``: when the sweeper first looks for a result whose notification was lost
      (and again at this interval until ``invoked_s``); a long video's parent is rechecked too;
    - ``notify_s``: how long the table stream's notifier has to send a terminal record's
      message before the sweeper sends it itself.
    """

    pending_s: int
    invoked_s: int
    recheck_s: int
    notify_s: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Deadlines:
        env = os.environ if env is None else env
        day = 86400
        return cls(
            pending_s=_integer(env, "DEADLINE_PENDING_S", 60, 7 * day),
            invoked_s=_integer(env, "DEADLINE_INVOKED_S", 60, 7 * day),
            recheck_s=_integer(env, "DEADLINE_RECHECK_S", 1, day),
            notify_s=_integer(env, "DEADLINE_NOTIFY_S", 1, day),
        )


class ConfigError(ValueError):
    """A Lambda environment variable is missing or has a bad value; the message names it."""


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is required but not set")
    return value


def _integer(env: Mapping[str, str], name: str, low: int, high: int) -> int:
    raw = _required(env, name)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = _required(env, name)
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _prefix(env: Mapping[str, str], name: str) -> str:
    value = _required(env, name)
    if not value.endswith("/") or value.startswith("/"):
        raise ConfigError(f"{name} must be a key prefix ending in '/', got {value!r}")
    return value


def _suffixes(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = _required(env, "VIDEO_SUFFIXES")
    names = (part.strip().lower() for part in raw.split(","))
    suffixes = tuple(name if name.startswith(".") else f".{name}" for name in names if name)
    if not suffixes:
        raise ConfigError(f"VIDEO_SUFFIXES must list at least one suffix, got {raw!r}")
    return suffixes


def _job_options(env: Mapping[str, str]) -> dict[str, Any]:
    raw = _required(env, "JOB_OPTIONS")
    try:
        options = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigError(f"JOB_OPTIONS must be a JSON object: {error}") from None
    if not isinstance(options, dict):
        raise ConfigError(f"JOB_OPTIONS must be a JSON object, got {type(options).__name__}")
    return options


@dataclass(frozen=True)
class NotifySettings:
    jobs_table: str
    notify_topic_arn: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> NotifySettings:
        env = os.environ if env is None else env
        return cls(_required(env, "JOBS_TABLE"), _required(env, "NOTIFY_TOPIC_ARN"))


@dataclass(frozen=True)
class SubmitSettings:
    jobs_table: str
    notify_topic_arn: str
    work_bucket: str
    endpoint_name: str
    input_prefix: str
    manifest_prefix: str
    results_prefix: str
    video_suffixes: tuple[str, ...]
    max_video_bytes: int
    invocation_timeout_s: int
    request_ttl_s: int
    job_options: dict[str, Any]
    trained_classes: bool  # the deployed weights name their own classes (only the engine knows)
    job_retention_days: int  # 0: records are kept
    invoke_max_attempts: int
    invoke_lease_s: int
    segment_threshold_s: int  # longer videos become a parent job with segment jobs
    segment_overlap_s: int
    deadlines: Deadlines

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SubmitSettings:
        env = os.environ if env is None else env
        return cls(
            jobs_table=_required(env, "JOBS_TABLE"),
            notify_topic_arn=_required(env, "NOTIFY_TOPIC_ARN"),
            work_bucket=_required(env, "WORK_BUCKET"),
            input_prefix=_prefix(env, "INPUT_PREFIX"),
            manifest_prefix=_prefix(env, "MANIFEST_PREFIX"),
            results_prefix=_prefix(env, "RESULTS_PREFIX"),
            video_suffixes=_suffixes(env),
            max_video_bytes=_integer(env, "MAX_VIDEO_BYTES", 1, MAX_VIDEO_BYTES_LIMIT),
            job_options=_job_options(env),
            trained_classes=_choice(env, "DETECTOR_CLASSES", ("builtin", "trained")) == "trained",
            job_retention_days=_integer(env, "JOB_RETENTION_DAYS", 0, MAX_RETENTION_DAYS),
            **_invoke_fields(env),
            segment_threshold_s=_integer(env, "SEGMENT_THRESHOLD_S", 1, MAX_SEGMENT_S),
            segment_overlap_s=_integer(env, "SEGMENT_OVERLAP_S", 0, MAX_SEGMENT_S),
            deadlines=Deadlines.from_env(env),
        )

    def manifest_key(self, job_id: str) -> str:
        return f"{self.manifest_prefix}{job_id}.json"

    def results_uri(self, job_id: str) -> str:
        return f"s3://{self.work_bucket}/{self.results_prefix}{job_id}/"


@dataclass(frozen=True)
class RetrySettings:
    """What ``complete`` needs to resubmit a transiently failed job as a new attempt."""

    notify_topic_arn: str
    work_bucket: str
    endpoint_name: str
    manifest_prefix: str
    invocation_timeout_s: int
    request_ttl_s: int
    invoke_max_attempts: int
    invoke_lease_s: int
    inference_max_attempts: int  # runs per job in all, the first one included
    deadlines: Deadlines

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RetrySettings:
        env = os.environ if env is None else env
        return cls(
            notify_topic_arn=_required(env, "NOTIFY_TOPIC_ARN"),
            work_bucket=_required(env, "WORK_BUCKET"),
            manifest_prefix=_prefix(env, "MANIFEST_PREFIX"),
            **_invoke_fields(env),
            inference_max_attempts=_integer(env, "INFERENCE_MAX_ATTEMPTS", 1, 10),
            deadlines=Deadlines.from_env(env),
        )

    def manifest_key(self, job_id: str, attempt: int) -> str:
        return f"{self.manifest_prefix}{job_id}.attempt-{attempt}.json"


@dataclass(frozen=True)
class SweeperSettings:
    jobs_table: str
    notify_topic_arn: str
    invocation_timeout_s: int
    request_ttl_s: int
    pending_after_s: int
    grace_s: int
    endpoint_name: str  # a long video's stitch request (lambdas/parents.py)
    invoke_max_attempts: int
    invoke_lease_s: int
    deadlines: Deadlines

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SweeperSettings:
        env = os.environ if env is None else env
        return cls(
            jobs_table=_required(env, "JOBS_TABLE"),
            notify_topic_arn=_required(env, "NOTIFY_TOPIC_ARN"),
            pending_after_s=_integer(env, "SWEEP_PENDING_AFTER_S", 60, 7 * 86400),
            grace_s=_integer(env, "SWEEP_GRACE_S", 0, 86400),
            **_invoke_fields(env),
            deadlines=Deadlines.from_env(env),
        )
