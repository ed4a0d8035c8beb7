"""Device selection and batching of torch detectors, on the CPU (CUDA availability is faked)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from torch import nn

from model_code.detectors import torch_detector
from model_code.detectors.base import DetectorError
from model_code.detectors.device import check_cuda, gpu_evidence, gpu_expected, plan_device
from model_code.detectors.torch_detector import TorchDetector


class FrameMarker(nn.Module):
    """One person box per image whose score is the image's mean pixel / 255; records batch sizes."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, ...]] = []

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(images.shape))
        n, _, h, w = images.shape
        rows = torch.zeros(n, 1, 4 + 80, dtype=images.dtype)
        rows[:, 0, :4] = torch.tensor([w / 4, h / 4, w / 2, h / 2], dtype=images.dtype)
        rows[:, 0, 4] = images.mean(dim=(1, 2, 3)) / 255
        return rows


def frame(value: int, height: int = 120, width: int = 160) -> np.ndarray:
    return np.full((height, width, 3), value, dtype=np.uint8)


@pytest.mark.parametrize(
    ("requested", "cuda", "device", "precision", "backend"),
    [
        (None, True, "cuda:0", "fp16", "torch"),
        ("auto", True, "cuda:0", "fp16", "torch"),
        ("cuda", True, "cuda:0", "fp16", "torch"),
        ("cuda:1", True, "cuda:1", "fp16", "torch"),
        ("auto", False, "cpu", "fp32", "onnxruntime"),
        ("cpu", True, "cpu", "fp32", "onnxruntime"),
    ],
)
def test_auto_picks_cuda_when_present(requested, cuda, device, precision, backend):
    plan = plan_device(requested, cuda_available=cuda, environ={}, driver_file=None)
    assert (plan.device, plan.precision, plan.backend) == (device, precision, backend)
    assert plan.warning is None


def test_fp32_on_cuda_when_half_is_off():
    assert plan_device("auto", cuda_available=True, half=False, environ={}).precision == "fp32"


@pytest.mark.parametrize(
    ("requested", "cuda", "half", "message"),
    [
        ("cuda", False, None, "no CUDA device"),
        ("tpu", True, None, "unknown device"),
        ("cuda:x", True, None, "unknown device"),
        ("cpu", False, True, "needs a CUDA device"),
    ],
)
def test_impossible_devices_fail_with_one_line(requested, cuda, half, message):
    with pytest.raises(DetectorError, match=message):
        plan_device(requested, cuda_available=cuda, half=half, environ={})


@pytest.mark.parametrize("requested", [None, "auto", " AUTO "])
@pytest.mark.parametrize("environ", [{"SM_NUM_GPUS": "1"}, {"MOTFLOW_EXPECT_GPU": "1"}])
def test_gpu_instance_without_cuda_refuses_auto_with_cause_and_fix(requested, environ):
    with pytest.raises(DetectorError) as raised:
        plan_device(requested, cuda_available=False, environ=environ, driver_file=None)
    message = str(raised.value)
    assert "\n" not in message
    assert "provisioned with a GPU" in message and next(iter(environ)) in message  # the cause
    assert "torch sees no CUDA device" in message
    assert "fix the image" in message and "device='cpu'" in message  # the fixes


def test_gpu_instance_without_cuda_refuses_auto_when_the_driver_is_loaded(tmp_path):
    driver = tmp_path / "version"
    driver.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module")
    with pytest.raises(DetectorError, match="NVIDIA driver is loaded"):
        plan_device("auto", cuda_available=False, environ={}, driver_file=driver)


def test_gpu_instance_may_still_run_on_cpu_when_asked_explicitly(caplog):
    with caplog.at_level(logging.WARNING):
        plan = plan_device("cpu", cuda_available=False, environ={"SM_NUM_GPUS": "1"})
    assert plan.device == "cpu"
    assert plan.warning and "provisioned with a GPU" in plan.warning
    assert any("provisioned with a GPU" in r.message for r in caplog.records)


def test_cpu_machine_without_cuda_runs_auto_on_cpu_quietly(tmp_path):
    plan = plan_device("auto", cuda_available=False, environ={}, driver_file=tmp_path / "absent")
    assert (plan.device, plan.warning) == ("cpu", None)
    assert gpu_evidence({}, driver_file=tmp_path / "absent") is None


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({}, False), ({"SM_NUM_GPUS": "0"}, False), ({"SM_NUM_GPUS": "4"}, True),
     ({"MOTFLOW_EXPECT_GPU": "1"}, True), ({"SM_NUM_GPUS": "many"}, False)],
)  # fmt: skip
def test_gpu_expected_reads_the_instance_environment(environ, expected, tmp_path):
    assert gpu_expected(environ, driver_file=tmp_path / "absent") is expected
    driver = tmp_path / "version"
    driver.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module")
    assert gpu_expected(environ, driver_file=driver) is True


