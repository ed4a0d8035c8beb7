"""The one internal label format every importer produces, and the errors they raise.

A `LabelSet` is sequences of labelled frames. A frame points at its pixels (an image file, or a
1-based frame number in a video) and holds boxes in source pixels with a class name and, where
the source has one, a track id. Sequences are the unit of the train/validation split, because
neighbouring frames of one video are near-duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class LabelError(ValueError):
    """Labels that cannot be read; the message names the file and what is wrong with it."""


@dataclass(frozen=True)
class Box:
    """x, y (top left), w, h in source pixels; `label` is a class name."""

    x: float
    y: float
    w: float
    h: float
    label: str
    track_id: int | None = None


@dataclass(frozen=True)
class FrameRef:
    """Where a frame's pixels are: an image file, or frame `number` (1-based) of a video."""

    image: Path | None = None
    video: Path | None = None
    number: int = 1

    def __post_init__(self) -> None:
        if (self.image is None) == (self.video is None):
            raise ValueError("a frame comes from exactly one of an image file or a video")


@dataclass(frozen=True)
class LabelledFrame:
    ref: FrameRef
    boxes: tuple[Box, ...]


@dataclass
class Sequence:
    name: str
    frames: list[LabelledFrame] = field(default_factory=list)


@dataclass
class LabelSet:
    """Sequences plus the class names in a fixed order (the fine-tuned head's rows)."""

    sequences: list[Sequence]
    classes: tuple[str, ...]

    @property
    def frame_count(self) -> int:
        return sum(len(s.frames) for s in self.sequences)

    @property
    def box_count(self) -> int:
        return sum(len(f.boxes) for s in self.sequences for f in s.frames)

    def select(self, names: Iterable[str]) -> LabelSet:
        wanted = set(names)
        return LabelSet([s for s in self.sequences if s.name in wanted], self.classes)


def classes_in(sequences: Iterable[Sequence]) -> tuple[str, ...]:
    """Class names in order of first appearance."""
    seen: dict[str, None] = {}
    for sequence in sequences:
        for frame in sequence.frames:
            for box in frame.boxes:
                seen.setdefault(box.label, None)
    return tuple(seen)


def valid_box(x: float, y: float, w: float, h: float) -> bool:
    """Boxes with no area are dropped by every importer."""
    return w > 1.0 and h > 1.0


def read_label_json(path: Path) -> Any:
    """A JSON label file's content; an unreadable or malformed file is a `LabelError`."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LabelError(f"{path} is not readable JSON: {error}") from error
