"""The engine behind the model server: load the model once, turn one request into one reply.

`load_model` reads the model directory (config.json, weights) and builds the default detector;
`handle` answers one `/invocations` request. The server (model_code/serving) calls both, once per
worker process and once per request.

Requests are a job manifest (`application/json`, the async path: the video is streamed from S3 and
the artifacts are written under the manifest's output prefix) or a raw video body (`video/*` or
`application/octet-stream`: the tracks come back inline). Both become a `Job` (model_code/jobs.py:
a source to fetch, an output to publish to) and run through the same `run_job`. Problems with the
request come back as HTTP 400 (415 for an unsupported content type) with a message meant for the
caller; anything else is a 500 whose body starts with the exception's name.
"""

from __future__ import annotations

import functools
import json
import logging
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from model_code.claims import claim_attempt, duplicate_reply
from model_code.detectors import Detector, DetectorError
from model_code.jobs import InlineOutput, Job, RequestBody, S3Output, S3Video, run_job
from model_code.pipeline import OptionsError, TrackOptions, detector_for
from model_code.storage import StorageError, parse_s3_uri
from model_code.tracking import TrackerConfigError
from model_code.tracking.presets import ScoreFractions, scaled_preset
from model_code.video import VideoError

LOG = logging.getLogger(__name__)
CONFIG_FILE = "config.json"
CONFIG_KEYS = ("detector", "weights", "options", "tracker", "score_scale")
MANIFEST_KEYS = (
    "job_id",
    "video",
    "video_version",
    "output",
    "options",
    "attempt",
    "segment",
    "stitch",
)
JSON_TYPE = "application/json"
RAW_VIDEO_TYPES = {
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/x-msvideo": ".avi",
    "video/avi": ".avi",
    "video/x-matroska": ".mkv",
    "video/webm": ".webm",
    "application/octet-stream": ".video",
}
MAX_JOB_ID_LENGTH = 256
CACHED_DETECTORS = 4

F = TypeVar("F", bound=Callable[..., Any])


class HttpError(Exception):
    """A reply with an error status: `status` and a one-line message for the caller."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str


class RequestError(ValueError):
    """A request the handler cannot accept (bad manifest, bad content type, empty body)."""


class UnsupportedContentType(RequestError):
    pass


class ModelConfigError(ValueError):
    """A broken model directory: unreadable config.json or missing weights."""


CALLER_ERRORS = (
    RequestError,
    OptionsError,
    VideoError,
    StorageError,
    DetectorError,
    TrackerConfigError,
)


def _as_http_errors(function: F) -> F:
    """Caller mistakes become 400 (415 for the content type) with the message first.

    Anything else propagates, and `handle` answers 500 with its name and message.
    """

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except UnsupportedContentType as error:
            raise HttpError(415, str(error)) from error
        except CALLER_ERRORS as error:
            raise HttpError(400, str(error)) from error

    return wrapper  # type: ignore[return-value]


@dataclass
class EngineModel:
    """What `load_model` returns: the defaults from config.json and the detectors built so far."""

    defaults: TrackOptions
    weights: Path | None = None
    _detectors: dict[tuple, Detector] = field(default_factory=dict)

    def detector(self, options: TrackOptions) -> Detector:
        """A detector for the options, built once per (name, classes, score threshold)."""
        key = (options.detector, options.classes, options.score_threshold)
        if key not in self._detectors:
            weights = self.weights if options.detector == self.defaults.detector else None
            built = detector_for(options, weights)
            if len(self._detectors) >= CACHED_DETECTORS:
                self._detectors.pop(next(iter(self._detectors)))
            self._detectors[key] = built
        return self._detectors[key]


def read_model_config(model_dir: str | Path) -> dict[str, Any]:
    """config.json from the model directory; an absent file means all defaults."""
    path = Path(model_dir) / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelConfigError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(config, dict):
        raise ModelConfigError(f"{path} must hold a JSON object")
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise ModelConfigError(
            f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(CONFIG_KEYS)}"
        )
    for key in ("options", "tracker"):
        if key in config and not isinstance(config[key], dict):
            raise ModelConfigError(f"{path}: '{key}' must be a JSON object")
    scale = config.get("score_scale")
    if scale is not None and (
        isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 < scale <= 1
    ):
        raise ModelConfigError(f"{path}: 'score_scale' must be a number in (0, 1], got {scale!r}")
    return config


def scaled_tracker(score_scale: float) -> dict[str, float]:
    """The tracker settings of `scaled_preset(score_scale)` that depend on the score scale: the
    defaults for a model whose config.json says where its scores top out (a fine-tuned one)."""
    preset = scaled_preset(score_scale)
    return {name: getattr(preset, name) for name in (*ScoreFractions().thresholds(), "score_scale")}


def load_model(model_dir: str | Path) -> EngineModel:
    """Read config.json, build the default detector once, return the engine model."""
    config = read_model_config(model_dir)
    defaults: dict[str, Any] = dict(config.get("options") or {})
    if "detector" in config:
        defaults["detector"] = config["detector"]
    scaled = scaled_tracker(config["score_scale"]) if config.get("score_scale") else {}
    if scaled or config.get("tracker"):
        tracker = {**scaled, **(config.get("tracker") or {})}
        defaults["tracker"] = {**tracker, **defaults.get("tracker", {})}
    options = TrackOptions.from_dict(defaults)
    weights = None
    if config.get("weights"):
        weights = Path(model_dir) / str(config["weights"])
        if not weights.exists():
            raise ModelConfigError(f"the model directory has no weights at {weights}")
    model = EngineModel(defaults=options, weights=weights)
    model.detector(options)
    return model


def _base_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _manifest(data: Any) -> Job:
    if not isinstance(data, dict):
        raise RequestError("the job manifest must be a JSON object")
    unknown = sorted(set(data) - set(MANIFEST_KEYS))
    if unknown:
        raise RequestError(
            f"unknown manifest field(s): {', '.join(unknown)}; known: {', '.join(MANIFEST_KEYS)}"
        )
    missing = [key for key in ("job_id", "video", "output") if key not in data]
    if missing:
        raise RequestError(f"the job manifest is missing {', '.join(missing)}")
    job_id = data["job_id"]
    if (
        not isinstance(job_id, str)
        or not job_id.strip()
        or len(job_id) > MAX_JOB_ID_LENGTH
        or any(c.isspace() or c == "/" for c in job_id)
    ):
        raise RequestError(
            f"job_id must be a non-empty string without spaces or '/', got {job_id!r}"
        )
    parse_s3_uri(data["video"])
    parse_s3_uri(data["output"], prefix=True)
    version = data.get("video_version")
    if version is not None and (not isinstance(version, str) or not version.strip()):
        raise RequestError(
            f"video_version must be the video's S3 version id or ETag, got {version!r}"
        )
    attempt = data.get("attempt", 1)
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise RequestError(f"attempt must be a whole number >= 1, got {attempt!r}")
    options = data.get("options") or {}
    TrackOptions.from_dict(options)
    source = S3Video(data["video"], version)
    segment, stitch = _segment(data.get("segment")), _stitch(data.get("stitch"))
    return Job(job_id, source, S3Output(data["output"]), dict(options), attempt, segment, stitch)


def _segment(value: Any) -> dict[str, Any] | None:
    """A long video's segment ``{index, start_s, end_s}`` (lambdas/segments.py writes it)."""
    if value is None:
        return None
    try:
        index, start, end = int(value["index"]), float(value["start_s"]), float(value["end_s"])
    except (TypeError, KeyError, ValueError):
        raise RequestError(
            f"segment must be {{index, start_s, end_s}} with numbers, got {value!r}"
        ) from None
    if index < 0 or not 0 <= start < end:
        raise RequestError(f"segment needs index >= 0 and 0 <= start_s < end_s, got {value!r}")
    return {"index": index, "start_s": start, "end_s": end}


