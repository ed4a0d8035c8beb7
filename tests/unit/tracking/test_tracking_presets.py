"""Tracker presets: one per detector, thresholds as fractions of the detector's score scale."""

from __future__ import annotations

import numpy as np
import pytest

from model_code.tracking import GENERIC, TrackerConfig, TrackerConfigError, preset, tracker_config
from model_code.tracking.presets import (
    MIN_SCORE_SCALE,
    SCORE_SCALE,
    ScoreFractions,
    observed_score_scale,
    scaled_preset,
)


def test_generic_preset_is_the_config_default():
    assert preset(GENERIC) == TrackerConfig()
    assert tracker_config() == TrackerConfig()


@pytest.mark.parametrize("detector", ["nanodet-g", "yolov3-tiny", GENERIC])
def test_every_detector_preset_orders_its_thresholds_within_its_scale(detector):
    config = preset(detector)
    scale = SCORE_SCALE[detector]
    assert 0 < config.low_threshold < config.high_threshold < config.new_track_threshold < scale


def test_a_lower_score_scale_lowers_every_score_threshold_in_proportion():
    generic, nanodet = preset(GENERIC), preset("nanodet-g")
    ratio = SCORE_SCALE["nanodet-g"] / SCORE_SCALE[GENERIC]
    for name in ("high_threshold", "low_threshold", "new_track_threshold"):
        assert getattr(nanodet, name) == pytest.approx(getattr(generic, name) * ratio, abs=1e-4)
    # Everything that is not a score threshold is shared.
    assert (
        nanodet.with_overrides(
            {
                k: getattr(generic, k)
                for k in ("high_threshold", "low_threshold", "new_track_threshold")
            }
        )
        == generic
    )


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


def test_unknown_detectors_scale_is_read_off_its_scores():
    assert observed_score_scale(np.array([0.2, 0.7, 0.84])) == pytest.approx(0.84)
    assert observed_score_scale(np.zeros(0)) == SCORE_SCALE[GENERIC]
    assert observed_score_scale(np.array([0.01])) == MIN_SCORE_SCALE
    assert scaled_preset(1.0) == preset(GENERIC)
    assert scaled_preset(SCORE_SCALE["nanodet-g"]) == preset("nanodet-g")
    with pytest.raises(TrackerConfigError, match="score scale"):
        scaled_preset(0.0)


def test_track_dets_defaults_follow_the_scale_of_the_det_rows():
    from model_code.track_dets import external_config

    rows = np.array([[1, -1, 0, 0, 10, 20, 0.5], [2, -1, 0, 0, 10, 20, 0.8]])
    assert external_config(rows) == scaled_preset(0.8)
    assert external_config(rows).new_track_threshold < preset(GENERIC).new_track_threshold


def test_a_detector_without_a_preset_gets_the_generic_one():
    assert tracker_config("yolox-onnx") == preset(GENERIC)
