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


def assert_rows_match_opencv(got: np.ndarray, want: np.ndarray) -> None:
    """Our decoded rows (xyxy, class scores) against OpenCV DNN's (cx, cy, w, h, obj, scores):
    every score, and the geometry of every box a class scores above 0.05."""
    assert got.shape == (len(want), 84)
    np.testing.assert_allclose(got[:, 4:], want[:, 5:], atol=2e-4)
    confident = want[:, 5:].max(axis=1) > 0.05  # box geometry matters where a class scores
    assert confident.sum() >= 1
    centres = (got[:, :2] + got[:, 2:4]) / 2
    sizes = got[:, 2:4] - got[:, :2]
    np.testing.assert_allclose(centres[confident], want[confident, :2], atol=0.05)
    np.testing.assert_allclose(sizes[confident], want[confident, 2:4], rtol=1e-3, atol=0.05)


def assert_the_walking_person_is_found(results: list) -> None:
    """Each of PERSON_FRAMES' detections has its best box on the person walking away, who
    fills most of the 432-pixel height and stands right of centre."""
    assert len(results) == len(PERSON_FRAMES)
    for dets in results:
        assert len(dets) >= 1
        assert set(dets.labels.tolist()) == {0}
        x0, y0, x1, y1 = dets.boxes[dets.scores.argmax()]
        assert 250 < y1 - y0 <= 432
        assert 60 < x1 - x0 < 260
        assert 350 < (x0 + x1) / 2 < 560
