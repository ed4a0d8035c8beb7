"""One video in, tracks out: streamed strided decode (overlapped with detection on a thread when
`prefetch` > 0), batched detection, ByteTrack in frame order, and the sinks the caller gives."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from model_code.analytics.spec import AnalyticsSpec, SpecError, parse_spec
from model_code.boxes import clip_xyxy
from model_code.detectors import DEFAULT_DETECTOR, Detector, build_detector
from model_code.prefetch import BatchFeed, preparation
from model_code.progress import ProgressCallback
from model_code.results import TRACK_FRAMES, SinkFactory, StreamFacts
from model_code.tracking import (
    ByteTracker,
    TrackedObjects,
    TrackerConfig,
    tracker_config,
    upright_labels,
)
from model_code.video import VideoReader

MAX_BATCH_SIZE = 64
# Frames per detector call for a detector class without `default_batch_size`.
FALLBACK_BATCH_SIZE = 8
MAX_PREFETCH = 8
# The largest stride: past it a job would sample one frame in hours of video.
MAX_STRIDE = 10_000
# Batches decoded ahead on the decode thread; 0 decodes on the tracking thread (docs/BENCHMARKS.md).
DEFAULT_PREFETCH = 2


class OptionsError(ValueError):
    """Bad tracking options; the message names the option and what is allowed."""


def _whole_number(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionsError(f"option '{name}' must be a whole number, got {value!r}")
    if value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"between {low} and {high}"
        raise OptionsError(f"option '{name}' must be {allowed}, got {value}")
    return value


def _stride(value: Any) -> int:
    stride = _whole_number("stride", value, 1)
    if stride > MAX_STRIDE:
        raise OptionsError(f"option 'stride' must be <= {MAX_STRIDE}, got {stride}")
    return stride


def _classes(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(c, str) for c in items):
        raise OptionsError(f"option 'classes' must be a list of class names, got {value!r}")
    names = tuple(c.strip() for c in items if c.strip())
    if not names:
        raise OptionsError("option 'classes' must name at least one class, e.g. [\"person\"]")
    return names


def _tracker_overrides(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise OptionsError(f"option 'tracker' must be an object of tracker settings, got {value!r}")
    try:
        TrackerConfig.from_dict(value)
    except ValueError as error:
        raise OptionsError(str(error)) from error
    return dict(value)


def _analytics(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        parse_spec(value)
    except SpecError as error:
        raise OptionsError(str(error)) from error
    return dict(value)


@dataclass(frozen=True)
class TrackOptions:
    """What a job may choose. Build from untrusted input with `TrackOptions.from_dict`."""

    detector: str = DEFAULT_DETECTOR
    stride: int = 1
    classes: tuple[str, ...] = ("person",)
    annotate: bool = False
    # preview.mp4: annotated, small and cheap (model_code/preview.py); deployments turn it on.
    preview: bool = False
    # tracks.json boxes per track: "sampled" along its path or "all" (model_code/results.py).
    track_frames: str = "sampled"
    score_threshold: float = 0.1
    batch_size: int | None = None
    prefetch: int = DEFAULT_PREFETCH
    tracker: dict[str, Any] = field(default_factory=dict)
    # The analytics spec (model_code/analytics/spec.py) as given; None: no analytics.json.
    analytics: dict[str, Any] | None = None

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any] | None, base: TrackOptions | None = None
    ) -> TrackOptions:
        """Options from a mapping laid over `base` (the defaults when None).

        Unknown keys are rejected by name; `tracker` settings are merged into the base's.
        A `batch_size` of None (also after a new detector without one) means the detector's
        default, settled by `for_detector` once the detector is built.
        """
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise OptionsError(f"options must be a JSON object, got {type(data).__name__}")
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise OptionsError(
                f"unknown option(s): {', '.join(map(str, unknown))}; known: {', '.join(known)}"
            )
        merged = (base or cls()).to_dict()
        if "detector" in data and "batch_size" not in data:
            merged["batch_size"] = None
        merged.update({k: v for k, v in data.items() if k != "tracker"})
        merged["tracker"] = {**merged["tracker"], **_tracker_overrides(data.get("tracker", {}))}
        return cls._validated(merged)

    @classmethod
    def _validated(cls, data: dict[str, Any]) -> TrackOptions:
        detector = data["detector"]
        if not isinstance(detector, str) or not detector.strip():
            raise OptionsError(f"option 'detector' must be a detector name, got {detector!r}")
        for name in ("annotate", "preview"):
            if not isinstance(data[name], bool):
                raise OptionsError(f"option '{name}' must be true or false, got {data[name]!r}")
        if data["track_frames"] not in TRACK_FRAMES:
            allowed = " or ".join(TRACK_FRAMES)
            raise OptionsError(
                f"option 'track_frames' must be {allowed}, got {data['track_frames']!r}"
            )
        score = data["score_threshold"]
        if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
            raise OptionsError(f"option 'score_threshold' must be within 0..1, got {score!r}")
        return cls(
            detector=detector.strip(),
            stride=_stride(data["stride"]),
            classes=_classes(data["classes"]),
            annotate=data["annotate"],
            preview=data["preview"],
            track_frames=data["track_frames"],
            score_threshold=float(score),
            batch_size=(
                None
                if data["batch_size"] is None
                else _whole_number("batch_size", data["batch_size"], 1, MAX_BATCH_SIZE)
            ),
            prefetch=_whole_number("prefetch", data["prefetch"], 0, MAX_PREFETCH),
            tracker=_tracker_overrides(data["tracker"]),
            analytics=_analytics(data.get("analytics")),
        )

    def to_dict(self) -> dict[str, Any]:
        """The options as JSON data; `analytics` only when a spec is set."""
        out = {
            "detector": self.detector,
            "stride": self.stride,
            "classes": list(self.classes),
            "annotate": self.annotate,
            "preview": self.preview,
            "track_frames": self.track_frames,
            "score_threshold": self.score_threshold,
            "batch_size": self.batch_size,
            "prefetch": self.prefetch,
            "tracker": dict(self.tracker),
        }
        if self.analytics is not None:
            out["analytics"] = dict(self.analytics)
        return out

    def analytics_spec(self) -> AnalyticsSpec | None:
        """The parsed analytics spec, or None without one."""
        return parse_spec(self.analytics) if self.analytics is not None else None

    def for_detector(self, detector: Detector) -> TrackOptions:
        """These options with the batch size settled when unset: the detector's own `batch_size`
        (it may depend on the device), else its class's `default_batch_size`, else 8."""
        if self.batch_size is not None:
            return self
        default = getattr(detector, "batch_size", None) or getattr(
            detector, "default_batch_size", FALLBACK_BATCH_SIZE
        )
        return replace(self, batch_size=min(int(default), MAX_BATCH_SIZE))


