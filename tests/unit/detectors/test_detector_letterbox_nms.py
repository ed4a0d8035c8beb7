"""Letterbox placement and its inverse, and class-aware NMS in numpy and torch."""

from __future__ import annotations

import numpy as np
import pytest

from model_code.detectors.base import DetectorError
from model_code.detectors.letterbox import (
    PAD_VALUE,
    input_size_for,
    letterbox,
    parse_input_size,
)
from model_code.detectors.nms import batched_nms, batched_nms_torch, nms


@pytest.mark.parametrize("center", [True, False])
def test_letterbox_keeps_aspect_and_round_trips_boxes(center: bool) -> None:
    image = np.zeros((300, 600, 3), np.uint8)
    image[100:200, 150:300] = 255  # a white block at x 150..300, y 100..200
    boxed, placement = letterbox(image, (320, 320), center=center)
    assert boxed.shape == (320, 320, 3)
    assert placement.scale == pytest.approx(320 / 600)
    assert placement.pad_x == 0
    assert placement.pad_y == (80 if center else 0)
    resized_rows = slice(int(placement.pad_y), int(placement.pad_y) + 160)
    outside = np.ones(320, bool)
    outside[resized_rows] = False
    assert (boxed[outside] == PAD_VALUE).all()

    source_box = np.array([[150, 100, 300, 200]], np.float32)
    in_input = placement.to_input(source_box)
    x0, y0, x1, y1 = np.round(in_input[0]).astype(int)
    assert boxed[y0 + 2 : y1 - 2, x0 + 2 : x1 - 2].min() > 200  # the block landed there
    np.testing.assert_allclose(placement.to_source(in_input), source_box, atol=1e-4)


def test_to_source_clips_to_the_frame() -> None:
    _, placement = letterbox(np.zeros((100, 200, 3), np.uint8), (64, 64))
    clipped = placement.to_source(np.array([[-10, -10, 100, 100]], np.float32))
    assert clipped.tolist() == [[0, 0, 200, 100]]


def test_default_input_size_follows_the_source() -> None:
    assert input_size_for(768, 576) == (768, 576)
    assert input_size_for(768, 432) == (768, 448)
    assert input_size_for(1920, 1080, max_side=960) == (960, 544)


@pytest.mark.parametrize("bad", [100, (640, 100), (0, 0), "640", (640,), True])
def test_bad_input_size_is_rejected(bad: object) -> None:
    with pytest.raises(DetectorError, match="input_size"):
        parse_input_size(bad)  # type: ignore[arg-type]


BOXES = np.array(
    [[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10]], dtype=np.float32
)
SCORES = np.array([0.9, 0.8, 0.7, 0.6], dtype=np.float32)
LABELS = np.array([0, 0, 0, 2], dtype=np.int64)


def test_nms_suppresses_overlaps_of_one_class_only() -> None:
    assert nms(BOXES, SCORES, 0.5).tolist() == [0, 2]
    # the class-2 box coincides with box 0 but is another class, so it survives
    assert sorted(batched_nms(BOXES, SCORES, LABELS, 0.5).tolist()) == [0, 2, 3]
    # a loose threshold keeps the overlapping same-class box too (IoU 81/119 = 0.68)
    assert sorted(batched_nms(BOXES, SCORES, LABELS, 0.7).tolist()) == [0, 1, 2, 3]
    assert batched_nms(BOXES[:0], SCORES[:0], LABELS[:0], 0.5).tolist() == []


def test_torch_nms_matches_numpy_on_random_boxes() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 200, (300, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 60, (300, 2))], axis=1).astype(np.float32)
    scores = rng.uniform(0, 1, 300).astype(np.float32)
    labels = rng.integers(0, 3, 300)
    expected = sorted(batched_nms(boxes, scores, labels, 0.45).tolist())
    kept = batched_nms_torch(
        torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(labels), 0.45
    )
    assert sorted(kept.tolist()) == expected
    assert 10 < len(expected) < 300
