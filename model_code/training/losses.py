"""GFL losses for NanoDet: quality focal loss, distribution focal loss and GIoU loss.

Weights follow NanoDet's config (QFL 1.0, DFL 0.25, GIoU 2.0); the box losses of each positive are
weighted by its predicted score, and everything is averaged over the number of positives.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from model_code.detectors.nanodet import REG_MAX, anchor_points
from model_code.training.assigner import atss_assign, box_iou

QFL_BETA = 2.0
WEIGHTS = {"qfl": 1.0, "dfl": 0.25, "giou": 2.0}


def quality_focal_loss(logits: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """Sum over anchors and classes; `quality` is the soft target (IoU at the gt class, else 0)."""
    scores = logits.sigmoid()
    bce = F.binary_cross_entropy_with_logits(logits, quality, reduction="none")
    return (bce * (scores - quality).abs().pow(QFL_BETA)).sum()


def distribution_focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per side: cross-entropy on the two bins around the continuous target, linearly weighted."""
    left = target.long().clamp(max=REG_MAX - 1)
    right_weight = target - left.float()
    log_probs = logits.log_softmax(-1)
    left_lp = log_probs.gather(-1, left[..., None])[..., 0]
    right_lp = log_probs.gather(-1, (left + 1)[..., None])[..., 0]
    return -(left_lp * (1 - right_weight) + right_lp * right_weight)


def giou_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    lt = torch.maximum(pred[:, :2], target[:, :2])
    rb = torch.minimum(pred[:, 2:], target[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_p = (pred[:, 2:] - pred[:, :2]).clamp(min=0).prod(-1)
    area_t = (target[:, 2:] - target[:, :2]).clamp(min=0).prod(-1)
    union = (area_p + area_t - inter).clamp(min=1e-9)
    hull = torch.maximum(pred[:, 2:], target[:, 2:]) - torch.minimum(pred[:, :2], target[:, :2])
    hull_area = hull.clamp(min=0).prod(-1).clamp(min=1e-9)
    return 1 - (inter / union - (hull_area - union) / hull_area)


@dataclass
class LossParts:
    total: torch.Tensor
    qfl: float
    dfl: float
    giou: float
    positives: int


def gfl_loss(
    raw: torch.Tensor,
    num_classes: int,
    height: int,
    width: int,
    gt_boxes: list[torch.Tensor],
    gt_classes: list[torch.Tensor],
) -> LossParts:
    """The training loss for a batch: raw head output (N, A, C + 44) and per-image targets."""
    centres, strides = anchor_points(height, width, raw.dtype, raw.device)
    levels = [(height // s) * (width // s) for s in (8, 16, 32)]
    cls_logits = raw[..., :num_classes]
    box_logits = raw[..., num_classes:].unflatten(-1, (4, REG_MAX + 1))
    bins = torch.arange(REG_MAX + 1.0, device=raw.device)
    quality = torch.zeros_like(cls_logits)
    weight_total, positives = 0.0, 0
    dfl_sum = raw.new_zeros(())
    giou_sum = raw.new_zeros(())
    for i, (boxes, classes) in enumerate(zip(gt_boxes, gt_classes, strict=True)):
        assigned, _ = atss_assign(centres, strides, levels, boxes)
        pos = (assigned >= 0).nonzero()[:, 0]
        if len(pos) == 0:
            continue
        target = boxes[assigned[pos]]
        stride = strides[pos]
        distances = (box_logits[i, pos].softmax(-1) * bins).sum(-1) * stride
        c = centres[pos]
        pred = torch.cat([c - distances[:, :2], c + distances[:, 2:]], dim=1)
        with torch.no_grad():
            iou = box_iou(pred, target).diagonal().clamp(min=0)
            weight = cls_logits[i, pos].sigmoid().max(-1).values
        quality[i, pos, classes[assigned[pos]]] = iou.to(quality.dtype)
        sides = torch.cat([c - target[:, :2], target[:, 2:] - c], dim=1) / stride
        sides = sides.clamp(min=0, max=REG_MAX - 0.01)
        dfl = distribution_focal_loss(box_logits[i, pos], sides).mean(-1)
        dfl_sum = dfl_sum + (dfl * weight).sum()
        giou_sum = giou_sum + (giou_loss(pred, target) * weight).sum()
        weight_total += float(weight.sum())
        positives += len(pos)
    qfl = quality_focal_loss(cls_logits, quality) / max(positives, 1)
    norm = max(weight_total, 1e-6)
    dfl_total = dfl_sum / norm
    giou_total = giou_sum / norm
    total = WEIGHTS["qfl"] * qfl + WEIGHTS["dfl"] * dfl_total + WEIGHTS["giou"] * giou_total
    qfl_total = float(qfl.detach())
    return LossParts(
        total, qfl_total, float(dfl_total.detach()), float(giou_total.detach()), positives
    )
