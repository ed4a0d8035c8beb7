"""int8 on the CPU: calibrated on a clip, cached by what it depends on, and close to fp32."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from model_code.boxes import iou_matrix
from model_code.detectors import build_detector, torch_detector
from model_code.detectors import int8 as int8_module
from model_code.detectors.base import DetectorError
from model_code.detectors.int8 import CHECKOUT_SAMPLE, find_calibration_video, model_key
from model_code.detectors.torch_detector import TorchDetector
from tests.unit.detectors.sample_frames import read_frames

FRAMES = (60, 100, 230, 260)  # 0-based frames of the sample with a person walking


class TinyConvDetector(nn.Module):
    """Two convolutions, then one box per image scored by the mean of the last feature map."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.first = nn.Conv2d(3, 8, 3, 2, 1)
        self.second = nn.Conv2d(8, 4, 3, 2, 1)

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        features = self.second(torch.relu(self.first(images / 255)))
        rows = torch.zeros(images.shape[0], 1, 84, dtype=images.dtype)
        rows[:, 0, :4] = torch.tensor([8.0, 8.0, 40.0, 40.0])
        rows[:, 0, 4] = torch.sigmoid(features.mean(dim=(1, 2, 3)))
        return rows


class TinyInt8(TorchDetector):
    cpu_int8 = True


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTFLOW_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def build_tiny(**options) -> TinyInt8:
    return TinyInt8(TinyConvDetector(), device="cpu", input_size=64, **options)


def test_a_class_that_asks_for_int8_runs_int8_and_caches_it(cache, monkeypatch):
    detector = build_tiny()
    assert detector.runtime()["precision"] == "int8"
    assert "warning" not in detector.runtime()
    assert len(list(cache.glob("int8-*.onnx"))) == 1

    def must_not_quantize(*args, **kwargs):
        raise AssertionError("a cached model was quantized again")

    monkeypatch.setattr(int8_module, "quantize", must_not_quantize)
    again = build_tiny()
    assert again.runtime()["precision"] == "int8"
    frame = np.full((48, 64, 3), 90, np.uint8)
    assert len(again.detect([frame])[0]) == len(detector.detect([frame])[0])


def test_the_cache_key_follows_the_weights_and_the_clip(tmp_path):
    module = TinyConvDetector()
    key = model_key(module, CHECKOUT_SAMPLE)
    assert model_key(TinyConvDetector(), CHECKOUT_SAMPLE) == key
    other_clip = tmp_path / "clip.mp4"
    other_clip.write_bytes(CHECKOUT_SAMPLE.read_bytes()[:-1])
    assert model_key(module, other_clip) != key
    with torch.no_grad():
        module.first.bias[0] += 1e-3
    assert model_key(module, CHECKOUT_SAMPLE) != key


def test_without_a_clip_it_runs_fp32_and_says_why(cache, monkeypatch):
    monkeypatch.setattr(torch_detector, "find_calibration_video", lambda _: None)
    detector = build_tiny()
    runtime = detector.runtime()
    assert runtime["precision"] == "fp32"
    assert "calibration clip" in runtime["warning"]
    with pytest.raises(DetectorError, match="calibration clip"):
        build_tiny(int8=True)


def test_int8_is_refused_off_onnxruntime():
    with pytest.raises(DetectorError, match="onnxruntime"):
        build_tiny(int8=True, backend="torch")
    assert build_tiny(int8=False).runtime()["precision"] == "fp32"


def test_the_clip_is_found_beside_the_weights_first(tmp_path, monkeypatch):
    monkeypatch.delenv("MOTFLOW_CALIBRATION_VIDEO", raising=False)
    assert find_calibration_video(tmp_path) == CHECKOUT_SAMPLE
    (tmp_path / "calibration.mp4").write_bytes(b"x")
    assert find_calibration_video(tmp_path) == tmp_path / "calibration.mp4"
    monkeypatch.setenv("MOTFLOW_CALIBRATION_VIDEO", str(CHECKOUT_SAMPLE))
    assert find_calibration_video(tmp_path) == CHECKOUT_SAMPLE


@pytest.mark.slow
def test_int8_nanodet_finds_the_people_fp32_finds():
    """The default CPU detector against fp32 on real frames: the same people, boxes within
    IoU 0.85 of fp32's and scores within 0.06 (int8 moves each a little, not a lot)."""
    int8 = build_detector("nanodet-g", device="cpu", score_threshold=0.3)
    fp32 = build_detector("nanodet-g", device="cpu", score_threshold=0.3, int8=False)
    assert (int8.runtime()["precision"], fp32.runtime()["precision"]) == ("int8", "fp32")
    for image in read_frames(CHECKOUT_SAMPLE, FRAMES):
        want, got = fp32.detect([image])[0], int8.detect([image])[0]
        confident = want.scores >= 0.5
        assert confident.any(), "the frame should hold a clearly detected person"
        overlap = iou_matrix(want.boxes[confident], got.boxes)
        best = overlap.argmax(axis=1)
        assert (overlap.max(axis=1) >= 0.85).all()
        np.testing.assert_allclose(got.scores[best], want.scores[confident], atol=0.06)
