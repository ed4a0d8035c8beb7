"""Tracker defaults per detector, in one place.

Detectors score on different scales: a clear, unoccluded person gets 0.99-1.0 from a Faster
R-CNN or Keypoint R-CNN and up to 0.99 from yolov3-tiny, but never more than about 0.88 from
NanoDet-g. Each preset records the top of its detector's scale (measured, not fitted: the highest
score the detector gives on the shared PETS video and the bundled sample). The score thresholds
are the same fractions of it for every detector (`ScoreFractions`), so one choice of fractions,
made on all the shared benchmark sets at once (`python -m bench tracker_defaults`, see
docs/BENCHMARKS.md), serves them all. Every other setting (durations in seconds, match costs,
Kalman options, output filter) is shared and lives in `TrackerConfig`'s defaults, which equal the
generic preset.

`tracker_config(detector, overrides)` is what callers use: the preset for the detector's name,
then `TrackerConfig` overrides on top, validated (unknown keys are rejected by name). Detections
from an unknown detector (`track-dets`) get `scaled_preset(observed_score_scale(scores))`: the
top of the scale is read off the detections themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from model_code.tracking.config import TrackerConfig, TrackerConfigError

# Detections from a detector we know nothing about (`track-dets`), scored on a 0..1 scale.
GENERIC = "generic"

# The lowest scale read off detections (below it the thresholds would admit nearly anything).
MIN_SCORE_SCALE = 0.3
# The score a clear, unoccluded person gets from each detector: the top of its scale.
SCORE_SCALE: dict[str, float] = {
    GENERIC: 1.0,
    "yolov3-tiny": 1.0,
    "nanodet-g": 0.88,
}


@dataclass(frozen=True)
class ScoreFractions:
    """Score thresholds as fractions of a detector's scale.

    `high` and `low` split the detections into BYTE's two association stages. A new track needs
    a score `new_track_margin` of the way from the high threshold to the top of the scale, so it
    starts only from a detection clearly above those that merely keep a track alive.
    """

    high: float = 0.7
    low: float = 0.2
    new_track_margin: float = 0.25

    def thresholds(self, scale: float) -> dict[str, float]:
        high = self.high * scale
        return {
            "high_threshold": round(high, 4),
            "low_threshold": round(self.low * scale, 4),
            "new_track_threshold": round(high + self.new_track_margin * (scale - high), 4),
        }


def preset(detector: str = GENERIC, fractions: ScoreFractions | None = None) -> TrackerConfig:
    """The tracker defaults for detections from `detector` (a name in `SCORE_SCALE`)."""
    if detector not in SCORE_SCALE:
        raise TrackerConfigError(
            f"no tracker preset for detector {detector!r} (known: {', '.join(sorted(SCORE_SCALE))})"
        )
    return scaled_preset(SCORE_SCALE[detector], fractions)


def scaled_preset(score_scale: float, fractions: ScoreFractions | None = None) -> TrackerConfig:
    """The tracker defaults for a detector whose scores top out at `score_scale` (0 < s <= 1)."""
    if not 0.0 < score_scale <= 1.0:
        raise TrackerConfigError(f"score scale must be in (0, 1], got {score_scale}")
    fractions = fractions or ScoreFractions()
    return TrackerConfig().with_overrides(fractions.thresholds(score_scale))


def observed_score_scale(scores: np.ndarray) -> float:
    """The top of an unknown detector's scale, read off its detections: their highest score.

    Scores lie in [0, 1], so an outlier can only push this up towards the generic scale of 1.
    With no detections, the generic scale.
    """
    if len(scores) == 0:
        return SCORE_SCALE[GENERIC]
    return float(np.clip(np.max(scores), MIN_SCORE_SCALE, 1.0))


def tracker_config(
    detector: str = GENERIC, overrides: Mapping[str, Any] | None = None
) -> TrackerConfig:
    """`detector`'s preset with `overrides` (TrackerConfig option names) applied on top.

    A detector without a preset of its own gets the generic one.
    """
    return preset(detector if detector in SCORE_SCALE else GENERIC).with_overrides(overrides)
