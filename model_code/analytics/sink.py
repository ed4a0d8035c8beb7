"""The analytics sink: fed each processed frame's tracks, it keeps per-track state only and
writes analytics.json on close (docs/schemas/analytics.schema.json).

Memory is flat in video length: per track a few numbers per line and zone plus its path
accumulators; occupancy over time in at most `MAX_BUCKETS` buckets (neighbours merged and the
bucket doubled when full); the heat map a fixed grid; crossing events capped at `MAX_EVENTS`.

Lines and zones use each box's ground point (bottom centre). A point is on a side of a line (or
inside/outside a zone) only once it is at least `hysteresis` x its box height from the line (the
border); in between it keeps the side it had. A crossing counts when the side flips and the
point passed between the segment's ends, so a box jittering on the line counts once, and a
track that is lost and re-found under its id keeps its side and counts at most once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model_code.analytics.geometry import (
    distance_to_polygon,
    ground_points,
    inside_polygon,
    line_sides,
)
from model_code.analytics.homography import apply_homography, fit_homography, rms_error
from model_code.analytics.kinematics import SMOOTHING_S, STEP_S, PathState
from model_code.analytics.spec import AnalyticsSpec
from model_code.results import FrameTracks, StreamFacts, label_name

ANALYTICS_JSON = "analytics.json"
FORMAT_VERSION = 1
MAX_BUCKETS = 240
FIRST_BUCKET_S = 1.0
MAX_EVENTS = 10_000
HEATMAP_COLUMNS = 32
# A crossing's point may miss the segment's ends by this fraction of its length (box jitter).
END_TOLERANCE = 0.02


def _r(value: float, digits: int = 3) -> float:
    return round(float(value), digits)


@dataclass
class _Occupancy:
    """Tracks inside a zone over time: per bucket the peak and the mean over processed frames."""

    bucket_s: float = FIRST_BUCKET_S
    peaks: list[int] = field(default_factory=list)
    sums: list[float] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)

    def add(self, t: float, count: int) -> None:
        index = int(max(t, 0.0) // self.bucket_s)
        while index >= MAX_BUCKETS:
            self._halve()
            index = int(max(t, 0.0) // self.bucket_s)
        while len(self.peaks) <= index:
            self.peaks.append(0)
            self.sums.append(0.0)
            self.frames.append(0)
        self.peaks[index] = max(self.peaks[index], count)
        self.sums[index] += count
        self.frames[index] += 1

    def _halve(self) -> None:
        def pairs(values: list, merge: Callable[[Any, Any], Any]) -> list:
            padded = values + [values[-1] * 0] * (len(values) % 2)
            return [merge(padded[i], padded[i + 1]) for i in range(0, len(padded), 2)]

        self.peaks = pairs(self.peaks, max)
        self.sums = pairs(self.sums, lambda a, b: a + b)
        self.frames = pairs(self.frames, lambda a, b: a + b)
        self.bucket_s *= 2

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket_s": self.bucket_s,
            "peak": self.peaks,
            "mean": [
                _r(s / n if n else 0.0, 2) for s, n in zip(self.sums, self.frames, strict=True)
            ],
        }


class AnalyticsSink:
    """Computes the spec's analytics from the tracks; writes `path` (if any) on close."""

    def __init__(self, spec: AnalyticsSpec, stream: StreamFacts, path: str | Path | None) -> None:
        self.spec = spec
        self.path = Path(path) if path is not None else None
        self.class_names = stream.class_names
        fps = stream.fps if stream.fps > 0 else 30.0
        self.time_of = stream.time_of or (lambda frame: (frame - 1) / fps)
        self.width, self.height = max(int(stream.width), 1), max(int(stream.height), 1)
        self.classes = set(spec.classes) if spec.classes is not None else None
        self.starts = np.array([line.start for line in spec.lines], np.float64).reshape(-1, 2)
        self.ends = np.array([line.end for line in spec.lines], np.float64).reshape(-1, 2)
        self.polygons = [np.asarray(zone.polygon, np.float64) for zone in spec.zones]
        self.homography = None
        if spec.calibration is not None:
            self.homography = fit_homography(spec.calibration.image, spec.calibration.world)
        self._rows: dict[int, int] = {}
        self._labels: list[str] = []  # per row: the class when first seen
        self._ids: list[int] = []  # per row: the track id
        self._capacity = 0
        n_lines, n_zones = len(spec.lines), len(spec.zones)
        self.side = np.zeros((0, n_lines), np.int8)  # committed side: -1, +1, 0 unknown
        self.last_d = np.full((0, n_lines), np.nan)  # signed distance last seen
        self.last_u = np.zeros((0, n_lines))  # position along the segment last seen
        self.cross_u = np.full((0, n_lines), np.nan)  # where it last passed the line
        self.cross_t = np.full((0, n_lines), np.nan)  # and when
        self.zone_state = np.zeros((0, n_zones), np.int8)  # 1 inside, -1 outside, 0 unknown
        self.entered_t = np.full((0, n_zones), np.nan)  # current visit's start
        self.first_in = np.full((0, n_zones), np.nan)
        self.last_out = np.full((0, n_zones), np.nan)
        self.inside_s = np.zeros((0, n_zones))
        self.entries = np.zeros((0, n_zones), np.int64)
        self.last_t = np.zeros(0)
        self.pixels = PathState(0)
        self.metres = PathState(0) if self.homography is not None else None
        self.counts = [{"forward": 0, "backward": 0} for _ in spec.lines]
        self.by_class: list[dict[str, dict[str, int]]] = [{} for _ in spec.lines]
        self.events: list[list[dict[str, Any]]] = [[] for _ in spec.lines]
        self.truncated = [False for _ in spec.lines]
        self.exits = [0 for _ in spec.zones]
        self.occupancy = [_Occupancy() for _ in spec.zones]
        self.peak = [(0, 0.0) for _ in spec.zones]
        self.columns = HEATMAP_COLUMNS
        self.grid_rows = max(1, round(HEATMAP_COLUMNS * self.height / self.width))
        self.heat = np.zeros((self.grid_rows, self.columns), np.int64)
        self.frames = 0
        self.first_t: float | None = None
        self.end_t = 0.0
        self.document: dict[str, Any] | None = None

    # -- state ---------------------------------------------------------------------------

    def _grow(self, needed: int) -> None:
        if needed <= self._capacity:
            return
        capacity = max(needed, 2 * self._capacity, 16)
        extra = capacity - self._capacity

        def pad(array: np.ndarray, fill: float) -> np.ndarray:
            more = np.full((extra, *array.shape[1:]), fill, array.dtype)
            return np.concatenate([array, more])

        self.side, self.last_d = pad(self.side, 0), pad(self.last_d, np.nan)
        self.last_u, self.cross_u = pad(self.last_u, 0), pad(self.cross_u, np.nan)
        self.cross_t = pad(self.cross_t, np.nan)
        self.zone_state, self.entered_t = pad(self.zone_state, 0), pad(self.entered_t, np.nan)
        self.first_in, self.last_out = pad(self.first_in, np.nan), pad(self.last_out, np.nan)
        self.inside_s, self.entries = pad(self.inside_s, 0), pad(self.entries, 0)
        self.last_t = pad(self.last_t, 0)
        self.pixels.grow(capacity)
        if self.metres is not None:
            self.metres.grow(capacity)
        self._capacity = capacity

    def _row(self, track_id: int, label: str) -> int:
        row = self._rows.get(track_id)
        if row is None:
            row = self._rows[track_id] = len(self._rows)
            self._labels.append(label)
            self._ids.append(track_id)
            self._grow(row + 1)
        return row

    # -- the sink ------------------------------------------------------------------------

    def write(self, frame: int, image: np.ndarray, tracks: FrameTracks) -> None:
        t = float(self.time_of(frame))
        self.frames += 1
        self.first_t = t if self.first_t is None else self.first_t
        self.end_t = t
        labels = [label_name(self.class_names, int(label)) for label in tracks.labels]
        keep = [i for i, name in enumerate(labels) if self.classes is None or name in self.classes]
        boxes = np.asarray(tracks.boxes, np.float64).reshape(-1, 4)[keep]
        rows = np.array(
            [self._row(int(tracks.ids[i]), labels[i]) for i in keep], dtype=np.int64
        ).reshape(-1)
        points = ground_points(boxes)
        margin = self.spec.hysteresis * np.maximum(boxes[:, 3] - boxes[:, 1], 0.0)
        previous_t = self.last_t[rows].copy()
        self.last_t[rows] = t
        self.pixels.update(rows, t, points)
        if self.metres is not None and self.homography is not None:
            self.metres.update(rows, t, apply_homography(self.homography, points))
        if len(self.starts):
            self._lines(rows, points, margin, t, previous_t, frame)
        for zone in range(len(self.polygons)):
            self._zone(zone, rows, points, margin, t)
        if len(points):
            col = np.clip(
                (points[:, 0] / self.width * self.columns).astype(int), 0, self.columns - 1
            )
            row = np.clip(
                (points[:, 1] / self.height * self.grid_rows).astype(int), 0, self.grid_rows - 1
            )
            np.add.at(self.heat, (row, col), 1)

    def _lines(
        self,
        rows: np.ndarray,
        points: np.ndarray,
        margin: np.ndarray,
        t: float,
        previous_t: np.ndarray,
        frame: int,
    ) -> None:
        if len(rows) == 0:
            return
        d, u = line_sides(points, self.starts, self.ends)
        d = np.where(d == 0, 1e-9, d)  # a point on the line counts as just right of it
        prev_d, prev_u = self.last_d[rows], self.last_u[rows]
        passed = np.isfinite(prev_d) & (np.sign(prev_d) != np.sign(d))
        with np.errstate(divide="ignore", invalid="ignore"):
            fraction = prev_d / (prev_d - d)
            where = prev_u + (u - prev_u) * fraction
            when = previous_t[:, None] + (t - previous_t[:, None]) * fraction
        self.cross_u[rows] = np.where(passed, where, self.cross_u[rows])
        self.cross_t[rows] = np.where(passed, when, self.cross_t[rows])
        self.last_d[rows], self.last_u[rows] = d, u
        side = np.where(d >= margin[:, None], 1, np.where(d <= -margin[:, None], -1, 0))
        side = side.astype(np.int8)
        old = self.side[rows]
        flipped = (old != 0) & (side != 0) & (side != old)
        self.side[rows] = np.where(side != 0, side, old)
        for i, line in zip(*np.nonzero(flipped), strict=True):
            at = self.cross_u[rows[i], line]
            if not (-END_TOLERANCE <= at <= 1 + END_TOLERANCE):
                continue  # it went round the end of the segment
            self._crossing(
                float(self.cross_t[rows[i], line]),
                int(rows[i]),
                int(line),
                "forward" if side[i, line] > 0 else "backward",
                t,
                frame,
            )

    def _crossing(
        self, passed_t: float, row: int, line: int, direction: str, t: float, frame: int
    ) -> None:
        """Count one crossing; `passed_t` is when the point passed the line (interpolated),
        `frame` the frame that confirmed it (the hysteresis distance reached)."""
        label = self._labels[row]
        self.counts[line][direction] += 1
        per_class = self.by_class[line].setdefault(label, {"forward": 0, "backward": 0})
        per_class[direction] += 1
        if len(self.events[line]) >= MAX_EVENTS:
            self.truncated[line] = True
            return
        names = self.spec.lines[line].directions
        self.events[line].append(
            {
                "t": _r(passed_t if math.isfinite(passed_t) else t),
                "frame": frame,
                "track": self._ids[row],
                "direction": names[0] if direction == "forward" else names[1],
                "class": label,
            }
        )

    def _zone(
        self, zone: int, rows: np.ndarray, points: np.ndarray, margin: np.ndarray, t: float
    ) -> None:
        polygon = self.polygons[zone]
        if len(rows):
            inside = inside_polygon(points, polygon)
            far = distance_to_polygon(points, polygon) >= margin
            old = self.zone_state[rows, zone]
            new = np.where(far, np.where(inside, 1, -1), old).astype(np.int8)
            entering = rows[(new == 1) & (old != 1)]
            leaving = rows[(new == -1) & (old == 1)]
            self.entries[entering, zone] += 1
            self.entered_t[entering, zone] = t
            first = entering[np.isnan(self.first_in[entering, zone])]
            self.first_in[first, zone] = t
            self.inside_s[leaving, zone] += t - self.entered_t[leaving, zone]
            self.last_out[leaving, zone] = t
            self.entered_t[leaving, zone] = np.nan
            self.exits[zone] += len(leaving)
            self.zone_state[rows, zone] = new
            count = int(np.sum(new == 1))
        else:
            count = 0
        # Tracks inside but not reported this frame (occluded) still occupy the zone until
        # they leave or end; only those seen now are counted, as the camera sees them.
        self.occupancy[zone].add(t - (self.first_t or 0.0), count)
        if count > self.peak[zone][0]:
            self.peak[zone] = (count, t)

    # -- results -------------------------------------------------------------------------

    def _finish_zones(self) -> None:
        """Visits still open end at the track's last time seen."""
        for zone in range(len(self.polygons)):
            open_rows = np.flatnonzero(self.zone_state[: len(self._rows), zone] == 1)
            self.inside_s[open_rows, zone] += (
                self.last_t[open_rows] - self.entered_t[open_rows, zone]
            )
            self.last_out[open_rows, zone] = self.last_t[open_rows]
            self.zone_state[open_rows, zone] = -1

    def build(self) -> dict[str, Any]:
        self._finish_zones()
        ids = self._ids
        lines = {}
        for index, line in enumerate(self.spec.lines):
            counts = self.counts[index]
            lines[line.name] = {
                "total": counts["forward"] + counts["backward"],
                "forward": counts["forward"],
                "backward": counts["backward"],
                "directions": {
                    line.directions[0]: counts["forward"],
                    line.directions[1]: counts["backward"],
                },
                "by_class": self.by_class[index],
                "crossings": self.events[index],
                "crossings_truncated": self.truncated[index],
            }
        zones = {}
        for index, zone in enumerate(self.spec.zones):
            visited = np.flatnonzero(self.entries[: len(self._rows), index] > 0)
            dwell = [
                {
                    "track": ids[int(row)],
                    "class": self._labels[row],
                    "entries": int(self.entries[row, index]),
                    "first_in_t": _r(self.first_in[row, index]),
                    "last_out_t": _r(self.last_out[row, index]),
                    "span_s": _r(self.last_out[row, index] - self.first_in[row, index]),
                    "inside_s": _r(self.inside_s[row, index]),
                }
                for row in visited
            ]
            inside = [item["inside_s"] for item in dwell]
            zones[zone.name] = {
                "entries": int(np.sum(self.entries[: len(self._rows), index])),
                "exits": self.exits[index],
                "tracks": len(dwell),
                "mean_dwell_s": _r(sum(inside) / len(inside)) if inside else 0.0,
                "max_dwell_s": _r(max(inside)) if inside else 0.0,
                "peak_occupancy": self.peak[index][0],
                "peak_t": _r(self.peak[index][1]),
                "occupancy": self.occupancy[index].to_dict(),
                "dwell": dwell,
            }
        tracks = []
        for row in range(len(self._rows)):
            path, speed, top = self.pixels.totals(row)
            entry: dict[str, Any] = {
                "id": ids[row],
                "class": self._labels[row],
                "first_t": _r(self.pixels.first_t[row]),
                "last_t": _r(self.pixels.last_t[row]),
                "duration_s": _r(self.pixels.last_t[row] - self.pixels.first_t[row]),
                "path_px": _r(path, 2),
                "speed_px_s": _r(speed, 2),
                "max_speed_px_s": _r(top, 2),
            }
            if self.metres is not None:
                path_m, speed_m, top_m = self.metres.totals(row)
                entry.update(path_m=_r(path_m), speed_m_s=_r(speed_m), max_speed_m_s=_r(top_m))
            tracks.append(entry)
        calibration = None
        if self.spec.calibration is not None and self.homography is not None:
            calibration = {
                "points": len(self.spec.calibration.image),
                "rms_error_m": _r(
                    rms_error(
                        self.homography, self.spec.calibration.image, self.spec.calibration.world
                    ),
                    4,
                ),
                "homography": [[float(v) for v in row] for row in self.homography],
            }
        return {
            "version": FORMAT_VERSION,
            "frames": self.frames,
            "duration_s": _r(self.end_t - (self.first_t or 0.0)),
            "spec": self.spec.to_dict(),
            "settings": {
                "ground_point": "bottom centre of the box",
                "hysteresis": self.spec.hysteresis,
                "smoothing_s": SMOOTHING_S,
                "speed_step_s": STEP_S,
            },
            "lines": lines,
            "zones": zones,
            "tracks": tracks,
            "heatmap": {
                "columns": self.columns,
                "rows": self.grid_rows,
                "cell_px": [_r(self.width / self.columns, 2), _r(self.height / self.grid_rows, 2)],
                "counts": self.heat.tolist(),
            },
            "calibration": calibration,
        }

    def close(self) -> None:
        if self.document is not None:
            return
        self.document = self.build()
        if self.path is not None:
            self.path.write_text(json.dumps(self.document, separators=(",", ":")) + "\n", "utf-8")

    def figures(self) -> dict[str, Any]:
        """The headline figures for summary.json and the notification."""
        if self.document is None:
            self.close()
        assert self.document is not None
        return summary_figures(self.document)


def summary_figures(document: dict[str, Any]) -> dict[str, Any]:
    """The figures of an analytics.json document that summary.json carries."""
    tracks = document["tracks"]
    figures: dict[str, Any] = {
        "lines": {
            name: {key: line[key] for key in ("total", "forward", "backward", "directions")}
            for name, line in document["lines"].items()
        },
        "zones": {
            name: {
                key: zone[key]
                for key in ("entries", "exits", "tracks", "mean_dwell_s", "peak_occupancy")
            }
            for name, zone in document["zones"].items()
        },
        "tracks": len(tracks),
        "mean_speed_px_s": _r(_mean([t["speed_px_s"] for t in tracks]), 2),
    }
    if document.get("calibration"):
        figures["mean_speed_m_s"] = _r(_mean([t["speed_m_s"] for t in tracks]))
    return figures


def _mean(values: list[float]) -> float:
    values = [v for v in values if math.isfinite(v)]
    return sum(values) / len(values) if values else 0.0
