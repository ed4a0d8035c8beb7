"""preview.mp4: the annotated video made small and cheap, for deployments to write by default.

`PreviewVideoWriter` keeps every n-th processed frame so the preview runs at most
`PREVIEW_MAX_FPS`, shrinks it (bilinear: a fifth of the cost of area averaging on a 1080p frame,
for some aliasing) so its longer side is at most `PREVIEW_MAX_SIDE`, scales the boxes with it,
and hands both to `AnnotatedVideoWriter` (the same tags, trails and audio) encoding at the higher
CRF `PREVIEW_CRF`. A source already that small or slow keeps its size or rate.
`python -m bench.preview_cost` measures what it adds per frame and its size per minute.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_code.results import AnnotatedVideoWriter, FrameTracks

PREVIEW_MAX_SIDE = 640  # px, the longer side
PREVIEW_CRF = 30  # libx264 CRF; annotated.mp4 uses 23 (each +6 about halves the bitrate)
PREVIEW_MAX_FPS = 10.0


def preview_size(width: int, height: int, max_side: int = PREVIEW_MAX_SIDE) -> tuple[int, int]:
    """(width, height) scaled down, aspect kept, so the longer side is at most `max_side`."""
    if width < 1 or height < 1:
        raise ValueError(f"frame size {width}x{height} has no pixels")
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


@dataclass(frozen=True)
class _Scaled:
    ids: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray


def preview_every(fps: float, max_fps: float = PREVIEW_MAX_FPS) -> int:
    """Keep every n-th processed frame: the smallest n that brings `fps` to at most `max_fps`."""
    return max(1, math.ceil(fps / max_fps - 1e-9))


class PreviewVideoWriter(AnnotatedVideoWriter):
    """`AnnotatedVideoWriter` of every `preview_every` frame, at `preview_size` and CRF `crf`."""

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: float,
        audio_from: str | Path | None = None,
        class_names: Sequence[str] | Mapping[int, str] | None = None,
        max_side: int = PREVIEW_MAX_SIDE,
        crf: int = PREVIEW_CRF,
        max_fps: float = PREVIEW_MAX_FPS,
    ) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.size = preview_size(width, height, max_side)
        self.every = preview_every(fps, max_fps)
        self._offered = 0
        self._scale = np.array([self.size[0] / width, self.size[1] / height] * 2, np.float64)
        super().__init__(path, *self.size, fps / self.every, audio_from, class_names, crf=crf)

    def write(self, frame: int, image: np.ndarray, tracks: FrameTracks) -> None:
        import cv2

        self._offered += 1
        if (self._offered - 1) % self.every:
            return
        if image.shape[1::-1] != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_LINEAR)
        boxes = np.asarray(tracks.boxes, np.float64).reshape(-1, 4) * self._scale
        super().write(frame, image, _Scaled(tracks.ids, boxes, tracks.scores, tracks.labels))
