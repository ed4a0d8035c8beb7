"""Frames of a video by 0-based index, and OpenCV DNN's darknet rows, for detector tests."""

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


# 0-based frames of the sample where one person walks away from the camera.
PERSON_FRAMES = (40, 65, 90)


def opencv_darknet_rows(image: np.ndarray, cfg_text: str, weights: bytes) -> np.ndarray:
    """OpenCV DNN's rows for a letterboxed image from a darknet cfg and weights: cx, cy, w, h
    (input pixels), objectness, class score x objectness."""
    net = cv2.dnn.readNetFromDarknet(
        np.frombuffer(cfg_text.encode(), np.uint8), np.frombuffer(weights, np.uint8)
    )
    height, width = image.shape[:2]
    net.setInput(cv2.dnn.blobFromImage(image, 1 / 255.0, (width, height), swapRB=True))
    rows = np.concatenate(net.forward(net.getUnconnectedOutLayersNames()), axis=0)
    rows[:, [0, 2]] *= width
    rows[:, [1, 3]] *= height
    return rows
