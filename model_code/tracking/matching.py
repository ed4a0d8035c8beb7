"""Vectorised IoU costs and thresholded linear assignment."""

from __future__ import annotations

import numpy as np

try:
    import lap
except ImportError:  # pragma: no cover - lap is pinned; scipy is the documented fallback
    lap = None
    from scipy.optimize import linear_sum_assignment

# Cost for pairs that must never match (different labels); far above any usable threshold.
FORBIDDEN = 1e6


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in `a` (N, 4) with every box in `b` (M, 4), both xyxy; shape (N, M)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    ax1, ay1, ax2, ay2 = a[:, 0:1], a[:, 1:2], a[:, 2:3], a[:, 3:4]
    bx1, by1, bx2, by2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    iw = np.minimum(ax2, bx2) - np.maximum(ax1, bx1)
    ih = np.minimum(ay2, by2) - np.maximum(ay1, by1)
    np.maximum(iw, 0.0, out=iw)
    np.maximum(ih, 0.0, out=ih)
    inter = iw * ih
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / np.maximum(union, 1e-9)


def association_cost(
    track_boxes: np.ndarray,
    det_boxes: np.ndarray,
    det_scores: np.ndarray | None = None,
    track_labels: np.ndarray | None = None,
    det_labels: np.ndarray | None = None,
) -> np.ndarray:
    """`1 - IoU` (or `1 - IoU * score` when scores are given); label mismatches are forbidden."""
    similarity = iou_matrix(track_boxes, det_boxes)
    if det_scores is not None:
        similarity *= det_scores
    cost = 1.0 - similarity
    if track_labels is not None and det_labels is not None and cost.size:
        cost[track_labels[:, None] != det_labels] = FORBIDDEN
    return cost


def linear_assignment(
    cost: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost matching that only accepts pairs with cost <= threshold.

    Returns `(matches (K, 2) of [row, col], unmatched_rows, unmatched_cols)`, each sorted by row
    or index.
    """
    rows, cols = cost.shape
    if rows == 0 or cols == 0:
        return np.zeros((0, 2), dtype=np.intp), np.arange(rows), np.arange(cols)
    if lap is not None:
        _, row_to_col, _ = lap.lapjv(cost, extend_cost=True, cost_limit=threshold + 1e-9)
        matched_rows = np.flatnonzero(row_to_col >= 0)
        matched_cols = row_to_col[matched_rows]
    else:
        matched_rows, matched_cols = linear_sum_assignment(cost)
    keep = cost[matched_rows, matched_cols] <= threshold
    matched_rows, matched_cols = matched_rows[keep], matched_cols[keep]
    if len(matched_rows) == 0:
        return np.zeros((0, 2), dtype=np.intp), np.arange(rows), np.arange(cols)
    matches = np.stack([matched_rows, matched_cols], axis=1).astype(np.intp)
    row_free = np.ones(rows, dtype=bool)
    row_free[matched_rows] = False
    col_free = np.ones(cols, dtype=bool)
    col_free[matched_cols] = False
    return matches, np.flatnonzero(row_free), np.flatnonzero(col_free)
