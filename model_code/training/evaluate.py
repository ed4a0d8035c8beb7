"""Detection metrics: AP at IoU 0.5 per class (all-point interpolation, as PASCAL VOC 2010+),
and recall / precision at a score threshold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model_code.boxes import iou_matrix


@dataclass(frozen=True)
class ImageResult:
    """Detections and ground truth of one image; boxes are xyxy."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    gt_boxes: np.ndarray
    gt_classes: np.ndarray


def _matches(
    results: list[ImageResult], cls: int, iou: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """(scores, is-true-positive) of every detection of `cls`, best first; and the gt count."""
    scores, hits = [], []
    total = 0
    for r in results:
        gt = r.gt_boxes[r.gt_classes == cls]
        total += len(gt)
        mine = r.classes == cls
        boxes, conf = r.boxes[mine], r.scores[mine]
        order = np.argsort(-conf, kind="stable")
        used = np.zeros(len(gt), bool)
        overlaps = iou_matrix(boxes[order], gt) if len(gt) and len(order) else None
        for rank, index in enumerate(order):
            hit = False
            if overlaps is not None:
                candidates = np.where(~used, overlaps[rank], -1.0)
                best = int(candidates.argmax())
                if candidates[best] >= iou:
                    used[best] = hit = True
            scores.append(conf[index])
            hits.append(hit)
    order = np.argsort(-np.array(scores), kind="stable")
    return np.array(scores)[order], np.array(hits, bool)[order], total


def average_precision(
    results: list[ImageResult], num_classes: int, iou: float = 0.5
) -> list[float]:
    """AP per class (NaN for a class with no ground truth)."""
    aps = []
    for cls in range(num_classes):
        _, hits, total = _matches(results, cls, iou)
        if total == 0:
            aps.append(float("nan"))
            continue
        tp = np.cumsum(hits)
        recall = tp / total
        precision = tp / np.arange(1, len(hits) + 1)
        recall = np.concatenate([[0.0], recall, [1.0]])
        precision = np.concatenate([[0.0], precision, [0.0]])
        precision = np.maximum.accumulate(precision[::-1])[::-1]
        steps = np.where(recall[1:] != recall[:-1])[0]
        aps.append(float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1])))
    return aps


def mean_ap(results: list[ImageResult], num_classes: int, iou: float = 0.5) -> float:
    aps = [a for a in average_precision(results, num_classes, iou) if not np.isnan(a)]
    return float(np.mean(aps)) if aps else 0.0


def recall_precision(
    results: list[ImageResult], num_classes: int, score: float, iou: float = 0.5
) -> tuple[float, float]:
    """Recall and precision over all classes of the detections scoring at least `score`."""
    tp = fp = total = 0
    for cls in range(num_classes):
        scores, hits, count = _matches(results, cls, iou)
        kept = hits[scores >= score]
        tp += int(kept.sum())
        fp += int((~kept).sum())
        total += count
    return tp / max(total, 1), tp / max(tp + fp, 1)


def true_positive_scores(
    results: list[ImageResult], num_classes: int, iou: float = 0.5
) -> np.ndarray:
    """Scores of the detections that match a ground-truth box (best first, per class)."""
    found = []
    for cls in range(num_classes):
        scores, hits, _ = _matches(results, cls, iou)
        found.append(scores[hits])
    return np.concatenate(found) if found else np.zeros(0)
