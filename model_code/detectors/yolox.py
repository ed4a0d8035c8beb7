"""YOLOX-family detectors: TorchScript through torch, ONNX through onnxruntime.

Both take the standard YOLOX export output, shaped (batch, anchors, 5 + classes) with anchors
ordered stride by stride (8, 16, 32) and row-major within a stride. Each row is
(x, y, w, h, objectness, class scores...), objectness and class scores already probabilities.
"Raw" outputs (the default; YOLOX's `decode_in_inference=False`) hold grid offsets and log sizes:
centre = (p + cell) * stride and size = exp(p) * stride. "Decoded" outputs already hold centre and
size in network-input pixels.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model_code.detectors.base import (
    COCO_CLASS_NAMES,
    DEFAULT_CLASSES,
    Detections,
    DetectorError,
    check_frames,
    check_thresholds,
    resolve_class_ids,
)
from model_code.detectors.letterbox import Letterbox, letterbox, parse_input_size
from model_code.detectors.postprocess import MAX_CANDIDATES, detections_from_scores

DEFAULT_STRIDES: tuple[int, ...] = (8, 16, 32)
DEFAULT_INPUT_SIZE: tuple[int, int] = (640, 640)
MAX_BATCH = 16


def make_grid(width: int, height: int, strides: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Cell (x, y) of every anchor, shape (A, 2), and each anchor's stride, shape (A, 1)."""
    cells, cell_strides = [], []
    for stride in strides:
        ys, xs = np.meshgrid(np.arange(height // stride), np.arange(width // stride), indexing="ij")
        cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        cell_strides.append(np.full((xs.size, 1), stride))
    return (
        np.concatenate(cells).astype(np.float32),
        np.concatenate(cell_strides).astype(np.float32),
    )


def decode_raw(raw: np.ndarray, grid: np.ndarray, strides: np.ndarray) -> np.ndarray:
    """Raw YOLOX rows (..., A, 5 + C) to rows with centre and size in network-input pixels."""
    decoded = np.array(raw, dtype=np.float32, copy=True)
    decoded[..., :2] = (decoded[..., :2] + grid) * strides
    decoded[..., 2:4] = np.exp(decoded[..., 2:4]) * strides
    return decoded


class _YoloxDetector(ABC):
    """What the two YOLOX runtimes share: options, preprocessing and output checks."""

    name = "yolox"
    max_batch = MAX_BATCH
    default_batch_size = 8

    def __init__(
        self,
        weights: str | os.PathLike[str],
        *,
        classes: str | int | Iterable[str | int] | None = DEFAULT_CLASSES,
        score_threshold: float = 0.1,
        nms_iou: float = 0.45,
        input_size: int | tuple[int, int] | None = None,
        device: str | None = None,
        outputs_decoded: bool = False,
        strides: Sequence[int] = DEFAULT_STRIDES,
        class_names: Sequence[str] = COCO_CLASS_NAMES,
        rgb: bool = False,
        pixel_scale: float = 1.0,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        center_pad: bool = False,
    ) -> None:
        check_thresholds(score_threshold, nms_iou)
        self.weights = Path(weights)
        if not self.weights.is_file():
            raise DetectorError(f"{self.name} weights file {self.weights} does not exist")
        self.class_names = tuple(class_names)
        self.class_ids = resolve_class_ids(classes, self.class_names)
        self.score_threshold = float(score_threshold)
        self.nms_iou = float(nms_iou)
        self.input_size = parse_input_size(input_size)
        self.outputs_decoded = bool(outputs_decoded)
        self.strides = tuple(int(s) for s in strides)
        self.rgb = bool(rgb)
        self.pixel_scale = float(pixel_scale)
        if (mean is None) != (std is None):
            raise DetectorError("give mean and std together, or neither")
        self.mean = None if mean is None else np.asarray(mean, np.float32).reshape(1, 3, 1, 1)
        self.std = None if std is None else np.asarray(std, np.float32).reshape(1, 3, 1, 1)
        self.center_pad = bool(center_pad)
        self.requested_device = device

    @property
    def network_size(self) -> tuple[int, int]:
        """The network input (width, height)."""
        return self.input_size or DEFAULT_INPUT_SIZE

    def runtime(self) -> dict[str, Any]:
        """What this detector actually runs on, for the job summary."""
        device = str(self.device)
        half = bool(getattr(self, "half", False)) or self._precision_fp16()
        return {
            "name": self.name,
            "device": device,
            "backend": "torch" if self.name == "yolox-torchscript" else "onnxruntime",
            "precision": "fp16" if half else "fp32",
            "batch_size": self.max_batch,
            "input_size": list(self.network_size),
            "max_side": None,
        }

    def _precision_fp16(self) -> bool:
        return getattr(self, "_input_dtype", np.float32) == np.float16

    def preprocess(self, frames: Sequence[np.ndarray]) -> tuple[np.ndarray, list[Letterbox]]:
        """Letterboxed NCHW float32 batch and where each frame went in it."""
        boxed = [letterbox(f, self.network_size, center=self.center_pad) for f in frames]
        batch = np.stack([image for image, _ in boxed]).astype(np.float32)
        if self.rgb:
            batch = batch[..., ::-1]
        batch = batch.transpose(0, 3, 1, 2) * self.pixel_scale
        if self.mean is not None and self.std is not None:
            batch = (batch - self.mean) / self.std
        return np.ascontiguousarray(batch, dtype=np.float32), [p for _, p in boxed]

    def check_output_shape(self, shape: Sequence[int], batch: int) -> None:
        width, height = self.network_size
        anchors = sum((width // s) * (height // s) for s in self.strides)
        expected = (batch, anchors, 5 + len(self.class_names))
        if tuple(shape) != expected:
            raise DetectorError(
                f"{self.name} output has shape {tuple(shape)}, expected {expected} for input "
                f"{width}x{height}, strides {self.strides} and {len(self.class_names)} classes; "
                "check input_size, strides and class_names"
            )

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        check_frames(frames)
        results: list[Detections] = []
        for start in range(0, len(frames), self.max_batch):
            results.extend(self._detect_batch(frames[start : start + self.max_batch]))
        return results

    @abstractmethod
    def _detect_batch(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        """Detections for at most `max_batch` frames."""


class YoloxOnnx(_YoloxDetector):
    """A YOLOX ONNX export run by onnxruntime: CUDA when available (or asked), else CPU."""

    name = "yolox-onnx"

    def __init__(self, weights: str | os.PathLike[str], **options: Any) -> None:
        super().__init__(weights, **options)
        import onnxruntime as ort

        available = ort.get_available_providers()
        device = self.requested_device
        if device is None:
            use_cuda = "CUDAExecutionProvider" in available
        elif device == "cpu":
            use_cuda = False
        elif device.startswith("cuda"):
            if "CUDAExecutionProvider" not in available:
                raise DetectorError(
                    f"device={device!r} asked for, but this onnxruntime has no CUDA provider "
                    f"(available: {', '.join(available)})"
                )
            use_cuda = True
        else:
            raise DetectorError(f"unknown device {device!r}; use 'cpu' or 'cuda[:N]'")
        providers = (
            ["CUDAExecutionProvider", "CPUExecutionProvider"]
            if use_cuda
            else ["CPUExecutionProvider"]
        )
        try:
            self._session = ort.InferenceSession(str(self.weights), providers=providers)
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise DetectorError(f"onnxruntime could not load {self.weights}: {exc}") from exc
        self.device = "cuda" if use_cuda else "cpu"
        model_input = self._session.get_inputs()[0]
        self._input_name = model_input.name
        self._input_dtype = np.float16 if model_input.type == "tensor(float16)" else np.float32
        self._adopt_static_shape(model_input.shape)
        self._grid, self._grid_strides = make_grid(*self.network_size, self.strides)

    def _adopt_static_shape(self, shape: Sequence[Any]) -> None:
        """Take the input size and batch limit from a model exported with fixed shapes."""
        if len(shape) != 4:
            raise DetectorError(f"{self.weights} takes input shape {shape}, expected NCHW")
        batch, _, height, width = shape
        if isinstance(batch, int) and batch > 0:
            self.max_batch = batch
        if isinstance(height, int) and isinstance(width, int):
            if self.input_size is None:
                self.input_size = parse_input_size((width, height))
            elif self.input_size != (width, height):
                raise DetectorError(
                    f"{self.weights} was exported for input {width}x{height}, but "
                    f"input_size={self.input_size[0]}x{self.input_size[1]} was asked for"
                )

    def _detect_batch(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        batch, placements = self.preprocess(frames)
        output = self._session.run(None, {self._input_name: batch.astype(self._input_dtype)})[0]
        self.check_output_shape(output.shape, len(frames))
        rows = np.asarray(output, dtype=np.float32)
        if not self.outputs_decoded:
            rows = decode_raw(rows, self._grid, self._grid_strides)
        return [
            detections_from_scores(
                per_frame[:, :4],
                per_frame[:, 5:] * per_frame[:, 4:5],
                self.class_ids,
                score_threshold=self.score_threshold,
                nms_iou=self.nms_iou,
                placement=placement,
            )
            for per_frame, placement in zip(rows, placements, strict=True)
        ]


class YoloxTorchScript(_YoloxDetector):
    """A YOLOX TorchScript export run by torch: CUDA in fp16 when available, else CPU fp32.

    Only TorchScript archives are loaded (`torch.jit.load`); pickled modules never are.
    """

    name = "yolox-torchscript"

    def __init__(
        self, weights: str | os.PathLike[str], *, half: bool | None = None, **options: Any
    ) -> None:
        super().__init__(weights, **options)
        import torch

        device = self.requested_device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            self.device = torch.device(device)
        except RuntimeError as exc:
            raise DetectorError(f"unknown device {device!r}; use 'cpu' or 'cuda[:N]'") from exc
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise DetectorError(f"device={device!r} asked for, but torch sees no CUDA device")
        if self.device.type not in ("cpu", "cuda"):
            raise DetectorError(f"unsupported device {device!r}; use 'cpu' or 'cuda[:N]'")
        self.half = self.device.type == "cuda" if half is None else bool(half)
        try:
            model = torch.jit.load(str(self.weights), map_location=self.device)
        except (RuntimeError, ValueError) as exc:
            raise DetectorError(
                f"{self.weights} is not a TorchScript archive ({exc}); export the model with "
                "torch.jit.trace or torch.jit.script (pickled modules are not loaded)"
            ) from exc
        model.eval()
        self._model = model.half() if self.half else model.float()
        grid, grid_strides = make_grid(*self.network_size, self.strides)
        self._grid = torch.from_numpy(grid).to(self.device)
        self._grid_strides = torch.from_numpy(grid_strides).to(self.device)
        self._class_ids = torch.from_numpy(self.class_ids).to(self.device)

    def _detect_batch(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        import torch

        batch, placements = self.preprocess(frames)
        with torch.inference_mode():
            inputs = torch.from_numpy(batch).to(self.device)
            output = self._model(inputs.half() if self.half else inputs)
            if isinstance(output, list | tuple):
                output = output[0]
            self.check_output_shape(output.shape, len(frames))
            rows = output.float()
            if not self.outputs_decoded:
                rows = torch.cat(
                    [
                        (rows[..., :2] + self._grid) * self._grid_strides,
                        torch.exp(rows[..., 2:4]) * self._grid_strides,
                        rows[..., 4:],
                    ],
                    dim=-1,
                )
            return [
                self._finish(per_frame, placement)
                for per_frame, placement in zip(rows, placements, strict=True)
            ]

    def _finish(self, rows: Any, placement: Letterbox) -> Detections:
        """Score, threshold and NMS one frame's rows on the device; map to source pixels."""
        import torch

        from model_code.detectors.nms import batched_nms_torch

        allowed = rows[:, 5:][:, self._class_ids] * rows[:, 4:5]
        scores, best = allowed.max(dim=1)
        candidates = torch.nonzero(scores >= self.score_threshold).flatten()
        if candidates.numel() > MAX_CANDIDATES:
            candidates = candidates[torch.topk(scores[candidates], MAX_CANDIDATES).indices]
        centres, sizes = rows[candidates, :2], rows[candidates, 2:4]
        boxes = torch.cat([centres - sizes / 2, centres + sizes / 2], dim=1)
        scores, labels = scores[candidates], self._class_ids[best[candidates]]
        keep = batched_nms_torch(boxes, scores, labels, self.nms_iou)
        source_boxes = placement.to_source(boxes[keep].cpu().numpy())
        has_area = (source_boxes[:, 2] > source_boxes[:, 0]) & (
            source_boxes[:, 3] > source_boxes[:, 1]
        )
        return Detections(
            source_boxes[has_area],
            scores[keep].cpu().numpy()[has_area],
            labels[keep].cpu().numpy()[has_area],
        )
