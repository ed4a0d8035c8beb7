"""Class mapping onto the COCO head, the ATSS assigner and the GFL losses on hand-made cases."""

from __future__ import annotations

import math

import pytest
import torch

from model_code.detectors.nanodet import NUM_CLASSES, anchor_points, load_nanodet
from model_code.training.assigner import atss_assign
from model_code.training.losses import distribution_focal_loss, gfl_loss
from model_code.training.model import PRIOR, coco_rows, finetune_model, last_convs


def test_mapped_classes_keep_their_coco_rows_and_new_ones_start_at_the_prior():
    assert coco_rows(("Pedestrian", "forklift", "car")) == [0, None, 2]
    model, rows = finetune_model(("pedestrian", "forklift"))
    coco = load_nanodet()
    for mine, theirs in zip(last_convs(model), last_convs(coco), strict=True):
        assert torch.equal(mine.weight[0], theirs.weight[0])  # person
        assert torch.equal(mine.weight[2:], theirs.weight[NUM_CLASSES:])  # box distributions
        assert math.isclose(
            float(mine.bias[1].detach()), -math.log((1 - PRIOR) / PRIOR), rel_tol=1e-6
        )
    assert rows == [0, None]
    assert torch.equal(model.stem.conv.weight, coco.stem.conv.weight)


def test_atss_assigns_points_inside_the_box_at_the_matching_level():
    centres, strides = anchor_points(128, 128, torch.float32, torch.device("cpu"))
    levels = [16 * 16, 8 * 8, 4 * 4]
    box = torch.tensor([[40.0, 40.0, 80.0, 80.0]])
    assigned, overlap = atss_assign(centres, strides, levels, box)
    positive = assigned >= 0
    assert positive.any()
    inside = centres[positive]
    assert ((inside > 40) & (inside < 80)).all()
    assert (overlap[positive] > 0).all() and (overlap[~positive] == 0).all()
    empty, _ = atss_assign(centres, strides, levels, torch.zeros((0, 4)))
    assert (empty == -1).all()


def _reference_atss(centres, strides, levels, gt, scale=8.0, topk=9):
    """ATSS written out box by box from the paper (Zhang et al. 2020) with NanoDet-g's anchors
    (`octave_base_scale: 8`, one scale per octave): a slow, independent reference."""
    import statistics

    def iou(a, b):
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = w * h
        return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)

    points = [(float(x), float(y), float(s)) for (x, y), s in zip(centres, strides, strict=True)]
    anchors = [(x - s * scale / 2, y - s * scale / 2, x + s * scale / 2, y + s * scale / 2)
               for x, y, s in points]  # fmt: skip
    best = [(-1.0, -1)] * len(points)
    for g, box in enumerate(gt.tolist()):
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        candidates, start = [], 0
        for size in levels:
            level = range(start, start + size)
            near = sorted(level, key=lambda i: (points[i][0] - cx) ** 2 + (points[i][1] - cy) ** 2)
            candidates += near[:topk]
            start += size
        overlaps = [iou(anchors[i], box) for i in candidates]
        bar = statistics.mean(overlaps) + statistics.stdev(overlaps)
        for i, o in zip(candidates, overlaps, strict=True):
            x, y, _ = points[i]
            if o >= bar and box[0] < x < box[2] and box[1] < y < box[3] and o > best[i][0]:
                best[i] = (o, g)
    return [g for _, g in best]


def test_atss_matches_the_reference_with_nanodet_g_anchor_scale():
    from model_code.training.assigner import ANCHOR_SCALE

    assert ANCHOR_SCALE == 8.0  # octave_base_scale in nanodet-g.yml
    centres, strides = anchor_points(416, 416, torch.float32, torch.device("cpu"))
    levels = [52 * 52, 26 * 26, 13 * 13]
    boxes = torch.tensor(
        [
            [100.0, 100.0, 140.0, 200.0],  # a 40x100 px person
            [300.0, 40.0, 320.0, 90.0],  # small and far
            [20.0, 150.0, 220.0, 400.0],  # large and near
            [120.0, 110.0, 170.0, 230.0],  # overlapping the first
        ]
    )
    assigned, _ = atss_assign(centres, strides, levels, boxes)
    assert assigned.tolist() == _reference_atss(centres, strides, levels, boxes)
    # The 40x100 px person is learned at stride 8, as NanoDet-g was trained (5 gave stride 16).
    person = strides[assigned == 0]
    assert len(person) and (person == 8).all()


