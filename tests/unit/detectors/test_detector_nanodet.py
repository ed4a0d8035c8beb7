"""NanoDet-g as our torch module: it reproduces the TensorFlow.js graph it was loaded from.

The reference is `tfjs_reference.evaluate`, a numpy op-by-op evaluator of the graph that knows
nothing about the module's layers; box decoding and NMS for the reference are written here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from model_code.detectors import build_detector
from model_code.detectors.base import DetectorError
from model_code.detectors.letterbox import letterbox
from model_code.detectors.nanodet import (
    GRAPH_FILE,
    MEAN_BGR,
    STD_BGR,
    NanoDet,
    find_weights_dir,
    load_nanodet,
)
from model_code.detectors.tfjs import read_graph
from tests.unit.detectors.sample_frames import read_frames
from tests.unit.detectors.tfjs_reference import evaluate

FRAMES = (60, 230)  # 0-based frames of the sample: the woman walking, then the man
SIZE = 416  # the graph's fixed input (its resize nodes carry constant output sizes)
CLS_OUTPUTS = ("Identity", "Identity_1", "Identity_2")  # strides 8, 16, 32
REG_OUTPUTS = ("Identity_3", "Identity_4", "Identity_5")


@pytest.fixture(scope="module")
def graph():
    return read_graph(find_weights_dir() / GRAPH_FILE)


@pytest.fixture(scope="module")
def module() -> NanoDet:
    return load_nanodet()


@pytest.fixture(scope="module")
def frames(sample_video: Path) -> list[np.ndarray]:
    return read_frames(sample_video, FRAMES)


@pytest.fixture(scope="module")
def reference(graph, frames) -> list[tuple[np.ndarray, np.ndarray, object]]:
    """Per frame: the graph's class scores (A, 80), distance logits (A, 44), letterbox."""
    out = []
    mean = np.array(MEAN_BGR, np.float32).reshape(1, 3, 1, 1)
    std = np.array(STD_BGR, np.float32).reshape(1, 3, 1, 1)
    for frame in frames:
        image, placement = letterbox(frame, (SIZE, SIZE))
        pixels = image.transpose(2, 0, 1)[None].astype(np.float32)
        values = evaluate(graph, {"input_1": (pixels - mean) / std})
        scores = np.concatenate([values[name][0] for name in CLS_OUTPUTS])
        logits = np.concatenate([values[name][0] for name in REG_OUTPUTS])
        out.append((scores, logits, placement, pixels))
    return out


def reference_person_boxes(scores, logits, placement, threshold=0.3, iou=0.45):
    """Decode the graph's outputs the textbook GFL way, keep persons, greedy NMS, to source px."""
    centres, strides = [], []
    for stride in (8, 16, 32):
        cells = SIZE // stride
        for row in range(cells):
            for col in range(cells):
                centres.append(((col + 0.5) * stride, (row + 0.5) * stride))
                strides.append(stride)
    centres, strides = np.array(centres), np.array(strides, dtype=np.float64)[:, None]
    bins = logits.reshape(-1, 4, 11).astype(np.float64)
    probs = np.exp(bins - bins.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    dist = (probs * np.arange(11)).sum(-1) * strides
    boxes = np.column_stack([centres - dist[:, :2], centres + dist[:, 2:]])
    person = scores[:, 0]
    order = [i for i in np.argsort(-person) if person[i] >= threshold]
    kept: list[int] = []
    for i in order:
        overlaps = False
        for k in kept:
            ix = max(0, min(boxes[i, 2], boxes[k, 2]) - max(boxes[i, 0], boxes[k, 0]))
            iy = max(0, min(boxes[i, 3], boxes[k, 3]) - max(boxes[i, 1], boxes[k, 1]))
            area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
            inter = ix * iy
            if inter / (area(boxes[i]) + area(boxes[k]) - inter) > iou:
                overlaps = True
                break
        if not overlaps:
            kept.append(i)
    return placement.to_source(boxes[kept]), person[kept]


@pytest.mark.slow
def test_module_reproduces_the_graph_outputs_on_real_frames(module, reference):
    for scores, logits, _, pixels in reference:
        with torch.inference_mode():
            raw = module(torch.from_numpy(pixels))[0].numpy()
        np.testing.assert_allclose(1 / (1 + np.exp(-raw[:, :80])), scores, atol=1e-4)
        np.testing.assert_allclose(raw[:, 80:], logits, atol=1e-3)
        assert scores[:, 0].max() > 0.5, "the frame should hold a clearly detected person"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_detector_boxes_match_the_reference_decoding(backend, frames, reference):
    detector = build_detector(
        "nanodet-g", input_size=SIZE, score_threshold=0.3, device="cpu", backend=backend, int8=False
    )
    for frame, (scores, logits, placement, _) in zip(frames, reference, strict=True):
        want_boxes, want_scores = reference_person_boxes(scores, logits, placement)
        got = detector.detect([frame])[0]
        assert len(want_scores) >= 1
        assert len(got) == len(want_scores)
        order = np.argsort(-got.scores)
        np.testing.assert_allclose(got.scores[order], want_scores, atol=1e-3)
        np.testing.assert_allclose(got.boxes[order], want_boxes, atol=0.5)
        assert (got.labels == 0).all()


def test_module_is_differentiable(module):
    trainable = NanoDet()
    trainable.load_state_dict(module.state_dict())
    images = torch.rand(2, 3, 64, 96) * 255
    loss = trainable(images).square().mean()
    loss.backward()
    first = trainable.stem.conv.weight.grad
    assert first is not None and torch.count_nonzero(first) > 0
    assert trainable.predict(images).shape == (2, 8 * 12 + 4 * 6 + 2 * 3, 84)


def test_missing_weights_say_how_to_fetch_them(tmp_path):
    with pytest.raises(DetectorError, match="make setup"):
        find_weights_dir(tmp_path)


def test_truncated_weights_are_rejected(tmp_path):
    source = find_weights_dir()
    (tmp_path / "nanodet.json").write_bytes((source / "nanodet.json").read_bytes())
    (tmp_path / "nanodet.bin").write_bytes((source / "nanodet.bin").read_bytes()[:-100])
    with pytest.raises(DetectorError, match="truncated"):
        load_nanodet(tmp_path)
