"""Class-aware non-maximum suppression: numpy for CPU paths, torch for tensors on any device."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from model_code.boxes import iou_matrix

if TYPE_CHECKING:
    import torch


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept by greedy NMS, best score first."""
    order = np.argsort(-scores, kind="stable")
    boxes = boxes.astype(np.float64, copy=False)
    keep: list[int] = []
    while order.size:
        best = order[0]
        keep.append(int(best))
        rest = order[1:]
        order = rest[iou_matrix(boxes[best : best + 1], boxes[rest])[0] <= iou_threshold]
    return np.array(keep, dtype=np.int64)


def _offset_by_class(boxes: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Shift each class's boxes into a region of its own, so classes never overlap."""
    if boxes.size == 0:
        return boxes
    span = float(boxes.max() - min(boxes.min(), 0.0)) + 1.0
    return boxes + (labels.astype(np.float64) * span)[:, None]


def batched_nms(
    boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """Class-aware NMS: a box only suppresses boxes of its own class. Returns kept indices."""
    if len(scores) == 0:
        return np.zeros(0, dtype=np.int64)
    shifted = _offset_by_class(boxes.astype(np.float64), labels)
    return nms(shifted, scores, iou_threshold)


def batched_nms_torch(
    boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """Class-aware NMS on tensors (any device). Returns kept indices on the input's device.

    The pairwise IoU matrix is computed on the tensors' device; the greedy sweep runs on the
    boolean overlap matrix on the CPU, one vectorised row operation per kept box.
    """
    import torch

    if scores.numel() == 0:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    boxes = boxes.float()
    span = (boxes.max() - torch.clamp(boxes.min(), max=0.0)) + 1.0
    shifted = boxes + (labels.to(boxes.dtype) * span)[:, None]
    order = torch.argsort(scores.float(), descending=True, stable=True)
    shifted = shifted[order]
    lt = torch.maximum(shifted[:, None, :2], shifted[None, :, :2])
    rb = torch.minimum(shifted[:, None, 2:], shifted[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=2)
    areas = (shifted[:, 2:] - shifted[:, :2]).clamp(min=0).prod(dim=1)
    union = areas[:, None] + areas[None, :] - inter
    overlap = (inter > iou_threshold * union).cpu().numpy()
    suppressed = np.zeros(len(order), dtype=bool)
    keep: list[int] = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= overlap[i]
    kept = torch.as_tensor(keep, dtype=torch.int64, device=order.device)
    return order[kept]