def test_atss_on_a_hand_computed_box_picks_the_centre_and_its_four_neighbours():
    """A 64x64 input (strides 8/16/32: 8x8, 4x4 and 2x2 points) and one 56x56 box centred on the
    stride-8 point (28, 28). Anchor boxes are 8 strides square (64, 128, 256 px).

    Candidates (top 9 per level by centre distance, all 4 at stride 32) and their IoUs:
    - stride 8: the centre point, anchor [-4,-4,60,60]: 56*56 / 64*64 = 3136/4096; its 4 edge
      neighbours (8 px off in x or y): 52*56 / (4096 + 3136 - 2912) = 2912/4320; its 4 diagonal
      neighbours: 52*52 / (4096 + 3136 - 2704) = 2704/4528;
    - stride 16: every 128 px anchor contains the box: 3136/16384 for each of the 9;
    - stride 32: every 256 px anchor contains it: 3136/65536 for each of the 4.
    The threshold is their mean + sample std (about 0.614), between the diagonal (0.597) and the
    edge (0.674) IoUs, so the positives are the centre and its 4 edge neighbours, all inside."""
    import statistics

    centres, strides = anchor_points(64, 64, torch.float32, torch.device("cpu"))
    levels = [8 * 8, 4 * 4, 2 * 2]
    candidates = (
        [3136 / 4096] + [2912 / 4320] * 4 + [2704 / 4528] * 4 + [3136 / 16384] * 9
        + [3136 / 65536] * 4
    )  # fmt: skip
    threshold = statistics.mean(candidates) + statistics.stdev(candidates)
    assert 2704 / 4528 < threshold < 2912 / 4320
    expected = {(28.0, 28.0), (20.0, 28.0), (36.0, 28.0), (28.0, 20.0), (28.0, 36.0)}

    assigned, overlap = atss_assign(centres, strides, levels, torch.tensor([[0.0, 0.0, 56, 56]]))
    positive = assigned >= 0
    assert {tuple(c) for c in centres[positive].tolist()} == expected
    assert (strides[positive] == 8).all() and (assigned[positive] == 0).all()
    got = sorted(overlap[positive].tolist())
    assert got == pytest.approx([2912 / 4320] * 4 + [3136 / 4096], abs=1e-6)


def test_dfl_is_lowest_when_the_distribution_sits_on_the_target():
    target = torch.tensor([[3.25]])
    sharp = torch.full((1, 1, 11), -20.0)
    sharp[0, 0, 3], sharp[0, 0, 4] = math.log(0.75), math.log(0.25)
    flat = torch.zeros((1, 1, 11))
    assert distribution_focal_loss(sharp, target) < distribution_focal_loss(flat, target)


def test_gfl_loss_has_gradients_and_counts_positives():
    raw = torch.zeros((1, 16 * 16 + 8 * 8 + 4 * 4, 1 + 44), requires_grad=True)
    parts = gfl_loss(
        raw, 1, 128, 128, [torch.tensor([[40.0, 40.0, 80.0, 80.0]])], [torch.tensor([0])]
    )
    parts.total.backward()
    assert parts.positives > 0 and raw.grad is not None and raw.grad.abs().sum() > 0


def test_score_scale_is_a_high_quantile_of_matched_scores_robust_to_one_outlier():
    import numpy as np

    from model_code.tracking.presets import MIN_SCORE_SCALE
    from model_code.training.train import EpochResult, TrainResult, score_scale_of

    matched = np.concatenate([np.linspace(0.2, 0.7, 199), [0.99]])
    assert 0.68 < score_scale_of(matched) < 0.71  # not the single 0.99
    assert score_scale_of(np.full(5, 0.1)) == MIN_SCORE_SCALE
    assert math.isnan(score_scale_of(np.zeros(0)))
    history = [EpochResult(i, 1.0, 1.0, 0.5, 1.0, s) for i, s in enumerate((0.85, float("nan")))]
    assert TrainResult({}, 1, history).score_scale() is None
    assert TrainResult({}, 1, history).score_scale(epoch=0) == 0.85


def test_exported_model_carries_its_score_scale_and_the_engine_tracks_with_it(tmp_path):
    import json

    from model_code import handler as inference
    from model_code.tracking import tracker_config
    from model_code.tracking.presets import preset, scaled_preset
    from model_code.training.export import write_model_dir

    model, _ = finetune_model(("person",))
    model_dir = write_model_dir(tmp_path / "m", model, ("person",), {}, score_scale=0.61237)
    assert json.loads((model_dir / "config.json").read_text())["score_scale"] == 0.6124

    engine = inference.load_model(str(model_dir))
    detector = engine.detector(engine.defaults)
    # What the pipeline builds for this model's jobs (pipeline.track_video).
    built = tracker_config(detector.name, engine.defaults.tracker)
    assert built == scaled_preset(0.6124)
    # The stock detector's scale is read off each video; this model's is fixed at its measure.
    assert preset("nanodet-g").score_scale is None and built.score_scale == 0.6124
    # A job's own tracker settings still win over the scaled ones.
    job = inference.TrackOptions.from_dict({"tracker": {"high_threshold": 0.5}}, engine.defaults)
    assert tracker_config(detector.name, job.tracker).high_threshold == 0.5
    assert tracker_config(detector.name, job.tracker).low_threshold == built.low_threshold
