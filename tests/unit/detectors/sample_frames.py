"""Frames of a video by 0-based index, for detector tests."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np


def read_frames(video: Path, indices: Iterable[int]) -> list[np.ndarray]:
    """The frames at `indices` (0-based, ascending order of the video), in the order asked."""
    wanted = sorted(set(indices))
    capture = cv2.VideoCapture(str(video))
    found: dict[int, np.ndarray] = {}
    for index in range(wanted[-1] + 1):
        ok, frame = capture.read()
        assert ok, f"could not read frame {index} of {video}"
        if index in wanted:
            found[index] = frame
    capture.release()
    return [found[i] for i in indices]