def test_detector_on_fake_cuda_reports_gpu_runtime(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    probed: list[str] = []
    monkeypatch.setattr(torch_detector, "check_cuda", probed.append)
    detector = TorchDetector(FrameMarker(), device="auto")
    runtime = detector.runtime()
    assert detector.default_batch_size == TorchDetector.gpu_batch_size  # what the pipeline reads
    assert runtime["device"] == "cuda:0"
    assert runtime["precision"] == "fp16"
    assert runtime["backend"] == "torch"
    assert runtime["batch_size"] == TorchDetector.gpu_batch_size
    assert "warning" not in runtime
    assert probed == ["cuda:0"]  # a real CUDA op ran at build time


def test_broken_cuda_fails_the_model_load(monkeypatch):
    """torch claims a CUDA device but cannot compute on it (here: a CPU build of torch): the
    detector build raises, which the serving layer reports as an unhealthy /ping."""
    if torch.cuda.is_available():
        pytest.skip("this machine has a working CUDA")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(DetectorError, match=r"CUDA is not usable on cuda:0 .*; check that"):
        TorchDetector(FrameMarker(), device="auto")


def test_check_cuda_names_the_device_and_the_cause():
    if torch.cuda.is_available():
        check_cuda("cuda:0")  # a working CUDA passes
        return
    with pytest.raises(DetectorError) as raised:
        check_cuda("cuda:0")
    assert "\n" not in str(raised.value) and "cuda:0" in str(raised.value)


def test_gpu_instance_without_cuda_fails_the_detector_build(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("SM_NUM_GPUS", "1")
    with pytest.raises(DetectorError, match="torch sees no CUDA device"):
        TorchDetector(FrameMarker(), device="auto", backend="torch")


def test_gpu_instance_on_explicit_cpu_says_so_in_runtime(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("SM_NUM_GPUS", "1")
    runtime = TorchDetector(FrameMarker(), device="cpu", backend="torch").runtime()
    assert runtime["device"] == "cpu"
    assert runtime["batch_size"] == TorchDetector.default_batch_size
    assert "provisioned with a GPU" in runtime["warning"]


def test_frames_are_batched_by_size_and_returned_in_order(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    module = FrameMarker()
    detector = TorchDetector(
        module, device="auto", backend="torch", batch_size=3, score_threshold=0.0
    )
    values = [10, 20, 30, 40, 50, 60, 70]
    frames = [frame(v) if i % 3 else frame(v, 240, 160) for i, v in enumerate(values)]
    found = detector.detect(frames)
    # 3 tall frames (1 batch of 3) and 4 wide frames (batches of 3 and 1), each letterboxed once.
    assert sorted(shape[0] for shape in module.calls) == [1, 3, 3]
    assert {shape[2:] for shape in module.calls} == {(256, 160), (128, 160)}  # never upscaled
    assert len(found) == len(frames)
    for dets, image in zip(found, frames, strict=True):
        assert len(dets) == 1
        height, width = image.shape[:2]
        assert dets.boxes[0, 2] <= width and dets.boxes[0, 3] <= height
    # each result belongs to its own frame: brighter frames score higher within a size group
    scores = [float(d.scores[0]) for d in found]
    for group in (scores[0::3], [s for i, s in enumerate(scores) if i % 3]):
        assert group == sorted(group) and len(set(group)) == len(group)


def test_batch_size_must_be_positive():
    with pytest.raises(DetectorError, match="batch_size"):
        TorchDetector(FrameMarker(), device="cpu", backend="torch", batch_size=-1)


def test_failed_onnx_export_falls_back_to_torch(monkeypatch, caplog):
    from model_code.detectors import torch_detector

    def broken(module):
        raise RuntimeError("exporter unavailable")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch_detector, "_onnx_session", broken)
    with caplog.at_level(logging.WARNING):
        detector = TorchDetector(FrameMarker(), device="auto", score_threshold=0.0)
    assert detector.runtime()["backend"] == "torch"
    assert "exporter unavailable" in caplog.text
    assert len(detector.detect([frame(100)])[0]) == 1


@pytest.mark.parametrize("name", ["nanodet-g", "yolov3-tiny", "yolov4-tiny"])
def test_default_batch_size_follows_the_device(name, monkeypatch):
    from model_code.detectors import default_batch_size, detector_class

    cls = detector_class(name)
    assert default_batch_size(name, cuda=False) == cls.default_batch_size
    assert default_batch_size(name, cuda=True) == cls.gpu_batch_size > cls.default_batch_size
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert default_batch_size(name) == cls.gpu_batch_size
