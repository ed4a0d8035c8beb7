"""yolov3-tiny as our torch module reproduces OpenCV DNN's output for the same cfg and weights."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from model_code.detectors.letterbox import letterbox
from model_code.detectors.yolov3_tiny import (
    CFG_FILE,
    WEIGHTS_FILE,
    find_weights_dir,
    load_yolov3_tiny,
    patch_cfg,
)
from tests.unit.detectors.sample_frames import read_frames

SIZES = ((416, 256), (512, 288))
FRAME = 60  # 0-based frame of the sample with a person walking


@pytest.fixture(scope="module")
def frame(sample_video: Path) -> np.ndarray:
    return read_frames(sample_video, [FRAME])[0]


def opencv_rows(image: np.ndarray, fix_mask: bool) -> np.ndarray:
    """OpenCV DNN's rows for a letterboxed image: cx, cy, w, h (input pixels), obj, class x obj."""
    folder = find_weights_dir()
    net = cv2.dnn.readNetFromDarknet(
        np.frombuffer(
            patch_cfg((folder / CFG_FILE).read_text(), fix_mask=fix_mask).encode(), np.uint8
        ),
        np.frombuffer((folder / WEIGHTS_FILE).read_bytes(), np.uint8),
    )
    height, width = image.shape[:2]
    net.setInput(cv2.dnn.blobFromImage(image, 1 / 255.0, (width, height), swapRB=True))
    rows = np.concatenate(net.forward(net.getUnconnectedOutLayersNames()), axis=0)
    rows[:, [0, 2]] *= width
    rows[:, [1, 3]] *= height
    return rows


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("fix_mask", [True, False])
def test_module_matches_opencv_dnn(frame, size, fix_mask):
    image, _ = letterbox(frame, size)
    want = opencv_rows(image, fix_mask)
    module, _ = load_yolov3_tiny(find_weights_dir(), fix_mask=fix_mask)
    with torch.inference_mode():
        got = module.predict(torch.from_numpy(image).permute(2, 0, 1)[None].float())[0].numpy()
    assert got.shape == (len(want), 84)
    np.testing.assert_allclose(got[:, 4:], want[:, 5:], atol=2e-4)
    confident = want[:, 5:].max(axis=1) > 0.05  # box geometry matters where a class scores
    assert confident.sum() >= 1
    centres = (got[:, :2] + got[:, 2:4]) / 2
    sizes = got[:, 2:4] - got[:, :2]
    np.testing.assert_allclose(centres[confident], want[confident, :2], atol=0.05)
    np.testing.assert_allclose(sizes[confident], want[confident, 2:4], rtol=1e-3, atol=0.05)