def inside_picture(tracked: TrackedObjects, width: int, height: int) -> TrackedObjects:
    """`tracked` with boxes clipped to the picture (a coasted prediction can drift past the
    edge); a track whose box lies wholly outside is not reported on this frame."""
    boxes, inside = clip_xyxy(tracked.boxes, width, height)
    if inside.all():
        return replace(tracked, boxes=boxes)
    return TrackedObjects(
        tracked.ids[inside], boxes[inside], tracked.scores[inside], tracked.labels[inside]
    )


def detector_for(options: TrackOptions, weights: str | Path | None = None) -> Detector:
    """The detector the options name, built with their class filter and score threshold."""
    return build_detector(
        options.detector,
        weights_dir=weights,
        classes=options.classes,
        score_threshold=options.score_threshold,
    )


def detector_runtime(detector: Detector, options: TrackOptions) -> dict[str, Any]:
    """Where and how the detector ran (its `runtime()`, when it has one) and the batch size used."""
    report = getattr(detector, "runtime", None)
    facts = dict(report()) if callable(report) else {}
    return {**facts, "batch_size": options.batch_size}


@dataclass(frozen=True)
class TrackingRun:
    """What `track_video` did: the facts a summary reports, and nothing about the job."""

    video: dict[str, Any]
    options: TrackOptions
    detector: str
    runtime: dict[str, Any]
    frames_processed: int
    frames_decoded: int
    tracks: int
    detections: int
    timings: dict[str, float]
    seconds: float
    warnings: list[str]


