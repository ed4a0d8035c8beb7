"""The analytics spec of one job: named lines and zones in source pixels, optional classes,
optional ground-plane calibration. `parse_spec` checks untrusted input and names the bad field.

Shape (docs/schemas/analytics-spec.schema.json)::

    {"lines": [{"name": "door", "points": [[x1, y1], [x2, y2]], "directions": ["in", "out"]}],
     "zones": [{"name": "desk", "polygon": [[x, y], [x, y], [x, y], ...]}],
     "classes": ["person"],
     "calibration": {"image": [[x, y], ...], "world": [[X, Y], ...]},
     "hysteresis": 0.1}

A line's forward direction crosses it from the left-hand to the right-hand side of someone
standing on its first point and looking at its second, on the screen (a line drawn left to
right: forward is downwards across it). `directions` names forward and backward (default
"forward", "backward"). `hysteresis` is the distance, as a fraction of the box height, that a
ground point must reach on a side of a line or zone border before it counts as being there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_LINES = 64
MAX_ZONES = 64
MAX_POLYGON_POINTS = 256
MAX_CALIBRATION_POINTS = 64
MAX_NAME = 64
DEFAULT_HYSTERESIS = 0.1
MAX_HYSTERESIS = 1.0
SPEC_KEYS = ("lines", "zones", "classes", "calibration", "hysteresis")
LINE_KEYS = ("name", "points", "directions")
ZONE_KEYS = ("name", "polygon")
CALIBRATION_KEYS = ("image", "world")
DEFAULT_DIRECTIONS = ("forward", "backward")


class SpecError(ValueError):
    """A bad analytics spec; the message names the field (``analytics.lines[0].points``)."""


@dataclass(frozen=True)
class LineSpec:
    name: str
    start: tuple[float, float]
    end: tuple[float, float]
    directions: tuple[str, str] = DEFAULT_DIRECTIONS


@dataclass(frozen=True)
class ZoneSpec:
    name: str
    polygon: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Calibration:
    image: tuple[tuple[float, float], ...]
    world: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class AnalyticsSpec:
    lines: tuple[LineSpec, ...] = ()
    zones: tuple[ZoneSpec, ...] = ()
    classes: tuple[str, ...] | None = None
    calibration: Calibration | None = None
    hysteresis: float = DEFAULT_HYSTERESIS

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "lines": [
                {
                    "name": line.name,
                    "points": [list(line.start), list(line.end)],
                    "directions": list(line.directions),
                }
                for line in self.lines
            ],
            "zones": [
                {"name": zone.name, "polygon": [list(p) for p in zone.polygon]}
                for zone in self.zones
            ],
            "hysteresis": self.hysteresis,
        }
        if self.classes is not None:
            out["classes"] = list(self.classes)
        if self.calibration is not None:
            out["calibration"] = {
                "image": [list(p) for p in self.calibration.image],
                "world": [list(p) for p in self.calibration.world],
            }
        return out


def _object(value: Any, where: str, keys: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SpecError(f"{where} must be a JSON object, got {value!r}")
    unknown = sorted(map(str, set(value) - set(keys)))
    if unknown:
        raise SpecError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(keys)}")
    return value


def _list(value: Any, where: str, low: int, high: int) -> list[Any]:
    if not isinstance(value, list):
        raise SpecError(f"{where} must be a list, got {value!r}")
    if not low <= len(value) <= high:
        count = f"exactly {low}" if low == high else f"{low} to {high}"
        raise SpecError(f"{where} must have {count} item(s), got {len(value)}")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SpecError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def _point(value: Any, where: str) -> tuple[float, float]:
    pair = _list(value, where, 2, 2)
    return _number(pair[0], f"{where}[0]"), _number(pair[1], f"{where}[1]")


def _points(value: Any, where: str, low: int, high: int) -> tuple[tuple[float, float], ...]:
    return tuple(
        _point(item, f"{where}[{i}]") for i, item in enumerate(_list(value, where, low, high))
    )


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise SpecError(f"{where} must be a non-empty name of at most {MAX_NAME} characters")
    return value.strip()


def _unique(names: list[str], where: str) -> None:
    seen = set()
    for i, name in enumerate(names):
        if name in seen:
            raise SpecError(f"{where}[{i}].name {name!r} is used twice; names must be unique")
        seen.add(name)


def _line(value: Any, where: str) -> LineSpec:
    data = _object(value, where, LINE_KEYS)
    for key in ("name", "points"):
        if key not in data:
            raise SpecError(f"{where} is missing '{key}'")
    start, end = _points(data["points"], f"{where}.points", 2, 2)
    if math.dist(start, end) < 1e-6:
        raise SpecError(f"{where}.points: the two points are the same; a line needs two")
    directions = DEFAULT_DIRECTIONS
    if "directions" in data:
        raw = _list(data["directions"], f"{where}.directions", 2, 2)
        first, second = (_name(d, f"{where}.directions[{i}]") for i, d in enumerate(raw))
        if first == second:
            raise SpecError(f"{where}.directions must be two different names")
        directions = (first, second)
    return LineSpec(_name(data["name"], f"{where}.name"), start, end, directions)


def polygon_area(points: Sequence[tuple[float, float]]) -> float:
    """The polygon's area (shoelace; absolute value)."""
    xy = np.asarray(points, dtype=np.float64)
    x, y = xy[:, 0], xy[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def _zone(value: Any, where: str) -> ZoneSpec:
    data = _object(value, where, ZONE_KEYS)
    for key in ("name", "polygon"):
        if key not in data:
            raise SpecError(f"{where} is missing '{key}'")
    polygon = _points(data["polygon"], f"{where}.polygon", 3, MAX_POLYGON_POINTS)
    if polygon_area(polygon) < 1.0:
        raise SpecError(f"{where}.polygon encloses no area (its points are on one line)")
    return ZoneSpec(_name(data["name"], f"{where}.name"), polygon)


def _calibration(value: Any, where: str) -> Calibration:
    data = _object(value, where, CALIBRATION_KEYS)
    for key in CALIBRATION_KEYS:
        if key not in data:
            raise SpecError(f"{where} is missing '{key}'")
    image = _points(data["image"], f"{where}.image", 4, MAX_CALIBRATION_POINTS)
    world = _points(data["world"], f"{where}.world", 4, MAX_CALIBRATION_POINTS)
    if len(image) != len(world):
        raise SpecError(
            f"{where}: image and world must list the same points, got {len(image)} and {len(world)}"
        )
    calibration = Calibration(image, world)
    from model_code.analytics.homography import HomographyError, fit_homography

    try:
        fit_homography(image, world)
    except HomographyError as error:
        raise SpecError(f"{where}: {error}") from None
    return calibration


def parse_spec(data: Any, where: str = "analytics") -> AnalyticsSpec:
    """The spec from untrusted JSON data; raises `SpecError` naming the bad field."""
    spec = _object(data, where, SPEC_KEYS)
    lines = tuple(
        _line(item, f"{where}.lines[{i}]")
        for i, item in enumerate(_list(spec.get("lines", []), f"{where}.lines", 0, MAX_LINES))
    )
    zones = tuple(
        _zone(item, f"{where}.zones[{i}]")
        for i, item in enumerate(_list(spec.get("zones", []), f"{where}.zones", 0, MAX_ZONES))
    )
    _unique([line.name for line in lines], f"{where}.lines")
    _unique([zone.name for zone in zones], f"{where}.zones")
    classes = None
    if "classes" in spec:
        raw = _list(spec["classes"], f"{where}.classes", 1, 1000)
        classes = tuple(_name(c, f"{where}.classes[{i}]") for i, c in enumerate(raw))
    calibration = (
        _calibration(spec["calibration"], f"{where}.calibration") if "calibration" in spec else None
    )
    hysteresis = DEFAULT_HYSTERESIS
    if "hysteresis" in spec:
        hysteresis = _number(spec["hysteresis"], f"{where}.hysteresis")
        if not 0 <= hysteresis <= MAX_HYSTERESIS:
            raise SpecError(
                f"{where}.hysteresis must be within 0..{MAX_HYSTERESIS}, got {hysteresis}"
            )
    return AnalyticsSpec(lines, zones, classes, calibration, hysteresis)
