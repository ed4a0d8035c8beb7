"""Lifecycle gates: which lost tracks low-score boxes may re-find, and which tracks coast."""

from __future__ import annotations

import numpy as np
import pytest

from model_code.tracking import ByteTracker, TrackerConfig, TrackerConfigError

FPS = 10.0
PERSON = [100.0, 100.0, 140.0, 200.0]
EMPTY = (np.zeros((0, 4)), np.zeros(0))


def seen(tracker: ByteTracker, score: float) -> list[int]:
    return tracker.update(np.array([PERSON]), np.array([score])).ids.tolist()


def low_box_after_gap(matched_frames: int, refind_s: float) -> list[int]:
    """Ids reported for a low-score box after `matched_frames` high ones and a 3-frame gap."""
    config = TrackerConfig(coast_s=0.0, low_refind_min_s=refind_s)
    tracker = ByteTracker(config, frame_rate=FPS)
    for _ in range(matched_frames):
        seen(tracker, 0.9)
    for _ in range(3):
        tracker.update(*EMPTY)
    return seen(tracker, 0.3)


def test_established_lost_track_is_refound_by_a_low_score_box():
    assert low_box_after_gap(matched_frames=12, refind_s=1.0) == [1]


def test_young_lost_track_is_not_refound_by_a_low_score_box():
    assert low_box_after_gap(matched_frames=4, refind_s=1.0) == []


def test_a_zero_refind_minimum_lets_any_lost_track_be_refound_by_a_low_score_box():
    assert low_box_after_gap(matched_frames=2, refind_s=0.0) == [1]
    assert low_box_after_gap(matched_frames=2, refind_s=0.5) == []


def test_a_long_refind_minimum_keeps_low_score_boxes_from_lost_tracks():
    assert low_box_after_gap(matched_frames=12, refind_s=60.0) == []


def coasted_on_first_miss(matched_frames: int, coast_min_s: float) -> list[int]:
    config = TrackerConfig(coast_s=1.0, coast_min_s=coast_min_s)
    tracker = ByteTracker(config, frame_rate=FPS)
    for _ in range(matched_frames):
        seen(tracker, 0.9)
    return tracker.update(*EMPTY).ids.tolist()


def test_established_track_coasts_through_a_missed_frame():
    assert coasted_on_first_miss(matched_frames=12, coast_min_s=1.0) == [1]


def test_young_track_does_not_coast():
    assert coasted_on_first_miss(matched_frames=5, coast_min_s=1.0) == []
    assert coasted_on_first_miss(matched_frames=5, coast_min_s=0.0) == [1]


@pytest.mark.parametrize("name", ["coast_min_s", "low_refind_min_s"])
@pytest.mark.parametrize("value", [-1.0, float("nan"), True])
def test_lifecycle_seconds_are_validated(name: str, value: float):
    with pytest.raises(TrackerConfigError, match=name):
        TrackerConfig(**{name: value})
