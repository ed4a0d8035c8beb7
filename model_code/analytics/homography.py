"""The ground-plane homography: image pixels to world metres, fitted by the normalised direct
linear transform (Hartley) to four or more point pairs, least squares through the SVD."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Below this ratio of the second-smallest to the largest singular value the points do not fix
# one homography (three of four on a line, or every point on one line).
DEGENERATE_RATIO = 1e-7


class HomographyError(ValueError):
    """The point pairs do not determine a homography."""


def _normaliser(points: np.ndarray) -> np.ndarray:
    """The similarity moving the points' centroid to 0 and their mean distance to sqrt(2)."""
    centre = points.mean(axis=0)
    spread = np.linalg.norm(points - centre, axis=1).mean()
    if spread < 1e-12:
        raise HomographyError("all points are the same")
    scale = np.sqrt(2) / spread
    return np.array(
        [[scale, 0, -scale * centre[0]], [0, scale, -scale * centre[1]], [0, 0, 1]], np.float64
    )


def _homogeneous(points: np.ndarray) -> np.ndarray:
    return np.column_stack([points, np.ones(len(points))])


def fit_homography(
    image: Sequence[Sequence[float]] | np.ndarray, world: Sequence[Sequence[float]] | np.ndarray
) -> np.ndarray:
    """The 3x3 matrix H with world ~ H @ [x, y, 1], from n >= 4 pairs (least squares)."""
    src = np.asarray(image, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(world, dtype=np.float64).reshape(-1, 2)
    if len(src) != len(dst) or len(src) < 4:
        raise HomographyError("a homography needs at least 4 image points with their world points")
    t_src, t_dst = _normaliser(src), _normaliser(dst)
    a = (_homogeneous(src) @ t_src.T)[:, :2]
    b = (_homogeneous(dst) @ t_dst.T)[:, :2]
    rows = np.zeros((2 * len(a), 9))
    x, y, u, v = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    one, zero = np.ones_like(x), np.zeros_like(x)
    rows[0::2] = np.column_stack([-x, -y, -one, zero, zero, zero, u * x, u * y, u])
    rows[1::2] = np.column_stack([zero, zero, zero, -x, -y, -one, v * x, v * y, v])
    _, singular, vt = np.linalg.svd(rows)
    if singular[-2] < DEGENERATE_RATIO * singular[0]:
        raise HomographyError(
            "the points do not fix a ground plane: use 4 or more points, no 3 of them on a line"
        )
    h_norm = vt[-1].reshape(3, 3)
    h = np.linalg.inv(t_dst) @ h_norm @ t_src
    if abs(np.linalg.det(h)) < 1e-12 * np.abs(h).max() ** 3:
        raise HomographyError("the image points lie on one line; spread them over the ground")
    h = h / h[2, 2] if abs(h[2, 2]) > 1e-12 else h
    # Every calibration point must map in front of the camera (positive w), or the plane is
    # folded through the horizon.
    w = _homogeneous(src) @ h[2]
    if not (np.all(w > 0) or np.all(w < 0)):
        raise HomographyError("the points straddle the horizon; pick points on the ground")
    return h


def apply_homography(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2) image points mapped through H to (N, 2) world points."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    mapped = _homogeneous(points) @ h.T
    return mapped[:, :2] / mapped[:, 2:3]


def rms_error(
    h: np.ndarray, image: Sequence[Sequence[float]], world: Sequence[Sequence[float]]
) -> float:
    """Root-mean-square distance (world units) between the mapped image points and their pairs."""
    mapped = apply_homography(h, np.asarray(image, dtype=np.float64))
    diff = mapped - np.asarray(world, dtype=np.float64).reshape(-1, 2)
    return float(np.sqrt(np.mean(np.sum(diff**2, axis=1))))
