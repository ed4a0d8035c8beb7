"""Pixels for labelled frames: image files via OpenCV, video frames via the engine's VideoReader.

Frames are held in memory, shrunk so the long side is at most `max_side` (boxes scaled with them):
a fine-tuning set is a few hundred to a few thousand frames.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from model_code.training.labels import LabelError, LabelledFrame, LabelSet
from model_code.video import VideoReader


@dataclass(frozen=True)
class Sample:
    """One training image: BGR uint8, xyxy boxes (float32, image pixels), class indices, and
    per box the labelled track id (-1 where the labels carry none)."""

    image: np.ndarray
    boxes: np.ndarray
    classes: np.ndarray
    sequence: str
    track_ids: np.ndarray | None = None


def _shrink(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    scale = min(1.0, max_side / max(image.shape[:2]))
    if scale < 1.0:
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return image, scale


def _video_frames(video: Path, numbers: set[int]) -> Iterator[tuple[int, np.ndarray]]:
    last = max(numbers)
    with VideoReader(video) as reader:
        for number, image in reader:
            if number in numbers:
                yield number, image
            if number >= last:
                break


def _pixels(frames: list[LabelledFrame]) -> Iterator[tuple[LabelledFrame, np.ndarray]]:
    by_video: dict[Path, dict[int, LabelledFrame]] = defaultdict(dict)
    for frame in frames:
        if frame.ref.video is not None:
            by_video[frame.ref.video][frame.ref.number] = frame
            continue
        image = cv2.imread(str(frame.ref.image), cv2.IMREAD_COLOR)
        if image is None:
            raise LabelError(f"cannot read image {frame.ref.image}")
        yield frame, image
    for video, wanted in by_video.items():
        found = 0
        for number, image in _video_frames(video, set(wanted)):
            found += 1
            yield wanted[number], image
        if found < len(wanted):
            raise LabelError(f"{video} ends before labelled frame {max(wanted)}")


def load_samples(labels: LabelSet, max_side: int) -> list[Sample]:
    """Every labelled frame of `labels` as a Sample, in sequence order."""
    index = {name: i for i, name in enumerate(labels.classes)}
    samples = []
    for sequence in labels.sequences:
        # Track ids as labelled may be any value (numbers, strings): number them per sequence.
        track_numbers: dict[object, int] = {}
        for frame, image in _pixels(sequence.frames):
            small, scale = _shrink(image, max_side)
            kept = [b for b in frame.boxes if b.label in index]
            boxes = np.array([[b.x, b.y, b.x + b.w, b.y + b.h] for b in kept], np.float32).reshape(
                -1, 4
            )
            classes = np.array([index[b.label] for b in kept], np.int64)
            tracks = np.array(
                [
                    -1
                    if b.track_id is None
                    else track_numbers.setdefault(b.track_id, len(track_numbers))
                    for b in kept
                ],
                np.int64,
            )
            samples.append(Sample(small, boxes * scale, classes, sequence.name, tracks))
    return samples
