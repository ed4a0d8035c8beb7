"""Class mapping onto the COCO head, the ATSS assigner and the GFL losses on hand-made cases."""

from __future__ import annotations

import math

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


def test_tracker_thresholds_follow_the_fine_tuned_scores_down_never_up():
    from model_code.tracking import TrackerConfig
    from model_code.training.train import EpochResult, TrainResult

    def result(*scores: float) -> TrainResult:
        history = [EpochResult(i, 1.0, 1.0, 0.5, 1.0, s) for i, s in enumerate(scores)]
        return TrainResult({}, len(scores) - 1, history)

    lowered = result(0.8, 0.4).tracker_overrides()
    defaults = TrackerConfig()
    assert lowered["new_track_threshold"] == round(defaults.new_track_threshold / 2, 3)
    assert lowered["high_threshold"] == round(defaults.high_threshold / 2, 3)
    TrackerConfig.from_dict(lowered)  # a valid tracker configuration
    assert result(0.6, 0.7).tracker_overrides() == {}
    assert result(0.6, float("nan")).tracker_overrides() == {}
    assert result(0.8, 0.4).tracker_overrides(epoch=0) == {}
