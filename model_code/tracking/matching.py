"""Vectorised IoU costs and thresholded linear assignment."""

from __future__ import annotations

import numpy as np

from model_code.boxes import iou_matrix

try:
    import lap
except ImportError:  # pragma: no cover - lap is pinned; scipy is the documented fallback
    lap = None
    from scipy.optimize import linear_sum_assignment

# Cost for pairs that must never match (different labels); far above any usable threshold.
FORBIDDEN = 1e6


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
