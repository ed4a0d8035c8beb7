"""From per-anchor boxes and class scores to final detections in source pixels (numpy)."""

from __future__ import annotations

import numpy as np

from model_code.boxes import cxcywh_to_xyxy
from model_code.detectors.base import Detections
from model_code.detectors.letterbox import Letterbox
from model_code.detectors.nms import batched_nms

MAX_CANDIDATES = 3000


def detections_from_scores(
    boxes_cxcywh: np.ndarray,
    class_scores: np.ndarray,
    class_ids: np.ndarray,
    *,
    score_threshold: float,
    nms_iou: float,
    placement: Letterbox,
) -> Detections:
    """Pick each anchor's best allowed class, threshold, class-aware NMS, map to source pixels.

    `boxes_cxcywh` are (N, 4) in network-input pixels; `class_scores` are (N, C) final scores
    (objectness already multiplied in); `class_ids` are the classes the caller keeps.
    """
    allowed = class_scores[:, class_ids]
    best = allowed.argmax(axis=1)
    scores = allowed[np.arange(len(allowed)), best]
    candidates = np.flatnonzero(scores >= score_threshold)
    if candidates.size == 0:
        return Detections.empty()
    if candidates.size > MAX_CANDIDATES:
        top = np.argpartition(-scores[candidates], MAX_CANDIDATES)[:MAX_CANDIDATES]
        candidates = candidates[top]
    boxes = cxcywh_to_xyxy(boxes_cxcywh[candidates].astype(np.float32))
    scores = scores[candidates].astype(np.float32)
    labels = class_ids[best[candidates]]
    keep = batched_nms(boxes, scores, labels, nms_iou)
    source_boxes = placement.to_source(boxes[keep])
    has_area = (source_boxes[:, 2] > source_boxes[:, 0]) & (source_boxes[:, 3] > source_boxes[:, 1])
    return Detections(source_boxes[has_area], scores[keep][has_area], labels[keep][has_area])
