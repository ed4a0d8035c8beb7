"""yolov3-tiny as our torch module reproduces OpenCV DNN's output for the same cfg and weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from model_code.detectors.darknet import YoloLayer
from model_code.detectors.letterbox import letterbox
from model_code.detectors.nms import batched_nms
from model_code.detectors.yolov3_tiny import (
    CFG_FILE,
    WEIGHTS_FILE,
    find_weights_dir,
    load_yolov3_tiny,
    patch_cfg,
)
from tests.unit.detectors.sample_frames import (
    assert_rows_match_opencv,
    opencv_darknet_rows,
    read_frames,
)

SIZES = ((416, 256), (512, 288))
FRAME = 60  # 0-based frame of the sample with a person walking


@pytest.fixture(scope="module")
def frame(sample_video: Path) -> np.ndarray:
    return read_frames(sample_video, [FRAME])[0]


def opencv_rows(image: np.ndarray, fix_mask: bool) -> np.ndarray:
    """OpenCV DNN's rows for the shipped yolov3-tiny cfg, its mask fixed or not."""
    folder = find_weights_dir()
    cfg = patch_cfg((folder / CFG_FILE).read_text(), fix_mask=fix_mask)
    return opencv_darknet_rows(image, cfg, (folder / WEIGHTS_FILE).read_bytes())


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("fix_mask", [True, False])
def test_module_matches_opencv_dnn(frame, size, fix_mask):
    image, _ = letterbox(frame, size)
    want = opencv_rows(image, fix_mask)
    module, _ = load_yolov3_tiny(find_weights_dir(), fix_mask=fix_mask)
    with torch.inference_mode():
        got = module.predict(torch.from_numpy(image).permute(2, 0, 1)[None].float())[0].numpy()
    assert_rows_match_opencv(got, want)


def _yolo_layer() -> YoloLayer:
    return YoloLayer({"anchors": "10,14, 23,27, 37,58, 81,82, 135,169, 344,319", "mask": "3,4,5",
                      "classes": "80"})  # fmt: skip


def test_fp16_head_output_with_a_large_offset_decodes_finite_and_nms_keeps_the_others() -> None:
    """A raw size term of 12 (exp(12) * 344 px is far beyond fp16's 65,504) from a half-precision
    network: the boxes are decoded in fp32, so nothing is inf/NaN and NMS keeps the other box."""
    layer = _yolo_layer()
    classes, anchors, grid = 80, 3, 2
    raw = torch.full((1, anchors, 5 + classes, grid, grid), -20.0)  # every anchor: no object
    raw[0, 2, 0:4, 0, 0] = torch.tensor([0.0, 0.0, 12.0, 12.0])  # the huge box, on anchor 344x319
    raw[0, 0, 0:4, 1, 1] = torch.tensor([0.0, 0.0, -1.0, -1.0])  # an ordinary box elsewhere
    raw[0, 2, 4:6, 0, 0] = 10.0  # object and class 0 (person) near certain
    raw[0, 0, 4:6, 1, 1] = 10.0
    half = raw.view(1, anchors * (5 + classes), grid, grid).half()
    assert torch.isinf(half.exp()).any()  # the overflow the decode must avoid

    rows = layer.decode(half, (64, 64))
    assert torch.isfinite(rows).all()
    assert rows.dtype == torch.float32
    boxes, scores = rows[0, :, :4].numpy(), rows[0, :, 4].numpy()
    confident = np.flatnonzero(scores > 0.5)
    assert len(confident) == 2
    kept = batched_nms(boxes[confident], scores[confident], np.zeros(2, np.int64), 0.45)
    assert sorted(kept.tolist()) == [0, 1]  # the huge box did not remove the ordinary one


def test_decode_is_the_same_in_fp16_and_fp32_for_ordinary_offsets() -> None:
    layer = _yolo_layer()
    raw = torch.randn(2, 3 * 85, 4, 4, generator=torch.Generator().manual_seed(0))
    full, half = layer.decode(raw, (128, 128)), layer.decode(raw.half(), (128, 128))
    assert half.dtype == full.dtype == torch.float32
    assert torch.allclose(half, full, atol=0.5, rtol=1e-2)
