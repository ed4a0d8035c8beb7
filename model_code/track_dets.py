"""Run the tracker alone over MOTChallenge detection rows (`frame,-1,x,y,w,h,score,...`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_code.boxes import mot_rows, xywh_to_xyxy, xyxy_to_xywh
from model_code.tracking import ByteTracker, TrackerConfig
from model_code.tracking.presets import preset


class DetectionFileError(ValueError):
    """The detection file is missing, unreadable or not MOTChallenge det rows."""


@dataclass(frozen=True)
class TrackDetsResult:
    frames: int
    update_ms_per_frame: float
    rows: int


def read_detection_rows(det_path: str | Path) -> np.ndarray:
    """Det rows as a float array (N, >=7); frames must be whole numbers from 1."""
    path = Path(det_path)
    if not path.is_file():
        raise DetectionFileError(f"detection file not found: {path}")
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        return np.zeros((0, 7))
    try:
        rows = [[float(v) for v in line.split(",")] for line in lines]
    except ValueError as exc:
        raise DetectionFileError(
            f"{path}: expected comma-separated numbers (frame,-1,x,y,w,h,score,...): {exc}"
        ) from None
    widths = {len(row) for row in rows}
    if min(widths) < 7 or len(widths) != 1:
        raise DetectionFileError(
            f"{path}: every row needs the same number (>= 7) of columns frame,-1,x,y,w,h,score; "
            f"found rows with {sorted(widths)} columns"
        )
    array = np.array(rows)
    frames = array[:, 0]
    if not (np.isfinite(array[:, :7]).all() and (frames >= 1).all() and (frames % 1 == 0).all()):
        raise DetectionFileError(f"{path}: frame numbers must be whole numbers starting at 1")
    return array


def external_config(rows: np.ndarray) -> TrackerConfig:
    """Tracker defaults for det rows from an unknown detector: the pipeline's defaults, whose
    score scale the tracker reads off the detections as they arrive (`rows` is not needed and
    kept for callers)."""
    del rows
    return preset()


def track_detection_rows(
    rows: np.ndarray,
    fps: float,
    config: TrackerConfig | None = None,
    last_frame: int | None = None,
) -> tuple[np.ndarray, float]:
    """Track det rows; returns MOT track rows (K, 7) `frame,id,x,y,w,h,score` and ms per update.

    `update` is called for every frame from 1 to `last_frame` (default: the last frame with a row),
    with an empty array where a frame has no detections. Only the `update` calls are timed.
    Without `config`, the defaults (the score scale read off the detections as they arrive).
    """
    if config is None:
        config = external_config(rows)
    tracker = ByteTracker(config, frame_rate=fps)
    frames = rows[:, 0].astype(np.int64) if len(rows) else np.zeros(0, dtype=np.int64)
    if last_frame is None:
        last_frame = int(frames.max()) if len(frames) else 0
    order = np.argsort(frames, kind="stable")
    rows, frames = rows[order], frames[order]
    bounds = np.searchsorted(frames, np.arange(1, last_frame + 2))
    xyxy = xywh_to_xyxy(rows[:, 2:6])
    scores = rows[:, 6].copy()
    out: list[np.ndarray] = []
    elapsed = 0.0
    for frame in range(1, last_frame + 1):
        start, stop = bounds[frame - 1], bounds[frame]
        boxes, frame_scores = xyxy[start:stop], scores[start:stop]
        tick = time.perf_counter()
        tracked = tracker.update(boxes, frame_scores)
        elapsed += time.perf_counter() - tick
        if len(tracked):
            block = np.empty((len(tracked), 7))
            block[:, 0] = frame
            block[:, 1] = tracked.ids
            block[:, 2:6] = xyxy_to_xywh(tracked.boxes)
            block[:, 6] = tracked.scores
            out.append(block)
    tracks = np.concatenate(out) if out else np.zeros((0, 7))
    ms_per_frame = 1000.0 * elapsed / last_frame if last_frame else 0.0
    return tracks, ms_per_frame


def track_detections_file(
    det_path: str | Path,
    fps: float,
    out_path: str | Path,
    config: TrackerConfig | None = None,
) -> TrackDetsResult:
    """Track a MOTChallenge det file and write MOT tracks to `out_path`."""
    if isinstance(fps, bool) or not isinstance(fps, int | float) or not fps > 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    rows = read_detection_rows(det_path)
    tracks, ms_per_frame = track_detection_rows(rows, float(fps), config)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(mot_rows(tracks[:, 0], tracks[:, 1], xywh_to_xyxy(tracks[:, 2:6]), tracks[:, 6]))
    frames = int(rows[:, 0].max()) if len(rows) else 0
    return TrackDetsResult(frames=frames, update_ms_per_frame=ms_per_frame, rows=len(tracks))
