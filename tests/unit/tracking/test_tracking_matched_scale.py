"""The high and new-track thresholds' scale read off the scores of boxes matched to tracks."""

from __future__ import annotations

import numpy as np
import pytest

from model_code.tracking import TrackerConfig, TrackerConfigError
from model_code.tracking.tracker import (
    AUTO_MIN_SCORE_SCALE,
    MATCHED_SCALE_MIN_COUNT,
    ByteTracker,
)

PEOPLE = 4


def _boxes(frame: int) -> np.ndarray:
    """`PEOPLE` boxes far apart, each moving 3 px a frame to the right."""
    x = 200.0 * np.arange(PEOPLE) + 3.0 * frame
    return np.column_stack([x, np.zeros(PEOPLE), x + 40.0, np.full(PEOPLE, 100.0)])


def _run(quantile: float, scores: np.ndarray, frames: int) -> tuple[ByteTracker, list[float]]:
    """Track the people for `frames` frames, scores drawn in turn from `scores` (one person
    always at the top); returns the tracker and the scores fed after the first frame, where
    every track starts: all are matched, the tracks never break."""
    tracker = ByteTracker(TrackerConfig(matched_score_quantile=quantile), frame_rate=10)
    fed = []
    for frame in range(frames):
        frame_scores = np.roll(scores, frame)[:PEOPLE]
        frame_scores[0 if frame else slice(None)] = scores.max()  # all start clearly seen
        tracker.update(_boxes(frame), frame_scores)
        if frame:
            fed += frame_scores.tolist()
    assert len(tracker.tracks) == PEOPLE  # every box stayed on its own track
    return tracker, fed


WIDE = np.linspace(0.3, 0.99, 23)  # tracked people scored anywhere from 0.3 to 0.99
TIGHT = np.linspace(0.78, 0.88, 11)  # tracked people all scored near the top


def test_widely_scored_tracked_objects_lower_the_high_scale_to_the_quantile():
    frames = MATCHED_SCALE_MIN_COUNT // PEOPLE + 20
    tracker, fed = _run(0.1, WIDE, frames)
    assert tracker.score_scale == pytest.approx(0.99)  # the low threshold's scale: the highest
    expected = np.quantile(fed, 0.1) / tracker.config.high_threshold
    assert tracker.high_score_scale < 0.9 * tracker.score_scale
    assert tracker.high_score_scale == pytest.approx(expected, abs=2 / 200 / 0.6)


def test_tightly_scored_tracked_objects_keep_the_highest_score_scale():
    tracker, _ = _run(0.1, TIGHT, MATCHED_SCALE_MIN_COUNT // PEOPLE + 20)
    assert tracker.high_score_scale == tracker.score_scale == pytest.approx(0.88)


def test_off_at_zero_and_idle_until_enough_matched_scores():
    assert 0.0 < TrackerConfig().matched_score_quantile < 0.1
    off, _ = _run(0.0, WIDE, MATCHED_SCALE_MIN_COUNT // PEOPLE + 20)
    assert off.high_score_scale == off.score_scale
    early, fed = _run(0.1, WIDE, MATCHED_SCALE_MIN_COUNT // PEOPLE - 2)
    assert len(fed) < MATCHED_SCALE_MIN_COUNT
    assert early.high_score_scale == early.score_scale


def test_a_weakly_scored_newcomer_starts_a_track_only_once_the_scale_came_down():
    started = []
    for quantile in (0.0, 0.1):
        frames = MATCHED_SCALE_MIN_COUNT // PEOPLE + 20
        tracker, _ = _run(quantile, WIDE, frames)
        newcomer = np.array([[2000.0, 0.0, 2040.0, 100.0]])
        tracker.update(np.vstack([_boxes(frames), newcomer]), np.r_[np.full(PEOPLE, 0.9), 0.7])
        started.append(len(tracker.tracks) - PEOPLE)
    # 0.7 is under 0.8 of the highest-score scale (0.99), over 0.8 of the lowered one.
    assert started == [0, 1]


def test_the_lowered_scale_keeps_the_floor_and_a_fixed_scale_wins():
    weak = np.linspace(0.2, 0.99, 9)
    tracker, _ = _run(0.5, weak, MATCHED_SCALE_MIN_COUNT // PEOPLE + 20)
    assert tracker.high_score_scale >= AUTO_MIN_SCORE_SCALE
    fixed = ByteTracker(TrackerConfig(matched_score_quantile=0.1, score_scale=0.9), frame_rate=10)
    for frame in range(MATCHED_SCALE_MIN_COUNT // PEOPLE + 20):
        fixed.update(_boxes(frame), np.roll(WIDE, frame)[:PEOPLE])
    assert fixed.high_score_scale == fixed.score_scale == 0.9
    with pytest.raises(TrackerConfigError, match="matched_score_quantile"):
        TrackerConfig(matched_score_quantile=1.5)
