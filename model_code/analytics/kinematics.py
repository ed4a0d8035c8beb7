"""Per-track path length and speed from ground points, smoothed, for many tracks at once.

Each track's point is smoothed by an exponential moving average with time constant
`SMOOTHING_S` (weights follow the real time between processed frames, so strides and gaps are
handled). Distance is measured between smoothed points at least `STEP_S` apart, never frame to
frame: box jitter of a few pixels per frame would otherwise add up to metres of false path.
The track's last raw point closes its path, so the smoothing's lag does not shorten it. Speed is
path over the track's time span; the maximum speed is the fastest such step (at least the
mean).
"""

from __future__ import annotations

import numpy as np

SMOOTHING_S = 0.3
STEP_S = 0.5


class PathState:
    """Smoothed path accumulators for tracks held in rows (see `model_code.analytics.sink`)."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = 0
        self.seen = np.zeros(0, bool)
        self.smooth = np.zeros((0, 2))
        self.anchor = np.zeros((0, 2))
        self.raw = np.zeros((0, 2))
        self.anchor_t = np.zeros(0)
        self.first_t = np.zeros(0)
        self.last_t = np.zeros(0)
        self.path = np.zeros(0)
        self.max_speed = np.zeros(0)
        self.grow(capacity)

    def grow(self, capacity: int) -> None:
        if capacity <= self.capacity:
            return
        extra = capacity - self.capacity
        for name in ("seen", "anchor_t", "first_t", "last_t", "path", "max_speed"):
            array = getattr(self, name)
            setattr(self, name, np.concatenate([array, np.zeros(extra, array.dtype)]))
        for name in ("smooth", "anchor", "raw"):
            setattr(self, name, np.concatenate([getattr(self, name), np.zeros((extra, 2))]))
        self.capacity = capacity

    def update(self, rows: np.ndarray, t: float, points: np.ndarray) -> None:
        """The tracks in `rows` seen at time `t` at `points` (M, 2)."""
        if len(rows) == 0:
            return
        new = ~self.seen[rows]
        fresh, known = rows[new], rows[~new]
        if len(fresh):
            self.seen[fresh] = True
            for name in ("smooth", "anchor", "raw"):
                getattr(self, name)[fresh] = points[new]
            self.anchor_t[fresh] = self.first_t[fresh] = self.last_t[fresh] = t
        if len(known) == 0:
            return
        p = points[~new]
        dt = np.maximum(t - self.last_t[known], 0.0)
        alpha = (1.0 - np.exp(-dt / SMOOTHING_S))[:, None]
        self.smooth[known] += alpha * (p - self.smooth[known])
        self.raw[known], self.last_t[known] = p, t
        step = t - self.anchor_t[known]
        due = step >= STEP_S
        if np.any(due):
            moving = known[due]
            distance = np.linalg.norm(self.smooth[moving] - self.anchor[moving], axis=1)
            self.path[moving] += distance
            self.max_speed[moving] = np.maximum(self.max_speed[moving], distance / step[due])
            self.anchor[moving] = self.smooth[moving]
            self.anchor_t[moving] = t

    def totals(self, row: int) -> tuple[float, float, float]:
        """(path, mean speed, max speed) of one track, its last raw point closing the path."""
        path = float(self.path[row] + np.linalg.norm(self.raw[row] - self.anchor[row]))
        duration = float(self.last_t[row] - self.first_t[row])
        mean = path / duration if duration > 0 else 0.0
        return path, mean, max(float(self.max_speed[row]), mean)
