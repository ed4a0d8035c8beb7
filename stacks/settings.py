"""Typed, validated deployment settings, parsed from CDK context. Parsing and validation only.

Pure Python on purpose (no ``aws_cdk`` import) so that ``local/`` can use the same values as a
deployment. Values come from CDK context (``-c key=value`` gives strings; ``cdk.json`` gives JSON
types); both forms are accepted. Every invalid setting is reported at once. Names, layout and
runtime environments built from these values live in ``stacks/contract.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stacks import context as motflow_context
from stacks.aws_rules import LAMBDA_MIN_UNRESERVED_CONCURRENCY
from stacks.sagemaker_platform import unsupported_instance_type

# model_code.detectors.DETECTOR_NAMES, repeated here so that settings need not import the engine
# (tests/infra/test_infra_model_artifact.py keeps the two equal).
KNOWN_DETECTORS = ("nanodet-g", "yolov3-tiny", "yolov4-tiny", "yolox-torchscript", "yolox-onnx")
YOLOX_WEIGHT_SUFFIXES = {
    "yolox-torchscript": (".torchscript", ".pt"),
    "yolox-onnx": (".onnx",),
    "nanodet-g": (".pt",),  # a fine-tuned checkpoint from `motflow train`
}
# Detectors whose weights ship with the model artifact when `weights` is unset.
BUNDLED_WEIGHTS = frozenset({"nanodet-g", "yolov3-tiny", "yolov4-tiny"})
# `weights` may instead name a whole model.tar.gz in S3 (a `motflow train --sagemaker` job's
# output): the endpoint then serves that archive as it is.
_MODEL_ARTIFACT_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(\S+\.tar\.gz)$")
# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
REMOVAL_POLICIES = ("retain", "destroy")
MAX_INVOCATION_TIMEOUT_S = 3600  # InvokeEndpointAsync's InvocationTimeoutSeconds limit.
MAX_REQUEST_TTL_S = 21600  # InvokeEndpointAsync's RequestTTLSeconds limit (6 h).
MIN_REQUEST_TTL_S = 60
DEFAULT_ACCOUNT_CONCURRENCY = 1000  # Lambda's default "Concurrent executions" quota

_INSTANCE_TYPE = re.compile(r"^ml\.[a-z][a-z0-9-]*\.[a-z0-9]+$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_NAME_PREFIX = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){1,19}$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


class SettingsError(ValueError):
    """One or more context values are invalid; the message names every one of them."""

    def __init__(self, *problems: tuple[str, str]) -> None:
        self.problems = list(problems)
        self.setting = problems[0][0]
        lines = [f"setting '{name}': {problem}" for name, problem in problems]
        prefix = f"{len(lines)} invalid settings: " if len(lines) > 1 else ""
        super().__init__(prefix + "; ".join(lines))


@dataclass(frozen=True)
class Settings:
    name_prefix: str = "motflow"
    region: str | None = None
    instance_type: str = "ml.g4dn.xlarge"
    min_capacity: int = 0
    max_capacity: int = 2
    max_concurrent_invocations_per_instance: int = 2
    target_backlog_per_instance: float = 4.0
    invocation_timeout_s: int = MAX_INVOCATION_TIMEOUT_S
    request_ttl_s: int = MAX_REQUEST_TTL_S
    detector: str = "nanodet-g"
    weights: str | None = None
    stride: int = 1
    classes: tuple[str, ...] = ("person",)
    annotate: bool = False
    preview: bool = True  # every job writes preview.mp4 unless its upload says otherwise
    tracker: Mapping[str, Any] = field(default_factory=dict)
    input_prefix: str = "videos/"
    video_suffixes: tuple[str, ...] = (".mp4", ".mov", ".avi", ".mkv", ".webm")
    max_video_bytes: int = 10 * 1024**3
    manifest_retention_days: int = 30
    failure_retention_days: int = 90
    log_retention_days: int = 30
    removal_policy: str = "retain"
    alarm_email: str | None = None
    oldest_request_alarm_s: int = 2 * MAX_INVOCATION_TIMEOUT_S
    submit_reserved_concurrency: int | None = None
    account_concurrency_limit: int = DEFAULT_ACCOUNT_CONCURRENCY
    base_image_digest: str | None = None
    noncurrent_version_retention_days: int = 30
    async_output_retention_days: int = 30
    results_retention_days: int | None = None
    job_retention_days: int | None = None
    training: bool = False
    segment_threshold_s: int = 600  # longer videos are split into parallel segments
    segment_overlap_s: int = 2  # each segment also tracks this far into the next one

    def __post_init__(self) -> None:
        problems = _validate(self)
        if problems:
            raise SettingsError(*problems)

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> Settings:
        """Build settings from CDK context values (keyed ``motflow:<name>`` or, the old way,
        ``<name>``; the prefixed key wins); anything missing takes its default.

        Raises one ``SettingsError`` naming every unparsable and every invalid value.
        """
        values: dict[str, Any] = {}
        problems: list[tuple[str, str]] = []
        given = motflow_context.read(context.get, _PARSERS)[0]
        for name, parse in _PARSERS.items():
            raw = given[name]
            if raw is None:
                continue
            try:
                values[name] = parse(name, raw)
            except SettingsError as error:
                problems.extend(error.problems)
        try:
            settings = cls(**values)
        except SettingsError as error:
            problems.extend(error.problems)
        if problems:
            raise SettingsError(*problems)
        return settings

    @property
    def model_artifact_s3(self) -> tuple[str, str] | None:
        """(bucket, key) when `weights` names a trained model.tar.gz in S3."""
        match = _MODEL_ARTIFACT_URI.match(self.weights or "")
        return (match[1], match[2]) if match else None

    @property
    def trained_classes(self) -> bool:
        """Whether the weights were trained here (a model.tar.gz or a NanoDet checkpoint): they
        carry class names of their own, which submit cannot check a job's `classes` against."""
        return self.model_artifact_s3 is not None or (
            self.detector == "nanodet-g" and self.weights is not None
        )

    @property
    def weights_entry(self) -> str:
        """Where the weights sit inside the model directory (``config.json``'s ``weights``)."""
        if self.weights is None:
            return "weights"
        return f"weights/{Path(self.weights).name}"

    def engine_config(self) -> dict[str, Any]:
        """The model directory's ``config.json`` (docs/schemas/model-config.schema.json): the
        model's facts. The job defaults (stride, classes, annotate) reach the engine by one
        route, each job's manifest (``contract.job_defaults`` -> submit's ``JOB_OPTIONS``)."""
        return {
            "detector": self.detector,
            "weights": self.weights_entry,
            "tracker": dict(self.tracker),
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tracker"] = dict(self.tracker)
        return data


def _invalid(setting: str, problem: str) -> SettingsError:
    return SettingsError((setting, problem))


def _as_str(name: str, raw: Any) -> str:
    if not isinstance(raw, str):
        raise _invalid(name, f"expected text, got {raw!r}")
    return raw.strip()


def _as_optional_str(name: str, raw: Any) -> str | None:
    value = _as_str(name, raw)
    return value or None


def _as_int(name: str, raw: Any) -> int:
    if isinstance(raw, bool):
        raise _invalid(name, f"expected a whole number, got {raw!r}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"\s*-?\d+\s*", raw):
        return int(raw)
    raise _invalid(name, f"expected a whole number, got {raw!r}")


def _as_optional_int(name: str, raw: Any) -> int | None:
    if isinstance(raw, str) and raw.strip().lower() in ("", "none", "null"):
        return None
    return _as_int(name, raw)


def _as_float(name: str, raw: Any) -> float:
    if isinstance(raw, bool):
        raise _invalid(name, f"expected a number, got {raw!r}")
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise _invalid(name, f"expected a number, got {raw!r}") from None


def _as_bool(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise _invalid(name, f"expected true or false, got {raw!r}")


def _as_str_tuple(name: str, raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        items = [item.strip() for item in raw.split(",")]
    elif isinstance(raw, list | tuple) and all(isinstance(item, str) for item in raw):
        items = [item.strip() for item in raw]
    else:
        raise _invalid(name, f"expected a list or comma-separated text, got {raw!r}")
    items = [item for item in items if item]
    if not items:
        raise _invalid(name, "must not be empty")
    return tuple(items)


def _as_mapping(name: str, raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _invalid(name, f"expected a JSON object: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise _invalid(name, f"expected a JSON object, got {raw!r}")
    return raw


_PARSERS = {
    "name_prefix": _as_str,
    "region": _as_optional_str,
    "instance_type": _as_str,
    "min_capacity": _as_int,
    "max_capacity": _as_int,
    "max_concurrent_invocations_per_instance": _as_int,
    "target_backlog_per_instance": _as_float,
    "invocation_timeout_s": _as_int,
    "request_ttl_s": _as_int,
    "detector": _as_str,
    "weights": _as_optional_str,
    "stride": _as_int,
    "classes": _as_str_tuple,
    "annotate": _as_bool,
    "preview": _as_bool,
    "tracker": _as_mapping,
    "input_prefix": _as_str,
    "video_suffixes": _as_str_tuple,
    "max_video_bytes": _as_int,
    "manifest_retention_days": _as_int,
    "failure_retention_days": _as_int,
    "log_retention_days": _as_int,
    "removal_policy": _as_str,
    "alarm_email": _as_optional_str,
    "oldest_request_alarm_s": _as_int,
    "submit_reserved_concurrency": _as_optional_int,
    "account_concurrency_limit": _as_int,
    "base_image_digest": _as_optional_str,
    "noncurrent_version_retention_days": _as_int,
    "async_output_retention_days": _as_int,
    "results_retention_days": _as_optional_int,
    "job_retention_days": _as_optional_int,
    "segment_threshold_s": _as_int,
    "segment_overlap_s": _as_int,
    "training": _as_bool,
}


def _require(condition: bool, setting: str, problem: str) -> None:
    if not condition:
        raise _invalid(setting, problem)


def _validate(s: Settings) -> list[tuple[str, str]]:
    """Every problem with the settings, as (setting, problem) pairs; empty when all is well."""
    problems: list[tuple[str, str]] = []

    def _require(condition: bool, setting: str, problem: str) -> None:
        if not condition:
            problems.append((setting, problem))

    _require(
        bool(_NAME_PREFIX.match(s.name_prefix)),
        "name_prefix",
        f"{s.name_prefix!r} must be 2-20 lower-case letters, digits or single hyphens, "
        "starting with a letter",
    )
    _require(
        s.region is None or bool(_REGION.match(s.region)),
        "region",
        f"{s.region!r} is not an AWS region name such as 'eu-west-1'",
    )
    _require(
        bool(_INSTANCE_TYPE.match(s.instance_type)),
        "instance_type",
        f"{s.instance_type!r} is not of the form ml.<family>.<size>, e.g. ml.g4dn.xlarge",
    )
    _require(s.min_capacity >= 0, "min_capacity", f"must be 0 or more, got {s.min_capacity}")
    _require(s.max_capacity >= 1, "max_capacity", f"must be 1 or more, got {s.max_capacity}")
    _require(
        s.max_capacity >= s.min_capacity,
        "max_capacity",
        f"({s.max_capacity}) must not be less than min_capacity ({s.min_capacity})",
    )
    _require(
        s.segment_threshold_s >= 1,
        "segment_threshold_s",
        f"must be 1 or more seconds, got {s.segment_threshold_s}",
    )
    _require(
        0 <= s.segment_overlap_s < s.segment_threshold_s,
        "segment_overlap_s",
        f"must be between 0 and segment_threshold_s - 1 seconds, got {s.segment_overlap_s}",
    )
    _require(
        s.max_concurrent_invocations_per_instance >= 1,
        "max_concurrent_invocations_per_instance",
        f"must be 1 or more, got {s.max_concurrent_invocations_per_instance}",
    )
    _require(
        s.target_backlog_per_instance > 0,
        "target_backlog_per_instance",
        f"must be above 0, got {s.target_backlog_per_instance}",
    )
    _require(
        1 <= s.invocation_timeout_s <= MAX_INVOCATION_TIMEOUT_S,
        "invocation_timeout_s",
        f"must be between 1 and {MAX_INVOCATION_TIMEOUT_S} seconds, got {s.invocation_timeout_s}",
    )
    _require(
        MIN_REQUEST_TTL_S <= s.request_ttl_s <= MAX_REQUEST_TTL_S,
        "request_ttl_s",
        f"must be between {MIN_REQUEST_TTL_S} and {MAX_REQUEST_TTL_S} seconds, "
        f"got {s.request_ttl_s}",
    )
    _require(
        s.detector in KNOWN_DETECTORS,
        "detector",
        f"unknown detector {s.detector!r}; known: {', '.join(KNOWN_DETECTORS)}",
    )
    try:
        _validate_weights(s)
    except SettingsError as error:
        problems.extend(error.problems)
    if _INSTANCE_TYPE.match(s.instance_type):
        instance_problem = unsupported_instance_type(s.instance_type)
        _require(instance_problem is None, "instance_type", instance_problem or "")
    _require(s.stride >= 1, "stride", f"must be 1 or more, got {s.stride}")
    _require(bool(s.classes), "classes", "must name at least one class")
    _require(
        s.input_prefix.endswith("/") and not s.input_prefix.startswith("/"),
        "input_prefix",
        f"{s.input_prefix!r} must be a key prefix ending in '/' such as 'videos/'",
    )
    _require(
        all(re.fullmatch(r"\.[a-z0-9]+", suffix) for suffix in s.video_suffixes),
        "video_suffixes",
        f"{list(s.video_suffixes)} must be lower-case extensions starting with '.'",
    )
    _require(
        s.max_video_bytes >= 1, "max_video_bytes", f"must be 1 or more, got {s.max_video_bytes}"
    )
    for name in (
        "manifest_retention_days",
        "failure_retention_days",
        "noncurrent_version_retention_days",
        "async_output_retention_days",
        "results_retention_days",
        "job_retention_days",
    ):
        days = getattr(s, name)
        _require(days is None or days >= 1, name, f"must be 1 or more days, got {days}")
    _require(
        s.log_retention_days in LOG_RETENTION_DAYS,
        "log_retention_days",
        f"{s.log_retention_days} is not one CloudWatch Logs accepts: "
        f"{', '.join(map(str, LOG_RETENTION_DAYS))}",
    )
    _require(
        s.removal_policy in REMOVAL_POLICIES,
        "removal_policy",
        f"{s.removal_policy!r} must be one of {', '.join(REMOVAL_POLICIES)}",
    )
    _require(
        s.alarm_email is None or bool(_EMAIL.match(s.alarm_email)),
        "alarm_email",
        f"{s.alarm_email!r} is not an email address",
    )
    _require(
        s.oldest_request_alarm_s >= 60,
        "oldest_request_alarm_s",
        f"must be 60 seconds or more, got {s.oldest_request_alarm_s}",
    )
    _require(
        s.account_concurrency_limit >= 1,
        "account_concurrency_limit",
        f"must be 1 or more, got {s.account_concurrency_limit}",
    )
    reserve_problem = reserved_concurrency_problem(
        s.submit_reserved_concurrency, s.account_concurrency_limit
    )
    _require(reserve_problem is None, "submit_reserved_concurrency", reserve_problem or "")
    _require(
        s.base_image_digest is None or bool(_DIGEST.match(s.base_image_digest)),
        "base_image_digest",
        f"{s.base_image_digest!r} is not an image digest such as 'sha256:<64 hex digits>'",
    )
    return problems


def reserved_concurrency_problem(reserved: int | None, account_limit: int) -> str | None:
    """Lambda's documented rule: reserving must leave at least 100 executions unreserved.

    Accounts with the default quota of 1,000 can reserve up to 900; new accounts often have a
    quota of 10 or 50 and can reserve nothing (leave ``submit_reserved_concurrency`` unset).
    """
    if reserved is None:
        return None
    if reserved < 1:
        return f"must be 1 or more (or unset), got {reserved}"
    room = account_limit - LAMBDA_MIN_UNRESERVED_CONCURRENCY
    if reserved > room:
        return (
            f"{reserved} would leave fewer than {LAMBDA_MIN_UNRESERVED_CONCURRENCY} unreserved "
            f"executions in an account whose concurrency limit is {account_limit} "
            f"(account_concurrency_limit); reserve at most {max(room, 0)}, or leave it unset"
        )
    return None


def _validate_weights(s: Settings) -> None:
    if s.weights is not None and s.weights.startswith("s3://"):
        _require(
            s.model_artifact_s3 is not None,
            "weights",
            f"{s.weights!r} must be s3://<bucket>/<key>.tar.gz, e.g. a training job's "
            "runs/<job>/output/model.tar.gz",
        )
        return
    suffixes = YOLOX_WEIGHT_SUFFIXES.get(s.detector)
    if suffixes is None:
        _require(
            s.weights is None,
            "weights",
            f"{s.detector} uses the bundled weights; leave 'weights' unset",
        )
        return
    if s.weights is None and s.detector in BUNDLED_WEIGHTS:
        return
    _require(
        s.weights is not None,
        "weights",
        f"detector {s.detector} needs a weights file ({' or '.join(suffixes)})",
    )
    path = Path(s.weights)  # type: ignore[arg-type]
    _require(
        path.suffix.lower() in suffixes,
        "weights",
        f"{s.weights!r} must end in {' or '.join(suffixes)} for detector {s.detector}",
    )
    _require(path.is_file(), "weights", f"file not found: {s.weights}")
