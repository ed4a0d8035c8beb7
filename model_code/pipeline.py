"""One video in, tracks out: streamed strided decode, batched detection, ByteTrack, writers."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from model_code import __version__, detectors
from model_code.detectors import DEFAULT_DETECTOR, Detector, DetectorError, build_detector
from model_code.results import (
    ANNOTATED_MP4,
    SUMMARY_JSON,
    TRACKS_JSONL,
    TRACKS_MOT,
    AnnotatedVideoWriter,
    JsonlWriter,
    MotWriter,
    write_summary,
)
from model_code.tracking import ByteTracker, TrackerConfig
from model_code.video import VideoReader

MAX_BATCH_SIZE = 64
# Frames per detector call when the options do not say: each detector class carries its own
# measured default (`default_batch_size`); an unknown name falls back here and fails later.
FALLBACK_BATCH_SIZE = 8


def default_batch_size(detector: str) -> int:
    try:
        return detectors.default_batch_size(detector)
    except DetectorError:
        return FALLBACK_BATCH_SIZE


class OptionsError(ValueError):
    """Bad tracking options; the message names the option and what is allowed."""


def _whole_number(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionsError(f"option '{name}' must be a whole number, got {value!r}")
    if value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"between {low} and {high}"
        raise OptionsError(f"option '{name}' must be {allowed}, got {value}")
    return value


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


@dataclass(frozen=True)
class TrackOptions:
    """What a job may choose. Build from untrusted input with `TrackOptions.from_dict`."""

    detector: str = DEFAULT_DETECTOR
    stride: int = 1
    classes: tuple[str, ...] = ("person",)
    annotate: bool = False
    score_threshold: float = 0.1
    batch_size: int | None = None
    tracker: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.batch_size is None:
            object.__setattr__(self, "batch_size", default_batch_size(self.detector))

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any] | None, base: TrackOptions | None = None
    ) -> TrackOptions:
        """Options from a mapping laid over `base` (the defaults when None).

        Unknown keys are rejected by name; `tracker` settings are merged into the base's.
        A `batch_size` of None (or a new detector without one) means the detector's default.
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
        annotate = data["annotate"]
        if not isinstance(annotate, bool):
            raise OptionsError(f"option 'annotate' must be true or false, got {annotate!r}")
        score = data["score_threshold"]
        if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
            raise OptionsError(f"option 'score_threshold' must be within 0..1, got {score!r}")
        return cls(
            detector=detector.strip(),
            stride=_whole_number("stride", data["stride"], 1),
            classes=_classes(data["classes"]),
            annotate=annotate,
            score_threshold=float(score),
            batch_size=(
                default_batch_size(detector.strip())
                if data["batch_size"] is None
                else _whole_number("batch_size", data["batch_size"], 1, MAX_BATCH_SIZE)
            ),
            tracker=_tracker_overrides(data["tracker"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "stride": self.stride,
            "classes": list(self.classes),
            "annotate": self.annotate,
            "score_threshold": self.score_threshold,
            "batch_size": self.batch_size,
            "tracker": dict(self.tracker),
        }


class _StageClock:
    def __init__(self) -> None:
        self.seconds = {"decode_s": 0.0, "detect_s": 0.0, "track_s": 0.0, "write_s": 0.0}

    def add(self, stage: str, started: float) -> None:
        self.seconds[stage] += time.perf_counter() - started


def _batches(
    frames: Iterator[tuple[int, np.ndarray]], size: int, clock: _StageClock
) -> Iterator[list[tuple[int, np.ndarray]]]:
    batch: list[tuple[int, np.ndarray]] = []
    while True:
        started = time.perf_counter()
        item = next(frames, None)
        clock.add("decode_s", started)
        if item is None:
            break
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def detector_for(options: TrackOptions, weights: str | Path | None = None) -> Detector:
    """The detector the options name, built with their class filter and score threshold."""
    return build_detector(
        options.detector,
        weights_dir=weights,
        classes=options.classes,
        score_threshold=options.score_threshold,
    )


def track_video(
    video_path: str | Path,
    out_dir: str | Path,
    options: TrackOptions | None = None,
    detector: Detector | None = None,
    job_id: str | None = None,
) -> dict[str, Any]:
    """Track one video into `out_dir` (tracks.txt, tracks.jsonl, summary.json, annotated.mp4).

    Returns the summary (see docs/ARCHITECTURE.md); artifact entries are local paths.
    Raises `VideoError` for unusable video and `OptionsError` for bad options.
    """
    started = time.perf_counter()
    options = options or TrackOptions()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clock = _StageClock()
    with VideoReader(video_path, stride=options.stride) as video:
        info = video.info
        if detector is None:
            detector = detector_for(options)
        effective_fps = info.fps / options.stride
        tracker = ByteTracker(TrackerConfig.from_dict(options.tracker), frame_rate=effective_fps)
        paths = {
            "tracks_mot": out_dir / TRACKS_MOT,
            "tracks_jsonl": out_dir / TRACKS_JSONL,
            "annotated": out_dir / ANNOTATED_MP4 if options.annotate else None,
            "summary": out_dir / SUMMARY_JSON,
        }
        frames_processed = 0
        with (
            MotWriter(paths["tracks_mot"]) as mot,
            JsonlWriter(paths["tracks_jsonl"], info.fps, detector.class_names) as jsonl,
        ):
            annotated = (
                AnnotatedVideoWriter(paths["annotated"], info.width, info.height, effective_fps)
                if options.annotate
                else None
            )
            try:
                for batch in _batches(iter(video), options.batch_size, clock):
                    t = time.perf_counter()
                    detections = detector.detect([image for _, image in batch])
                    clock.add("detect_s", t)
                    for (frame_number, image), found in zip(batch, detections, strict=True):
                        t = time.perf_counter()
                        tracked = tracker.update(found.boxes, found.scores, found.labels)
                        clock.add("track_s", t)
                        t = time.perf_counter()
                        mot.write(frame_number, tracked.ids, tracked.boxes, tracked.scores)
                        jsonl.write(
                            frame_number, tracked.ids, tracked.boxes, tracked.scores, tracked.labels
                        )
                        if annotated is not None:
                            annotated.write(image, tracked.ids, tracked.boxes)
                        clock.add("write_s", t)
                        frames_processed += 1
            finally:
                if annotated is not None:
                    t = time.perf_counter()
                    annotated.close()
                    clock.add("write_s", t)
        warnings = list(video.warnings)
        frames_decoded = video.frames_read
    runtime = detector.runtime()
    if runtime.get("warning"):
        warnings.append(runtime["warning"])

    timings = {key: round(value, 3) for key, value in clock.seconds.items()}
    summary: dict[str, Any] = {
        "job_id": job_id,
        "status": "SUCCEEDED",
        "video": {**info.to_dict(), "frames": info.frame_count or frames_decoded},
        "options": options.to_dict(),
        "counts": {
            "frames_processed": frames_processed,
            "frames_decoded": frames_decoded,
            "tracks": len(mot.track_ids),
            "detections": mot.rows,
        },
        "timings": {"download_s": 0.0, **timings, "total_s": 0.0},
        "artifacts": {name: str(path) if path else None for name, path in paths.items()},
        "versions": {"motflow": __version__, "detector": detector.name, "tracker": "bytetrack"},
        "detector": runtime,
        "warnings": warnings,
    }
    summary["timings"]["total_s"] = round(time.perf_counter() - started, 3)
    write_summary(paths["summary"], summary)
    return summary
