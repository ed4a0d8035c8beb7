"""Validated ByteTrack settings."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any


class TrackerConfigError(ValueError):
    """A tracker setting is unknown or has a bad value; the message names it."""


_UNIT_INTERVAL = (
    "high_threshold",
    "low_threshold",
    "new_track_threshold",
    "match_threshold",
    "low_match_threshold",
    "unconfirmed_match_threshold",
    "duplicate_iou",
    "noise_scale_floor",
    "lost_box_expansion",
    "momentum_weight",
    "coast_max_drift",
    "matched_score_quantile",
)


@dataclass(frozen=True)
class TrackerConfig:
    """ByteTrack thresholds, lost-track buffer, Kalman options and the output filter.

    Detections scoring at least `high_threshold` take part in the first association (against
    tracked and lost tracks); those between `low_threshold` and `high_threshold` only in the second
    (against tracks still unmatched). Match thresholds are maximum costs, `1 - IoU` (times the
    detection score in the first and tentative stages when `fuse_score`). A new track starts from
    an unmatched detection scoring at least `new_track_threshold`. It stays tentative (no id, not
    reported, dropped on its first miss) until it has been matched on the frames spanning
    `tentative_s` seconds after its first (at least one frame); tracks started on the very first
    frame are reported at once. Lost tracks are kept for re-identification for `track_buffer_s`
    seconds, and reported at their predicted box for the first `coast_s` seconds (0: never), which
    bridges a detector's missed frames, but only while that box's centre lies within
    `coast_max_drift` times its height of the last measured box: the prediction is trusted over a
    short move for the person's size, so coasting lasts longer at 30 fps than at 10 fps and stops
    for fast movers, and only for tracks matched on at least `coast_min_s` seconds' worth of
    frames (a flickering static false positive is not painted on). Lost tracks matched on at
    least `low_refind_min_s` seconds' worth of frames also take part in the second association: a
    well-established track may be re-found by a low-score box (an occluded person), a young one
    only by a high-score box. Durations are converted to frames at the tracker's rate.

    `score_scaled_noise` multiplies the Kalman measurement noise by
    `max(noise_scale_gain * (1 - score), noise_scale_floor)`: confident boxes pull the state
    harder (down to the floor, so one box cannot wipe out the velocity estimate) and weak,
    often occluded or merged, boxes from the second stage barely move it. `lost_box_expansion`
    grows lost tracks' and detections' boxes by that fraction per side when re-finding lost
    tracks (0: off), since a lost track's coasted prediction drifts from where the person is.
    `momentum_weight` adds to the first-stage cost that weight times how far (in half turns,
    minus a quarter turn, times the score) a detection lies off the track's observed direction of
    motion over its last few observations (0: off).
    A tracked/lost pair of the same class overlapping by more than `duplicate_iou` is one object
    twice; the younger track is dropped.

    The three score thresholds are fractions of a score scale, the score a clear, unoccluded object
    gets from the detector: `score_scale` when it is set (1.0 makes them plain scores), else (None,
    the default) read off the video's own detections as they arrive: the highest score seen so far,
    at least `AUTO_MIN_SCORE_SCALE` (tracker.py). Detectors score on different scales (a Faster
    R-CNN gives a clear person 0.99, NanoDet-g at most about 0.88), so the same fractions serve
    every detector without a hand-set scale per detector. With `matched_score_quantile` q > 0 (0.05
    by default; 0 turns it off), unless `score_scale` is fixed, the high and new-track thresholds
    may sit lower still: their scale is at most the one that puts the high threshold at the q
    quantile of the scores of boxes matched to confirmed tracks so far (first and second stage,
    counted once `MATCHED_SCALE_MIN_COUNT` have been), so a detector that scores tracked objects
    widely (yolov3-tiny) gets lower thresholds, while one whose tracked objects score tightly keeps
    the highest-score scale. The low threshold keeps the highest-score scale: it bounds the clutter
    that could otherwise feed the matched scores and pull the scale down.

    Reported tracks must have an area over `min_box_area` px² and, if they are of an upright
    class, a width/height of at most `max_aspect_ratio`; 0 and None switch those filters off. The
    defaults (500 px², 0.9) were chosen on the benchmark rows with the lifecycle settings: they
    drop the small or squat static clutter a detector keeps finding (docs/BENCHMARKS.md). People
    stand upright, a car is wider than tall: the engine applies the width/height bound to the
    classes named in `UPRIGHT_CLASS_NAMES` only (`ByteTracker(upright_labels=...)`), and not to
    boxes reaching the top or bottom of the picture (`frame_height`: a person cut off there, as
    one walking in near the camera, is wide for their height); without class names or a frame
    height (a det file's rows) it applies to every box.
    """

    high_threshold: float = 0.6
    low_threshold: float = 0.2
    new_track_threshold: float = 0.8
    match_threshold: float = 0.9
    low_match_threshold: float = 0.4
    unconfirmed_match_threshold: float = 0.7
    track_buffer_s: float = 1.5
    tentative_s: float = 0.0
    coast_s: float = 1.0
    coast_max_drift: float = 0.04
    coast_min_s: float = 0.5
    low_refind_min_s: float = 3.0
    fuse_score: bool = True
    score_scaled_noise: bool = True
    noise_scale_floor: float = 0.7
    noise_scale_gain: float = 5.0
    lost_box_expansion: float = 0.15
    momentum_weight: float = 0.1
    duplicate_iou: float = 0.85
    min_box_area: float = 500.0
    max_aspect_ratio: float | None = 0.9
    score_scale: float | None = None
    matched_score_quantile: float = 0.05

    def __post_init__(self) -> None:
        scale = self.score_scale
        if scale is not None and (
            isinstance(scale, bool) or not isinstance(scale, int | float) or not 0.0 < scale <= 1.0
        ):
            raise TrackerConfigError(
                f"tracker option score_scale must be in (0, 1] or null (read off the "
                f"detections), got {scale!r}"
            )
        for name in _UNIT_INTERVAL:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TrackerConfigError(f"tracker option {name} must be a number, got {value!r}")
            if not 0.0 <= value <= 1.0:
                raise TrackerConfigError(f"tracker option {name} must be in [0, 1], got {value}")
        if self.low_threshold > self.high_threshold:
            raise TrackerConfigError(
                f"tracker option low_threshold ({self.low_threshold}) must not exceed "
                f"high_threshold ({self.high_threshold})"
            )
        for name in ("track_buffer_s", "tentative_s", "coast_s", "coast_min_s", "low_refind_min_s"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (value >= 0 and math.isfinite(value))
            ):
                raise TrackerConfigError(
                    f"tracker option {name} must be a number of seconds >= 0, got {value!r}"
                )
        if self.coast_s > self.track_buffer_s:
            raise TrackerConfigError(
                f"tracker option coast_s ({self.coast_s}) must not exceed "
                f"track_buffer_s ({self.track_buffer_s})"
            )
        gain = self.noise_scale_gain
        if (
            isinstance(gain, bool)
            or not isinstance(gain, int | float)
            or not (gain > 0 and math.isfinite(gain))
        ):
            raise TrackerConfigError(
                f"tracker option noise_scale_gain must be a positive number, got {gain!r}"
            )
        for name in ("fuse_score", "score_scaled_noise"):
            if not isinstance(getattr(self, name), bool):
                raise TrackerConfigError(
                    f"tracker option {name} must be true or false, got {getattr(self, name)!r}"
                )
        area = self.min_box_area
        if isinstance(area, bool) or not isinstance(area, int | float) or not area >= 0:
            raise TrackerConfigError(
                f"tracker option min_box_area must be a number >= 0, got {area!r}"
            )
        ratio = self.max_aspect_ratio
        if ratio is not None and (
            isinstance(ratio, bool)
            or not isinstance(ratio, int | float)
            or not (ratio > 0 and math.isfinite(ratio))
        ):
            raise TrackerConfigError(
                f"tracker option max_aspect_ratio must be a positive number or null, got {ratio!r}"
            )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> TrackerConfig:
        """Defaults overridden by `values`; unknown keys are an error that names them."""
        return cls().with_overrides(values)

    def with_overrides(self, values: Mapping[str, Any] | None) -> TrackerConfig:
        """This config with `values` replacing options by name; unknown keys are an error."""
        if values is None:
            return self
        if not isinstance(values, Mapping):
            raise TrackerConfigError(
                f"tracker options must be a mapping of option names to values, "
                f"got {type(values).__name__}"
            )
        known = {f.name for f in fields(self)}
        unknown = sorted(str(key) for key in values if key not in known)
        if unknown:
            raise TrackerConfigError(
                f"unknown tracker option(s): {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known))})"
            )
        return replace(self, **dict(values))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