def _stitch(value: Any) -> tuple[str, ...]:
    """A parent job's segment result prefixes, in time order."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) < 2:
        raise RequestError(f"stitch must list at least two segment result prefixes, got {value!r}")
    for prefix in value:
        parse_s3_uri(prefix, prefix=True)
    return tuple(value)


def raw_body_job(body: bytes, suffix: str) -> Job:
    """A direct invocation: the video is the body, the tracks go back in the reply."""
    job_id = f"direct-{uuid.uuid4().hex[:12]}"
    return Job(job_id, RequestBody(body, suffix), InlineOutput())


@_as_http_errors
def parse_request(body: str | bytes, content_type: str) -> Job:
    """A job manifest (JSON) or a raw video body, validated before any work starts."""
    base = _base_type(content_type)
    if base == JSON_TYPE:
        text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise RequestError(f"the job manifest is not valid JSON: {error}") from error
        return _manifest(data)
    if base in RAW_VIDEO_TYPES or base.startswith("video/"):
        payload = body.encode() if isinstance(body, str) else bytes(body or b"")
        if not payload:
            raise RequestError("the request body is empty: send the video bytes")
        return raw_body_job(payload, RAW_VIDEO_TYPES.get(base, ".video"))
    raise UnsupportedContentType(
        f"unsupported content type {content_type!r}: send a job manifest as application/json "
        "or a video as video/* (or application/octet-stream)"
    )


@_as_http_errors
def run_request(job: Job, model: EngineModel) -> dict[str, Any]:
    """Check the options, claim the attempt (a duplicate request stops here), fetch the video,
    track it and publish the results as the job's output says."""
    options = TrackOptions.from_dict(job.options, base=model.defaults)
    detector = model.detector(options)
    if isinstance(job.output, S3Output) and job.job_id:
        winner = claim_attempt(job.output.prefix, job.job_id, job.attempt)
        if winner is not None:
            return duplicate_reply(job.job_id, job.attempt, winner)
    with tempfile.TemporaryDirectory(prefix="motflow-job-") as work_dir:
        work = Path(work_dir)
        (work / "input").mkdir()
        return run_job(job, options, detector, work / "input", work / "results")


def handle(model: EngineModel, body: bytes, content_type: str | None) -> Reply:
    """One `/invocations` request: the summary as JSON, or an error status with its message.

    The reply is always JSON whatever the request's Accept says. An unexpected exception is a 500
    whose body is ``<ExceptionName>: <message>`` (the traceback goes to the log only).
    """
    try:
        job = parse_request(body, content_type or "")
        summary = run_request(job, model)
    except HttpError as error:
        return Reply(error.status, error.message.encode("utf-8"), "text/plain; charset=utf-8")
    except Exception as error:
        LOG.exception("invocation failed")
        text = f"{type(error).__name__}: {error}"
        return Reply(500, text.encode("utf-8"), "text/plain; charset=utf-8")
    return Reply(200, json.dumps(summary).encode("utf-8"), JSON_TYPE)
