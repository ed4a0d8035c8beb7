"""The momentum term prefers the detection that continues a track's direction of motion."""

from __future__ import annotations

import numpy as np
import pytest

from model_code.tracking import ByteTracker, TrackerConfig, TrackerConfigError


def _box(cx: float, cy: float, w: float = 40.0, h: float = 100.0) -> list[float]:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def _walk_right_then_offer_two(momentum_weight: float) -> float:
    """A person walks right; then two equally overlapping boxes appear, one ahead and one behind.

    Returns the centre x of the box the track took.
    """
    tracker = ByteTracker(
        TrackerConfig(momentum_weight=momentum_weight, score_scaled_noise=False),
        frame_rate=30.0,
    )
    x = 100.0
    for _ in range(8):
        tracker.update(np.array([_box(x, 200.0)]), np.array([0.9]))
        x += 4.0
    # The candidates sit symmetrically around the constant-velocity prediction, so they overlap it
    # equally and only the direction of motion separates them.
    ahead = _box(x + 6.0, 200.0)
    behind = _box(x - 6.0, 200.0)
    out = tracker.update(np.array([behind, ahead]), np.array([0.9, 0.9]))
    assert len(out) >= 1
    track = out.ids == 1
    box = out.boxes[track][0]
    return float((box[0] + box[2]) / 2)


def test_momentum_takes_the_detection_ahead_of_the_motion() -> None:
    # Without the term the tie goes to the first box (behind, centre 126); with it, ahead (138).
    assert _walk_right_then_offer_two(momentum_weight=0.0) < 130.0
    assert _walk_right_then_offer_two(momentum_weight=0.1) > 134.0


def test_momentum_weight_must_not_be_negative() -> None:
    with pytest.raises(TrackerConfigError, match="momentum_weight"):
        TrackerConfig(momentum_weight=-0.1)