def track_video(
    video_path: str | Path,
    sinks: SinkFactory,
    options: TrackOptions | None = None,
    detector: Detector | None = None,
    progress: ProgressCallback | None = None,
    window: tuple[float, float] | None = None,
) -> TrackingRun:
    """Track one video, feeding each processed frame's tracks to the sinks in frame order.

    `sinks` is called once with the video's facts, before the first frame; the sinks it returns
    are closed at the end, also on error. Raises `VideoError` for unusable video and
    `OptionsError` for bad options. `progress`, when given, is called once before the first
    batch (frame 0) and after every batch with the last processed source frame number, each
    time with the frame count the file declares. `window` (start_s, end_s) tracks only that
    time segment, with source frame numbers (a long video's segment).
    """
    started = time.perf_counter()
    options = options or TrackOptions()
    timings = dict.fromkeys(("decode_s", "decode_wait_s", "detect_s", "track_s", "write_s"), 0.0)
    frames_processed = detections = 0
    track_ids: set[int] = set()
    with (
        VideoReader(video_path, stride=options.stride, window=window) as video,
        contextlib.ExitStack() as stack,
    ):
        info = video.info
        detector = detector or detector_for(options)
        options = options.for_detector(detector)
        processed_fps = info.fps / options.stride
        tracker = ByteTracker(
            tracker_config(detector.name, options.tracker),
            frame_rate=processed_fps,
            upright_labels=upright_labels(detector.class_names),
            frame_height=info.height,
        )
        facts = StreamFacts(
            info.fps,
            info.width,
            info.height,
            processed_fps,
            detector.class_names,
            time_of=video.time_of,
            source=Path(video_path),
        )
        outputs = list(sinks(facts))
        for sink in reversed(outputs):
            stack.callback(_timed_close, sink, timings)
        prepare, detect = preparation(detector)
        assert options.batch_size is not None
        feed = stack.enter_context(
            BatchFeed(video, options.batch_size, prepare=prepare, depth=options.prefetch)
        )
        if progress is not None:
            progress(0, info.frame_count)
        for batch in feed:
            tick = time.perf_counter()
            found = detect(batch)
            timings["detect_s"] += time.perf_counter() - tick
            for number, image, frame_detections in zip(
                batch.numbers, batch.images, found, strict=True
            ):
                tick = time.perf_counter()
                tracked = tracker.update(
                    frame_detections.boxes, frame_detections.scores, frame_detections.labels
                )
                tracked = inside_picture(tracked, info.width, info.height)
                timings["track_s"] += time.perf_counter() - tick
                tick = time.perf_counter()
                for sink in outputs:
                    sink.write(number, image, tracked)
                timings["write_s"] += time.perf_counter() - tick
                frames_processed += 1
                detections += len(tracked.ids)
                track_ids.update(int(i) for i in tracked.ids)
            if progress is not None:
                progress(batch.numbers[-1], info.frame_count)
        feed.close()
        timings["decode_s"], timings["decode_wait_s"] = feed.produce_s, feed.wait_s
    runtime = detector_runtime(detector, options)
    return TrackingRun(
        video={**video.info.to_dict(), "frames_skipped": video.frames_skipped},
        options=options,
        detector=detector.name,
        runtime=runtime,
        frames_processed=frames_processed,
        frames_decoded=video.frames_read,
        tracks=len(track_ids),
        detections=detections,
        timings=timings,
        seconds=time.perf_counter() - started,
        # e.g. a GPU machine whose detector ended up on the CPU
        warnings=list(video.warnings) + ([runtime["warning"]] if runtime.get("warning") else []),
    )


def _timed_close(sink: Any, timings: dict[str, float]) -> None:
    tick = time.perf_counter()
    sink.close()
    timings["write_s"] += time.perf_counter() - tick
