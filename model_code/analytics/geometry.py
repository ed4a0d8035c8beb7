"""Lines and polygons over many ground points at once (vectorised over points and shapes).

A line is a directed segment A->B. `line_sides` gives each point's signed distance from the
line through A and B (positive on the right-hand side of someone at A looking at B, on the
screen where y grows downwards) and its position along the segment (0 at A, 1 at B).
"""

from __future__ import annotations

import numpy as np


def line_sides(
    points: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(signed distance (M, L), position along the segment (M, L)) of M points to L lines."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 1, 2)
    direction = (ends - starts)[None, :, :]  # (1, L, 2)
    offset = points - starts[None, :, :]  # (M, L, 2)
    length = np.linalg.norm(direction, axis=2)
    cross = direction[..., 0] * offset[..., 1] - direction[..., 1] * offset[..., 0]
    along = np.sum(direction * offset, axis=2) / length**2
    return cross / length, along


def inside_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(M,) bool: the points inside the polygon (even-odd rule; any simple polygon)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x, y = points[:, 0:1], points[:, 1:2]
    x1, y1 = polygon[:, 0][None, :], polygon[:, 1][None, :]
    x2, y2 = np.roll(polygon[:, 0], -1)[None, :], np.roll(polygon[:, 1], -1)[None, :]
    spans = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    return np.sum(spans & (x < x_cross), axis=1) % 2 == 1


def distance_to_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(M,) distance from each point to the polygon's border."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 1, 2)
    a = polygon[None, :, :]
    edge = np.roll(polygon, -1, axis=0)[None, :, :] - a
    offset = points - a
    squared = np.maximum(np.sum(edge**2, axis=2), 1e-12)
    t = np.clip(np.sum(offset * edge, axis=2) / squared, 0.0, 1.0)
    nearest = a + t[..., None] * edge
    return np.min(np.linalg.norm(points - nearest, axis=2), axis=1)


def ground_points(boxes_xyxy: np.ndarray) -> np.ndarray:
    """(M, 2) bottom centres of xyxy boxes: where each object touches the ground."""
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    return np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]])
