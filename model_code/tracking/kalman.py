"""Batched constant-velocity Kalman filter on (cx, cy, aspect, height) boxes.

The state of each track is `(cx, cy, a, h, vcx, vcy, va, vh)`. The motion model moves each of the
four box coordinates by its own velocity, the process and measurement noise are diagonal, and only
positions are measured. Each coordinate is therefore an independent 2-state (position, velocity)
filter, and the 8x8 covariance is four 2x2 blocks. We store just those blocks,
`cov[:, 0]` = var(position), `cov[:, 1]` = cov(position, velocity), `cov[:, 2]` = var(velocity),
each `(N, 4)`, which makes predict and update a handful of elementwise numpy operations over all
tracks at once, with the same result as the full matrix filter.

Noise is proportional to the box height (position std h/20, velocity std h/160), except for the
aspect ratio, which gets small fixed values.
"""

from __future__ import annotations

import numpy as np

POSITION_WEIGHT = 1.0 / 20.0
VELOCITY_WEIGHT = 1.0 / 160.0

# Per-coordinate std = height * weight + constant (the aspect ratio does not scale with height).
_HEIGHT_SCALED = np.array([1.0, 1.0, 0.0, 1.0])
_ASPECT_ONLY = np.array([0.0, 0.0, 1.0, 0.0])
_PROCESS_POS = (POSITION_WEIGHT * _HEIGHT_SCALED, 1e-2 * _ASPECT_ONLY)
_PROCESS_VEL = (VELOCITY_WEIGHT * _HEIGHT_SCALED, 1e-5 * _ASPECT_ONLY)
_MEASUREMENT = (POSITION_WEIGHT * _HEIGHT_SCALED, 1e-1 * _ASPECT_ONLY)
_INIT_POS = (2.0 * POSITION_WEIGHT * _HEIGHT_SCALED, 1e-2 * _ASPECT_ONLY)
_INIT_VEL = (10.0 * VELOCITY_WEIGHT * _HEIGHT_SCALED, 1e-5 * _ASPECT_ONLY)


def _variance(height: np.ndarray, weights: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    std = height[:, None] * weights[0] + weights[1]
    return std * std


def xyxy_to_xyah(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) corner boxes to (N, 4) `(cx, cy, w/h, h)` measurements."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    out = np.empty((len(boxes), 4))
    out[:, 0] = boxes[:, 0] + 0.5 * w
    out[:, 1] = boxes[:, 1] + 0.5 * h
    out[:, 2] = w / np.maximum(h, 1e-6)
    out[:, 3] = h
    return out


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    """(N, >=4) `(cx, cy, w/h, h, ...)` to (N, 4) corner boxes."""
    half_h = 0.5 * xyah[:, 3]
    half_w = half_h * xyah[:, 2]
    out = np.empty((len(xyah), 4))
    out[:, 0] = xyah[:, 0] - half_w
    out[:, 1] = xyah[:, 1] - half_h
    out[:, 2] = xyah[:, 0] + half_w
    out[:, 3] = xyah[:, 1] + half_h
    return out


def initiate(measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tracks at rest on (N, 4) `xyah` measurements: mean (N, 8), covariance blocks (N, 3, 4)."""
    n = len(measurements)
    mean = np.zeros((n, 8))
    mean[:, :4] = measurements
    cov = np.zeros((n, 3, 4))
    height = measurements[:, 3]
    cov[:, 0] = _variance(height, _INIT_POS)
    cov[:, 2] = _variance(height, _INIT_VEL)
    return mean, cov


def predict(mean: np.ndarray, cov: np.ndarray) -> None:
    """Advance every track by one frame, in place."""
    height = mean[:, 3].copy()
    mean[:, :4] += mean[:, 4:]
    pos_var, cross, vel_var = cov[:, 0], cov[:, 1], cov[:, 2]
    pos_var += 2.0 * cross + vel_var + _variance(height, _PROCESS_POS)
    cross += vel_var
    vel_var += _variance(height, _PROCESS_VEL)


def update(
    mean: np.ndarray,
    cov: np.ndarray,
    measurements: np.ndarray,
    noise_scale: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Correct (K, 8) means and (K, 3, 4) covariances with (K, 4) `xyah` measurements.

    `noise_scale` (K,) multiplies each measurement's noise variance (e.g. lower for confident
    detections). Returns new arrays; the inputs are left untouched.
    """
    mean = mean.copy()
    cov = cov.copy()
    pos_var, cross, vel_var = cov[:, 0], cov[:, 1], cov[:, 2]
    noise = _variance(mean[:, 3], _MEASUREMENT)
    if noise_scale is not None:
        noise *= noise_scale[:, None]
    innovation_var = pos_var + noise
    gain_pos = pos_var / innovation_var
    gain_vel = cross / innovation_var
    innovation = measurements - mean[:, :4]
    mean[:, :4] += gain_pos * innovation
    mean[:, 4:] += gain_vel * innovation
    vel_var -= gain_vel * cross
    cross -= gain_pos * cross
    pos_var -= gain_pos * pos_var
    return mean, cov
