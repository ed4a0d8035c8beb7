"""Tracker defaults per detector, in one place.

Detectors score on different scales: a clear, unoccluded person gets 0.99-1.0 from a Faster
R-CNN or Keypoint R-CNN and up to 0.99 from yolov3-tiny, but never more than about 0.88 from
NanoDet-g. No scale is set by hand per detector: the tracker's score thresholds are fractions of
a scale it reads off each video's own detections as they arrive (`TrackerConfig.score_scale`
None, see tracker.py), so one choice of fractions, made on all the shared benchmark sets at once
(`python -m bench tracker_defaults`, see docs/BENCHMARKS.md), serves every detector, including
ones never tuned for. The high and new-track thresholds may come lower still, down to what the
objects being tracked score (`TrackerConfig.matched_score_quantile`), for a detector that scores
people widely. Every preset is therefore `TrackerConfig`'s defaults; the detector names stay so
that callers and job options keep naming them.

A model whose scale was measured (a fine-tuned NanoDet-g's config.json carries the scale of its
matched validation scores) can fix it with `scaled_preset(scale)`.

`tracker_config(detector, overrides)` is what callers use: the preset for the detector's name,
then `TrackerConfig` overrides on top, validated (unknown keys are rejected by name).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from model_code.tracking.config import TrackerConfig, TrackerConfigError

# Detections from a detector we know nothing about (`track-dets`), scored on a 0..1 scale.
GENERIC = "generic"
# The detectors with a preset of their own (all the same now: the scale is read off the scores).
KNOWN_DETECTORS = (GENERIC, "yolov3-tiny", "nanodet-g")

# The lowest fixed scale accepted from a measurement (below it the thresholds admit clutter).
MIN_SCORE_SCALE = 0.3


@dataclass(frozen=True)
class ScoreFractions:
    """Score thresholds as fractions of a detector's scale.

    `high` and `low` split the detections into BYTE's two association stages. A new track needs
    a score `new_track_margin` of the way from the high threshold to the top of the scale, so it
    starts only from a detection clearly above those that merely keep a track alive.
    """

    high: float = 0.6
    low: float = 0.2
    new_track_margin: float = 0.5

    def thresholds(self, scale: float = 1.0) -> dict[str, float]:
        """The TrackerConfig thresholds: fractions of the score scale (`scale` 1), or the scores
        they come to at `scale`."""
        high = self.high * scale
        return {
            "high_threshold": round(high, 4),
            "low_threshold": round(self.low * scale, 4),
            "new_track_threshold": round(high + self.new_track_margin * (scale - high), 4),
        }


def preset(detector: str = GENERIC, fractions: ScoreFractions | None = None) -> TrackerConfig:
    """The tracker defaults for detections from `detector` (a name in `KNOWN_DETECTORS`)."""
    if detector not in KNOWN_DETECTORS:
        known = ", ".join(sorted(KNOWN_DETECTORS))
        raise TrackerConfigError(f"no tracker preset for detector {detector!r} (known: {known})")
    return TrackerConfig().with_overrides((fractions or ScoreFractions()).thresholds())


def scaled_preset(score_scale: float, fractions: ScoreFractions | None = None) -> TrackerConfig:
    """The tracker defaults with the score scale fixed at `score_scale` (0 < s <= 1)."""
    if not 0.0 < score_scale <= 1.0:
        raise TrackerConfigError(f"score scale must be in (0, 1], got {score_scale}")
    return preset(GENERIC, fractions).with_overrides({"score_scale": round(score_scale, 4)})


def observed_score_scale(scores: np.ndarray) -> float:
    """A scale read off a whole set of scores: their highest, within [MIN_SCORE_SCALE, 1];
    1.0 with no scores."""
    if len(scores) == 0:
        return 1.0
    return float(np.clip(np.max(scores), MIN_SCORE_SCALE, 1.0))


def tracker_config(
    detector: str = GENERIC, overrides: Mapping[str, Any] | None = None
) -> TrackerConfig:
    """`detector`'s preset with `overrides` (TrackerConfig option names) applied on top.

    A detector without a preset of its own gets the generic one.
    """
    return preset(detector if detector in KNOWN_DETECTORS else GENERIC).with_overrides(overrides)
