"""The guard's noise margin: a fine-tuned epoch is exported only for a gain the validation frames
support throughout, not for one that a single stretch of them produces."""

from __future__ import annotations

import numpy as np
import pytest

from model_code.training import guard
from model_code.training import train as training
from model_code.training.track_metrics import FrameBoxes, score_tracks
from tests.unit.training.scripted_training import train_with_validations

FRAMES = 20
XS = (0.0, 100.0, 200.0)


def _frames(ids_of_frame) -> list[FrameBoxes]:
    """Three people standing still; `ids_of_frame(t)` names their ids in frame t."""
    boxes = np.array([[x, 0.0, x + 20.0, 50.0] for x in XS])
    return [FrameBoxes(np.asarray(ids_of_frame(t), np.int64), boxes) for t in range(FRAMES)]


GT = _frames(lambda t: [1, 2, 3])
PERFECT = _frames(lambda t: [11, 12, 13])
# Every 2 frames the tracker loses everyone and starts new ids: fragmented all through.
FRAGMENTED = _frames(lambda t: [100 + 3 * (t // 2) + i for i in range(3)])
# Fragmented, except one stretch (frames 0-3, one jackknife block) tracked perfectly.
ONE_GOOD_STRETCH = [
    p if t < 4 else f for t, (p, f) in enumerate(zip(PERFECT, FRAGMENTED, strict=True))
]


def test_blocks_are_contiguous_and_cover_every_frame():
    parts = guard.blocks(FRAMES)
    assert len(parts) == guard.BLOCKS
    assert np.array_equal(np.concatenate(parts), np.arange(FRAMES))
    assert len(guard.blocks(3)) == 3  # never an empty block


def test_margin_is_zero_without_spread_and_grows_with_it():
    assert guard.margin([0.1] * 5) == pytest.approx(0.0)
    assert guard.margin([0.1]) == 0.0  # one block: no noise estimate
    narrow, wide = guard.margin([0.09, 0.1, 0.11, 0.1, 0.1]), guard.margin([0.0, 0.2, 0.1, 0, 0.2])
    assert 0 < narrow < wide


def test_a_gain_all_through_the_validation_frames_clears_the_margin():
    gain = guard.tracking_gain(GT, FRAGMENTED, PERFECT)
    assert gain.idf1 > gain.idf1_margin and gain.hota > gain.hota_margin
    assert gain.id_switches <= gain.start_id_switches
    assert gain.clear


def test_a_gain_from_one_stretch_is_within_the_noise():
    gain = guard.tracking_gain(GT, FRAGMENTED, ONE_GOOD_STRETCH)
    assert gain.idf1 > 0 and gain.hota > 0  # better on the whole, as the old guard required
    assert gain.idf1 <= gain.idf1_margin
    assert not gain.clear


def test_no_gain_when_the_candidate_tracks_as_the_start():
    gain = guard.tracking_gain(GT, PERFECT, PERFECT)
    assert (gain.idf1, gain.hota) == (0.0, 0.0)
    assert not gain.clear


def test_more_id_switches_refuse_an_epoch_whatever_its_gain():
    start = training.EpochResult(0, 1.0, 1.0, 0.9, 1.0, 0.8, 0.80, 0.60, 0.7, 2)
    better = training.EpochResult(1, 1.0, 1.0, 0.9, 1.0, 0.8, 0.90, 0.70, 0.8, 2, 0.02, 0.02)
    assert training.eligible(better, start)
    more_switches = training.EpochResult(1, 1.0, 1.0, 0.9, 1.0, 0.8, 0.90, 0.70, 0.8, 3, 0.02, 0.02)
    assert not training.eligible(more_switches, start)
    within_margin = training.EpochResult(1, 1.0, 1.0, 0.9, 1.0, 0.8, 0.90, 0.70, 0.8, 2, 0.2, 0.02)
    assert not training.eligible(within_margin, start)


def _validation(frames: list[FrameBoxes]) -> training.Validation:
    return training.Validation(1.0, 0.9, 0.8, score_tracks(GT, frames), (GT, frames))


@pytest.mark.parametrize(
    ("epoch_frames", "exported"), [(ONE_GOOD_STRETCH, 0), (PERFECT, 1)], ids=["noise", "clear"]
)
def test_training_exports_only_a_gain_above_the_margin(monkeypatch, epoch_frames, exported):

    validations = [_validation(FRAGMENTED), _validation(epoch_frames)]
    result, lines = train_with_validations(monkeypatch, validations)
    assert result.best_epoch == exported
    start, epoch = result.history
    assert (epoch.val_idf1 - start.val_idf1 > epoch.idf1_margin) == (exported == 1)
    kept = [line for line in lines if line.startswith("kept_starting_model=1;")]
    assert bool(kept) == (exported == 0)
    if kept:
        assert "margin" in kept[0] and "epoch 1" in kept[0]
