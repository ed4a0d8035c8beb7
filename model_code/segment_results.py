"""Join the results of a long video's segments into the results a single-piece run writes.

Each segment folder holds that segment's tracks.jsonl (source frame numbers and times, local
ids) and summary.json. `join_segments` stitches the ids (model_code/stitch.py) and replays the
stitched frames through the same sinks a single-piece run feeds, so tracks.txt, tracks.jsonl
and tracks.json have the same format; the summary sums the segments' counts and timings and
adds ``segments`` (count, border ID switches, per-border matches). Given the source video, the
frames are decoded again for the annotated video, so its ids are the stitched ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model_code.boxes import xywh_to_xyxy
from model_code.results import SUMMARY_JSON, TRACKS_JSONL, SinkFactory, StreamFacts
from model_code.stitch import stitch
from model_code.video import TRUNCATION_MARK, VideoReader


@dataclass(frozen=True)
class SegmentResult:
    frames: list[int]  # every processed frame, with or without objects
    times: dict[int, float]
    rows: np.ndarray  # [frame, id, x, y, w, h, score, label index]
    summary: dict[str, Any]


@dataclass(frozen=True)
class _Frame:
    ids: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray


def read_segment(folder: Path, labels: list[str]) -> SegmentResult:
    """One segment's processed frames and rows; label names are indexed into `labels`."""
    frames: list[int] = []
    times: dict[int, float] = {}
    rows: list[list[float]] = []
    with (folder / TRACKS_JSONL).open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            frame = int(record["frame"])
            frames.append(frame)
            times[frame] = float(record["t"])
            for found in record["objects"]:
                if found["label"] not in labels:
                    labels.append(found["label"])
                rows.append(
                    [
                        frame,
                        found["id"],
                        *found["box"],
                        found["score"],
                        labels.index(found["label"]),
                    ]
                )
    summary = json.loads((folder / SUMMARY_JSON).read_text(encoding="utf-8"))
    array = np.asarray(rows, dtype=np.float64) if rows else np.zeros((0, 8))
    return SegmentResult(frames, times, array, summary)


def join_segments(
    folders: Sequence[Path], sinks: SinkFactory, source: Path | None = None
) -> dict[str, Any]:
    """Stitch the segments (in time order) into `sinks`; returns the summary's run facts.
    With the `source` video, the sinks get its frames too (an annotated video)."""
    labels: list[str] = []
    parts = [read_segment(folder, labels) for folder in folders]
    spans = [(p.frames[0], p.frames[-1]) if p.frames else (np.inf, -np.inf) for p in parts]
    result = stitch([p.rows for p in parts], spans)
    frames: list[int] = []
    times: dict[int, float] = {}
    low = -np.inf
    for part, cut in zip(parts, result.cuts, strict=True):
        frames += [f for f in part.frames if low < f <= cut]
        times.update(part.times)
        low = cut
    first = parts[0].summary
    video = dict(first.get("video") or {})
    fps = float(video.get("fps") or 0.0) or 30.0
    stride = int((first.get("options") or {}).get("stride") or 1)
    facts = StreamFacts(
        fps,
        int(video.get("width") or 0),
        int(video.get("height") or 0),
        fps / stride,
        labels,
        time_of=lambda frame: times.get(frame, (frame - 1) / fps),
    )
    outputs = list(sinks(facts))
    by_frame = {}
    if len(result.rows):
        splits = np.flatnonzero(np.diff(result.rows[:, 0])) + 1
        by_frame = {int(chunk[0, 0]): chunk for chunk in np.split(result.rows, splits)}
    empty = np.zeros((0, 8))
    images = _SourceFrames(source, stride, facts) if source else None
    image = np.zeros((1, 1, 3), dtype=np.uint8)
    try:
        for frame in frames:
            if images is not None:
                image = images.image(frame)
            chunk = by_frame.get(frame, empty)
            tracks = _Frame(
                chunk[:, 1].astype(np.int64),
                xywh_to_xyxy(chunk[:, 2:6]),
                chunk[:, 6],
                chunk[:, 7].astype(np.int64),
            )
            for sink in outputs:
                sink.write(frame, image, tracks)
    finally:
        if images is not None:
            images.close()
        for sink in outputs:
            sink.close()
    return _summary(parts, result, frames)


class _SourceFrames:
    """The source video's images by increasing frame number (black for a frame the decoder
    skipped as damaged), decoded once, in step with the stitched frames."""

    def __init__(self, video: Path, stride: int, facts: StreamFacts) -> None:
        self._reader = VideoReader(video, stride=stride)
        self._decoded: Iterator[tuple[int, np.ndarray]] = iter(self._reader)
        self._blank = np.zeros((max(facts.height, 1), max(facts.width, 1), 3), dtype=np.uint8)
        self._number, self._image = -1, self._blank

    def image(self, frame: int) -> np.ndarray:
        while self._number < frame:
            self._number, self._image = next(self._decoded, (frame + 1, self._blank))
        return self._image if self._number == frame else self._blank

    def close(self) -> None:
        self._reader.close()


def _parent_warnings(parts: list[SegmentResult]) -> list[str]:
    """The segments' warnings, each once; of the truncation warnings (every segment the file
    ends in or before has one) only the first segment's: it says where the video stopped."""
    warnings: list[str] = []
    truncated = False
    for part in parts:
        for warning in part.summary.get("warnings") or []:
            if TRUNCATION_MARK in warning:
                if truncated:
                    continue
                truncated = True
            if warning not in warnings:
                warnings.append(warning)
    return warnings


def _summary(parts: list[SegmentResult], result: Any, frames: list[int]) -> dict[str, Any]:
    first = parts[0].summary
    timings: dict[str, float] = {}
    for part in parts:
        for stage, seconds in (part.summary.get("timings") or {}).items():
            timings[stage] = round(timings.get(stage, 0.0) + float(seconds), 3)
    video = dict(first.get("video") or {})
    last_video = parts[-1].summary.get("video") or {}
    if last_video.get("duration_s"):
        video["duration_s"] = last_video["duration_s"]  # segments count times from the source
    # A segment's frames_decoded is the last source frame it read: the last one's is the video's.
    last_frame = int((parts[-1].summary.get("counts") or {}).get("frames_decoded") or 0)
    video["frames"] = last_frame
    warnings = _parent_warnings(parts)
    return {
        "video": video,
        "options": first.get("options"),
        "counts": {
            "frames_processed": len(frames),
            "frames_decoded": last_frame,
            "tracks": len(np.unique(result.rows[:, 1])) if len(result.rows) else 0,
            "detections": len(result.rows),
        },
        "timings": timings,
        "runtime": first.get("runtime"),
        "versions": first.get("versions"),
        "warnings": warnings,
        "segments": {
            "count": len(parts),
            "border_switches": result.border_switches,
            "borders": result.borders,
        },
    }
