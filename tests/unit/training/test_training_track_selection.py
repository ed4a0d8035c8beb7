"""Tracking metrics for checkpoint selection, and the guard that never exports a worse tracker."""

from __future__ import annotations

import numpy as np
import pytest

from model_code.training import train as training
from model_code.training.track_metrics import FrameBoxes, TrackScores, score_tracks
from tests.unit.training.scripted_training import train_with_validations


def _box(x: float) -> np.ndarray:
    return np.array([x, 0.0, x + 20.0, 50.0])


def _frames(ids_per_frame: list[list[int]], xs_per_frame: list[list[float]]) -> list[FrameBoxes]:
    return [
        FrameBoxes(np.array(ids, dtype=np.int64), np.array([_box(x) for x in xs]).reshape(-1, 4))
        for ids, xs in zip(ids_per_frame, xs_per_frame, strict=True)
    ]


def test_perfect_tracks_score_one_and_a_swap_costs_identity():
    xs = [[0.0, 100.0]] * 4
    gt = _frames([[1, 2]] * 4, xs)
    perfect = score_tracks(gt, _frames([[7, 8]] * 4, xs))
    assert (perfect.mota, perfect.idf1) == (1.0, 1.0)
    assert perfect.hota == pytest.approx(1.0)
    swapped = score_tracks(gt, _frames([[7, 8], [7, 8], [8, 7], [8, 7]], xs))
    assert swapped.mota == pytest.approx(1 - 2 / 8)  # two ID switches, no misses
    assert swapped.idf1 == pytest.approx(0.5)
    assert swapped.hota < perfect.hota
    missing = score_tracks(gt, _frames([[7]] * 4, [[0.0]] * 4))
    assert missing.mota == pytest.approx(0.5) and missing.idf1 == pytest.approx(2 / 3)


def test_agrees_with_trackers_evaluation(tmp_path):
    evaluate = pytest.importorskip("trackers.eval").evaluate_mot_sequence
    rng = np.random.default_rng(3)
    gt_rows, hyp_rows, gt, hyp = [], [], [], []
    starts = rng.uniform(0, 300, size=6)
    for frame in range(1, 31):
        xs = starts + 3.0 * frame
        present = rng.random(6) > 0.1
        ids = np.flatnonzero(present) + 1
        gt.append(FrameBoxes(ids, np.array([_box(x) for x in xs[present]]).reshape(-1, 4)))
        shown = present & (rng.random(6) > 0.15)
        noisy = xs[shown] + rng.normal(0, 4, shown.sum())
        hyp_ids = np.flatnonzero(shown) + 1 + 10 * (frame > 15) * (np.flatnonzero(shown) % 2)
        hyp.append(FrameBoxes(hyp_ids, np.array([_box(x) for x in noisy]).reshape(-1, 4)))
        for rows, f in ((gt_rows, gt[-1]), (hyp_rows, hyp[-1])):
            for i, b in zip(f.ids, f.boxes, strict=True):
                rows.append(f"{frame},{i},{b[0]},{b[1]},{b[2] - b[0]},{b[3] - b[1]},1,1,1\n")
    (tmp_path / "gt.txt").write_text("".join(gt_rows))
    (tmp_path / "hyp.txt").write_text("".join(hyp_rows))
    ref = evaluate(tmp_path / "gt.txt", tmp_path / "hyp.txt", ["CLEAR", "Identity", "HOTA"])
    mine = score_tracks(gt, hyp)
    assert mine.mota == pytest.approx(ref.CLEAR.MOTA, abs=1e-9)
    assert mine.idf1 == pytest.approx(ref.Identity.IDF1, abs=1e-9)
    assert mine.hota == pytest.approx(ref.HOTA.HOTA, abs=1e-9)


def _epoch(epoch: int, idf1: float, hota: float, map50: float, mota: float = 0.5):
    return training.EpochResult(epoch, 1.0, 1.0, map50, 1.0, 0.8, idf1, hota, mota)


def test_selection_ranks_by_tracking_and_refuses_worse_than_the_start():
    start = _epoch(0, 0.80, 0.60, 0.90)
    better_map_worse_idf1 = _epoch(1, 0.75, 0.62, 0.95)
    better_tracks = _epoch(2, 0.82, 0.61, 0.91)
    assert not training.eligible(better_map_worse_idf1, start)
    assert not training._better(better_map_worse_idf1, start, start)
    assert training._better(better_tracks, start, start)
    # Without track ids, mAP decides (and guards).
    untracked = training.EpochResult(0, 1.0, 1.0, 0.9, 1.0)
    assert training._better(training.EpochResult(1, 1.0, 1.0, 0.95, 1.0), untracked, untracked)
    assert not training.eligible(training.EpochResult(1, 1.0, 1.0, 0.85, 1.0), untracked)


def test_training_keeps_the_starting_model_when_tracking_gets_worse(monkeypatch):

    # Detection improves every epoch while tracking gets worse: the start must be exported.
    validations = [
        training.Validation(1.0, 0.90, 0.8, TrackScores(0.5, 0.92, 0.70)),
        training.Validation(0.9, 0.95, 0.8, TrackScores(0.5, 0.84, 0.66)),
        training.Validation(0.8, 0.96, 0.8, TrackScores(0.6, 0.90, 0.69)),
    ]
    result, lines = train_with_validations(monkeypatch, validations)
    assert result.best_epoch == 0 and result.kept_starting_model
    # Exported as the starting model runs today: no fixed score scale in config.json.
    assert result.score_scale() is None and result.score_scale(epoch=0) == 0.8
    assert result.selected_by == "tracking"
    assert any(line.startswith("kept_starting_model=1;") for line in lines)
    assert "val_idf1=0.84000;" in lines[1]


def test_the_starting_model_is_validated_with_the_stock_tracker(monkeypatch):
    from model_code.training.evaluate import ImageResult
    from model_code.training.frames import Sample

    built = []

    class Recording(training.ByteTracker):
        def __init__(self, config, frame_rate, upright_labels=None):
            built.append(config)
            super().__init__(config, frame_rate=frame_rate, upright_labels=upright_labels)

    monkeypatch.setattr(training, "ByteTracker", Recording)
    box = np.array([[10.0, 10.0, 30.0, 50.0]], np.float32)
    one = np.zeros(1, np.int64)
    samples = [Sample(np.zeros((64, 64, 3), np.uint8), box, one, "s", one) for _ in range(3)]
    results = [ImageResult(box, np.array([0.7]), one, box, one) for _ in range(3)]
    training.track_validation(samples, results, None)
    training.track_validation(samples, results, 0.7)
    # The stock preset reads the scale off the detections; a fine-tuned epoch's is fixed.
    assert [c.score_scale for c in built] == [None, 0.7]
