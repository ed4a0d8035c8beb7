"""Tracker presets: one per detector, thresholds as fractions of the detector's score scale."""

from __future__ import annotations

import numpy as np
import pytest

from model_code.tracking import GENERIC, TrackerConfig, TrackerConfigError, preset, tracker_config
from model_code.tracking.presets import (
    KNOWN_DETECTORS,
    MIN_SCORE_SCALE,
    ScoreFractions,
    observed_score_scale,
    scaled_preset,
)
from model_code.tracking.tracker import AUTO_MIN_SCORE_SCALE, ByteTracker


def test_generic_preset_is_the_config_default():
    assert preset(GENERIC) == TrackerConfig()
    assert tracker_config() == TrackerConfig()


@pytest.mark.parametrize("detector", KNOWN_DETECTORS)
def test_no_detector_has_a_hand_set_scale(detector):
    config = preset(detector)
    assert config == TrackerConfig() and config.score_scale is None
    assert 0 < config.low_threshold < config.high_threshold < config.new_track_threshold < 1


def _box(x: float) -> np.ndarray:
    return np.array([[x, 0.0, x + 20.0, 50.0]])


def test_the_scale_is_read_off_the_video_and_the_same_person_is_tracked_at_any_scale():
    """A detector scoring everything at 0.85x (NanoDet-like) is tracked exactly like one on 0..1."""
    runs = []
    for factor in (1.0, 0.85):
        tracker = ByteTracker(TrackerConfig(), frame_rate=10)
        ids = []
        for frame in range(12):
            score = (0.5 if frame % 4 == 3 else 0.95) * factor  # weak every 4th frame
            ids.append(tracker.update(_box(5.0 * frame), np.array([score])).ids.tolist())
        runs.append(ids)
        assert tracker.score_scale == pytest.approx(0.95 * factor)
    assert runs[0] == runs[1] and runs[0][-1] == [1]


def test_the_read_scale_never_drops_below_its_floor_nor_follows_a_fixed_one():
    tracker = ByteTracker(TrackerConfig(), frame_rate=10)
    tracker.update(_box(0.0), np.array([0.2]))  # clutter before anyone is in view
    assert tracker.score_scale == AUTO_MIN_SCORE_SCALE
    assert len(tracker.tracks) == 0  # 0.2 < 0.775 x 0.6: no track started from clutter
    fixed = ByteTracker(TrackerConfig(score_scale=0.6), frame_rate=10)
    fixed.update(_box(0.0), np.array([0.99]))
    assert fixed.score_scale == 0.6
    with pytest.raises(TrackerConfigError, match="score_scale"):
        TrackerConfig(score_scale=1.5)


def test_new_track_threshold_sits_between_high_threshold_and_top_of_scale():
    thresholds = ScoreFractions(high=0.5, low=0.1, new_track_margin=0.5).thresholds(0.8)
    assert thresholds == {"high_threshold": 0.4, "low_threshold": 0.08, "new_track_threshold": 0.6}


def test_overrides_apply_on_top_of_the_preset_and_unknown_keys_are_named():
    config = tracker_config("nanodet-g", {"coast_s": 0.0})
    assert config.coast_s == 0.0
    assert config.high_threshold == preset("nanodet-g").high_threshold
    with pytest.raises(TrackerConfigError, match="bogus"):
        tracker_config("nanodet-g", {"bogus": 1})
    with pytest.raises(TrackerConfigError, match="mapping"):
        tracker_config("nanodet-g", [("coast_s", 0.0)])


def test_unknown_detector_has_no_preset():
    with pytest.raises(TrackerConfigError, match="no tracker preset for detector 'yolo9'"):
        preset("yolo9")


def test_a_measured_scale_can_be_fixed():
    assert observed_score_scale(np.array([0.2, 0.7, 0.84])) == pytest.approx(0.84)
    assert observed_score_scale(np.zeros(0)) == 1.0
    assert observed_score_scale(np.array([0.01])) == MIN_SCORE_SCALE
    assert scaled_preset(0.8) == preset(GENERIC).with_overrides({"score_scale": 0.8})
    with pytest.raises(TrackerConfigError, match="score scale"):
        scaled_preset(0.0)


def test_track_dets_defaults_are_the_pipeline_defaults():
    from model_code.track_dets import external_config

    rows = np.array([[1, -1, 0, 0, 10, 20, 0.5], [2, -1, 0, 0, 10, 20, 0.8]])
    assert external_config(rows) == preset(GENERIC)


def test_a_detector_without_a_preset_gets_the_generic_one():
    assert tracker_config("yolox-onnx") == preset(GENERIC)
