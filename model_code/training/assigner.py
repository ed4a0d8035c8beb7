"""ATSS label assignment (Zhang et al. 2020), as NanoDet-g was trained with.

For each ground-truth box, the `topk` anchor points per level closest to its centre are
candidates; those whose anchor box (`ANCHOR_SCALE` strides square) overlaps the box by at least
the candidates' mean + std IoU, and whose centre lies inside the box, are positives. An anchor
claimed by several boxes goes to the one it overlaps most. It has one parameter, needs no
predictions (so it is stable from the first iteration of a fine-tune), and is what the shipped
weights learned under.
"""

from __future__ import annotations

import torch

# Anchor box side in strides: NanoDet-g's `octave_base_scale: 8` (with one scale per octave) in
# RangiLyu/nanodet config/legacy_v0.x_configs/nanodet-g.yml, the config its weights were trained
# with. A smaller scale moves people to coarser levels (a 40x100 px person to stride 16 at 5).
ANCHOR_SCALE = 8.0


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU matrix of xyxy boxes, (len(a), len(b))."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).clamp(min=0).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).clamp(min=0).prod(-1)
    return inter / (area_a[:, None] + area_b[None, :] - inter).clamp(min=1e-9)


def atss_assign(
    centres: torch.Tensor,
    strides: torch.Tensor,
    level_sizes: list[int],
    gt_boxes: torch.Tensor,
    topk: int = 9,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(index of the assigned gt box or -1, IoU of the anchor box with it) per anchor point."""
    count = centres.shape[0]
    assigned = torch.full((count,), -1, dtype=torch.long, device=centres.device)
    overlap = torch.zeros(count, device=centres.device)
    if len(gt_boxes) == 0:
        return assigned, overlap
    half = strides * (ANCHOR_SCALE / 2)
    anchors = torch.cat([centres - half, centres + half], dim=1)
    ious = box_iou(anchors, gt_boxes)  # (A, G)
    gt_centres = (gt_boxes[:, :2] + gt_boxes[:, 2:]) / 2
    distances = torch.cdist(centres, gt_centres)  # (A, G)
    candidates = []
    start = 0
    for size in level_sizes:
        k = min(topk, size)
        candidates.append(
            distances[start : start + size].topk(k, dim=0, largest=False).indices + start
        )
        start += size
    candidate_idx = torch.cat(candidates, dim=0)  # (K, G)
    candidate_iou = ious.gather(0, candidate_idx)
    threshold = candidate_iou.mean(0) + candidate_iou.std(0, unbiased=len(candidate_idx) > 1)
    is_pos = candidate_iou >= threshold[None, :]
    cx, cy = centres[candidate_idx, 0], centres[candidate_idx, 1]
    inside = (
        (cx > gt_boxes[None, :, 0])
        & (cx < gt_boxes[None, :, 2])
        & (cy > gt_boxes[None, :, 1])
        & (cy < gt_boxes[None, :, 3])
    )
    is_pos &= inside
    chosen = torch.full_like(ious, -1.0)
    gt_index = torch.arange(len(gt_boxes), device=centres.device).expand_as(candidate_idx)
    anchor_idx, gt_idx = candidate_idx[is_pos], gt_index[is_pos]
    chosen[anchor_idx, gt_idx] = ious[anchor_idx, gt_idx]
    best_iou, best_gt = chosen.max(1)
    positive = best_iou >= 0
    assigned[positive] = best_gt[positive]
    overlap[positive] = best_iou[positive]
    return assigned, overlap
