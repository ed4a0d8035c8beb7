"""The anchor trackers behind one interface, so benchmarks feed all of them the same frames.

Six anchors, each at its own defaults: the ByteTrack authors' code (the `bytetracker` packaging,
with the authors' MOT17 settings) and `trackers` 2.6.1's ByteTrack, SORT, OC-SORT, BoT-SORT (no
camera-motion compensation: there are no frames) and C-BIoU, each told the sequence's frame rate.

Each runner takes `(boxes_xyxy (N, 4), scores (N,))` per frame and returns `(ids, boxes_xyxy,
scores)` for the tracks it reports. The peers come from `requirements/bench.txt` (`make bench`
installs them); `available_anchors()` lists only the ones that import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from model_code.tracking import ByteTracker, TrackerConfig

Frame = tuple[np.ndarray, np.ndarray, np.ndarray]
UpdateFn = Callable[[np.ndarray, np.ndarray], Frame]

# The authors' settings for MOT17 (ifzhang/ByteTrack tools/track.py defaults: track_thresh 0.6,
# match_thresh 0.9, track_buffer 30, min box area 100, vertical ratio 1.6), which are also
# `trackers` 2.6.1's ByteTrackTracker defaults (high 0.6, activation 0.7, min IoU 0.1, buffer 30).
ANCHOR_HIGH = 0.6
ANCHOR_MATCH = 0.9
ANCHOR_BUFFER = 30


@dataclass
class Runner:
    name: str
    make: Callable[[float], UpdateFn]


def ours(config: TrackerConfig | None = None, name: str = "ours") -> Runner:
    def make(fps: float) -> UpdateFn:
        tracker = ByteTracker(config, frame_rate=fps)

        def update(boxes: np.ndarray, scores: np.ndarray) -> Frame:
            out = tracker.update(boxes, scores)
            return out.ids, out.boxes, out.scores

        return update

    return Runner(name, make)


def authors_input(boxes: np.ndarray, scores: np.ndarray):
    """The authors' tracker input: a float32 torch (N, 6) tensor of x1, y1, x2, y2, score, 0."""
    import torch

    dets = np.zeros((len(boxes), 6), dtype=np.float32)
    dets[:, :4] = boxes
    dets[:, 4] = scores
    return torch.from_numpy(dets)


def authors_tracker(fps: float):
    """ifzhang/ByteTrack via the `bytetracker` PyPI packaging, with the anchor settings."""
    from bytetracker import BYTETracker

    return BYTETracker(
        track_thresh=ANCHOR_HIGH,
        track_buffer=ANCHOR_BUFFER,
        match_thresh=ANCHOR_MATCH,
        frame_rate=fps,
    )


def authors() -> Runner:
    import bytetracker  # noqa: F401  (fail here, with ImportError, when the peer is missing)

    def make(fps: float) -> UpdateFn:
        tracker = authors_tracker(fps)

        def update(boxes: np.ndarray, scores: np.ndarray) -> Frame:
            out = tracker.update(authors_input(boxes, scores), None)
            if len(out) == 0:
                return np.zeros(0, dtype=np.int64), np.zeros((0, 4)), np.zeros(0)
            return out[:, 4].astype(np.int64), out[:, :4].astype(np.float64), out[:, 6]

        return update

    return Runner("authors (bytetracker 0.3.2)", make)


def roboflow_input(boxes: np.ndarray, scores: np.ndarray):
    """`trackers` input: supervision Detections, all of one class."""
    import supervision as sv

    return sv.Detections(
        xyxy=boxes.astype(np.float32).reshape(-1, 4),
        confidence=scores.astype(np.float32),
        class_id=np.zeros(len(boxes), dtype=int),
    )


def roboflow_tracker(fps: float):
    """`trackers` 2.6.1 ByteTrackTracker; the values passed are its own defaults, written out."""
    from trackers import ByteTrackTracker

    return ByteTrackTracker(
        lost_track_buffer=ANCHOR_BUFFER,
        frame_rate=fps,
        high_conf_det_threshold=ANCHOR_HIGH,
        track_activation_threshold=ANCHOR_HIGH + 0.1,
        minimum_iou_threshold=1.0 - ANCHOR_MATCH,
    )


def trackers_update(tracker: object) -> UpdateFn:
    """One `trackers` tracker behind the runner interface.

    `trackers` reports detection boxes with the id of the track each joined; boxes not (yet) in a
    confirmed track get id -1 and are dropped.
    """

    def update(boxes: np.ndarray, scores: np.ndarray) -> Frame:
        out = tracker.update(roboflow_input(boxes, scores))  # type: ignore[attr-defined]
        ids = np.asarray(out.tracker_id if out.tracker_id is not None else [], dtype=np.int64)
        keep = ids >= 0
        conf = out.confidence if out.confidence is not None else np.ones(len(ids))
        return ids[keep], out.xyxy[keep].astype(np.float64), conf[keep].astype(np.float64)

    return update


def roboflow() -> Runner:
    """`trackers` 2.6.1 ByteTrackTracker at its defaults."""
    import trackers  # noqa: F401  (fail here, with ImportError, when the peer is missing)

    return Runner("trackers ByteTrack", lambda fps: trackers_update(roboflow_tracker(fps)))


def _trackers_class(name: str) -> type:
    import trackers

    return getattr(trackers, name)


def sort() -> Runner:
    """`trackers` 2.6.1 SORTTracker at its defaults (Bewley et al. 2016)."""
    cls = _trackers_class("SORTTracker")
    return Runner("trackers SORT", lambda fps: trackers_update(cls(frame_rate=fps)))


def ocsort() -> Runner:
    """`trackers` 2.6.1 OCSORTTracker at its defaults (Cao et al. 2023)."""
    cls = _trackers_class("OCSORTTracker")
    return Runner("trackers OC-SORT", lambda fps: trackers_update(cls(frame_rate=fps)))


def botsort() -> Runner:
    """`trackers` 2.6.1 BoTSORTTracker at its defaults, without camera-motion compensation
    (it needs the frames, which a tracker fed detections does not have)."""
    cls = _trackers_class("BoTSORTTracker")
    return Runner(
        "trackers BoT-SORT", lambda fps: trackers_update(cls(frame_rate=fps, enable_cmc=False))
    )


def cbiou() -> Runner:
    """`trackers` 2.6.1 CBIoUTracker at its defaults (buffered IoU, Yang et al. 2023)."""
    cls = _trackers_class("CBIoUTracker")
    return Runner("trackers C-BIoU", lambda fps: trackers_update(cls(frame_rate=fps)))


def output_filter(ids: np.ndarray, boxes: np.ndarray, scores: np.ndarray) -> Frame:
    """The issue's filter for the anchors: area > 100 px² and w/h <= 1.6."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    keep = (w * h > 100.0) & (w <= 1.6 * h)
    return ids[keep], boxes[keep], scores[keep]


# The six anchors every tracker benchmark row is measured against, in the order printed.
ANCHORS: tuple[Callable[[], Runner], ...] = (authors, roboflow, sort, ocsort, botsort, cbiou)


def available_anchors() -> tuple[list[Runner], list[str]]:
    """Every anchor that imports; the second list says which could not."""
    runners: list[Runner] = []
    missing = []
    for factory in ANCHORS:
        try:
            runners.append(factory())
        except ImportError as exc:
            missing.append(f"{factory.__name__}: {exc} (install with `make bench`)")
    return runners, missing
