"""Runs a detector module on frames: letterbox, batch, device, backend, then NMS per frame.

The module's `predict(x)` takes (N, 3, H, W) BGR pixels in 0..255 and returns (N, A, 4 + C):
xyxy boxes in input pixels, then per-class scores. On CUDA it runs in torch (fp16 by default);
on the CPU it runs either in torch or, exported once in memory to ONNX, in onnxruntime
(measured about twice as fast on 2 cores, docs/BENCHMARKS.md). A detector class with
`cpu_int8 = True` runs int8 on the CPU's onnxruntime by default (model_code/detectors/int8.py).
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from model_code.detectors.base import (
    COCO_CLASS_NAMES,
    DEFAULT_CLASSES,
    Detections,
    DetectorError,
    check_frames,
    check_thresholds,
    resolve_class_ids,
)
from model_code.detectors.device import DevicePlan, check_cuda, plan_device
from model_code.detectors.int8 import find_calibration_video, int8_model, int8_session
from model_code.detectors.letterbox import input_size_for, letterbox, parse_input_size
from model_code.detectors.postprocess import detections_from_best

ONNX_OPSET = 17
LOG = logging.getLogger(__name__)


class Predictor(nn.Module):
    """`module.predict` as `forward`, for tracing and export."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.module.predict(images)


def export_onnx(module: nn.Module, target: str | io.BytesIO, *, example_size: int = 64) -> None:
    """Export `module.predict` to ONNX with dynamic batch, height and width."""
    example = torch.zeros(1, 3, example_size, example_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's tracer and deprecation chatter
        torch.onnx.export(
            Predictor(module).eval(),
            (example,),
            target,
            dynamo=False,
            input_names=["images"],
            output_names=["detections"],
            dynamic_axes={
                "images": {0: "batch", 2: "height", 3: "width"},
                "detections": {0: "batch", 1: "anchors"},
            },
            opset_version=ONNX_OPSET,
        )


class TorchDetector:
    """A detector module run on CUDA (torch) or the CPU (onnxruntime or torch).

    `input_size` fixes the network input (an int for a square, or (width, height)); None letterboxes
    each frame to a long side of `max_side`, both sides rounded up to multiples of 32.
    `batch_size` is how many frames go through the network at once (default: the class's
    `default_batch_size` on the CPU, `gpu_batch_size` on CUDA). `int8` picks int8 on the CPU's
    onnxruntime backend: None (default) when the class says `cpu_int8` and a calibration clip
    is found (else fp32, with a warning in `runtime()`), True to insist, False for fp32.
    """

    name = "torch"
    class_names: tuple[str, ...] = COCO_CLASS_NAMES
    default_batch_size = 1
    gpu_batch_size = 32
    default_max_side = 416
    cpu_backend = "onnxruntime"
    cpu_int8 = False
    weights_dir: Path | None = None

    def __init__(
        self,
        module: nn.Module,
        *,
        classes: str | int | Iterable[str | int] | None = DEFAULT_CLASSES,
        score_threshold: float = 0.1,
        nms_iou: float = 0.45,
        input_size: int | tuple[int, int] | None = None,
        max_side: int | None = None,
        device: str | None = None,
        backend: str | None = None,
        half: bool | None = None,
        batch_size: int | None = None,
        int8: bool | None = None,
    ) -> None:
        check_thresholds(score_threshold, nms_iou)
        self.class_ids = resolve_class_ids(classes, self.class_names)
        self.score_threshold = float(score_threshold)
        self.nms_iou = float(nms_iou)
        self.input_size = parse_input_size(input_size)
        self.max_side = int(max_side or self.default_max_side)
        if self.max_side < 32 or self.max_side % 32:
            raise DetectorError(f"max_side must be a multiple of 32, got {self.max_side}")
        self.plan: DevicePlan = plan_device(
            device,
            cuda_available=torch.cuda.is_available(),
            cpu_backend=backend or self.cpu_backend,
            half=half,
        )
        if self.plan.cuda:
            check_cuda(self.plan.device)  # a broken CUDA fails the model load (unhealthy /ping)
        # The instance's default is its device's: the pipeline reads it to size its batches.
        self.default_batch_size = self.gpu_batch_size if self.plan.cuda else self.default_batch_size
        self.batch_size = int(batch_size or self.default_batch_size)
        if self.batch_size < 1:
            raise DetectorError(f"batch_size must be at least 1, got {batch_size}")
        module = module.eval()
        self.module = module
        self._session: Any = None
        if int8 and self.plan.backend != "onnxruntime":
            raise DetectorError(
                f"int8 runs on the CPU's onnxruntime backend, not on {self.plan.device} "
                f"with {self.plan.backend}; use device='cpu' and backend='onnxruntime'"
            )
        if self.plan.backend == "onnxruntime" and (self.cpu_int8 if int8 is None else int8):
            self._session = self._int8_session(module, required=bool(int8))
        if self.plan.backend == "onnxruntime" and self._session is None:
            try:
                self._session = _onnx_session(module)
            except Exception as exc:  # the exporter and onnxruntime raise many unrelated types
                LOG.warning(
                    "ONNX export for onnxruntime failed (%s: %s); the detector runs in torch",
                    type(exc).__name__,
                    exc,
                )
                self.plan = replace(self.plan, backend="torch")
        if self._session is None:
            module.to(self.plan.device)
            if self.plan.precision == "fp16":
                module.half()
        self._class_index = torch.from_numpy(self.class_ids + 4)

    def _int8_session(self, module: nn.Module, *, required: bool) -> Any:
        """The int8 session, or None (fp32 follows) with the reason kept in the plan's warning;
        `required` raises instead."""
        video = find_calibration_video(self.weights_dir)
        try:
            if video is None:
                raise DetectorError(
                    "int8 needs a calibration clip and none was found; set "
                    "$MOTFLOW_CALIBRATION_VIDEO to a short video of the scenes you track"
                )
            session = int8_session(int8_model(module, video, self.network_size, export_onnx))
        except Exception as exc:  # the exporter, quantizer and onnxruntime raise many types
            if required:
                raise DetectorError(f"int8 detector could not be built: {exc}") from exc
            warning = f"int8 detector not built ({type(exc).__name__}: {exc}); ran fp32"
            LOG.warning(warning)
            self.plan = replace(self.plan, warning=warning)
            return None
        self.plan = replace(self.plan, precision="int8")
        return session

    def network_size(self, width: int, height: int) -> tuple[int, int]:
        """The network input (width, height) used for a source frame of this size."""
        return self.input_size or input_size_for(width, height, max_side=self.max_side)

    def runtime(self) -> dict[str, Any]:
        """What this detector actually runs on, for the job summary."""
        info: dict[str, Any] = {
            "name": self.name,
            "device": self.plan.device,
            "backend": self.plan.backend,
            "precision": self.plan.precision,
            "batch_size": self.batch_size,
            "input_size": list(self.input_size) if self.input_size else None,
            "max_side": None if self.input_size else self.max_side,
        }
        if self.plan.warning:
            info["warning"] = self.plan.warning
        return info

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        check_frames(frames)
        results: list[Detections] = [Detections.empty()] * len(frames)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, frame in enumerate(frames):
            groups.setdefault(self.network_size(frame.shape[1], frame.shape[0]), []).append(i)
        for size, indices in groups.items():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                found = self._detect_same_size([frames[i] for i in chunk], size)
                for i, dets in zip(chunk, found, strict=True):
                    results[i] = dets
        return results

    def _detect_same_size(
        self, frames: list[np.ndarray], size: tuple[int, int]
    ) -> list[Detections]:
        boxed = [letterbox(frame, size) for frame in frames]
        batch = np.stack([image for image, _ in boxed])  # (N, H, W, 3) uint8 BGR
        boxes, scores, labels = self._best_per_anchor(batch)
        return [
            detections_from_best(
                boxes[i],
                scores[i],
                self.class_ids[labels[i]],
                score_threshold=self.score_threshold,
                nms_iou=self.nms_iou,
                placement=placement,
            )
            for i, (_, placement) in enumerate(boxed)
        ]

    def _best_per_anchor(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (N, A, 4), best allowed score (N, A) and its index into `class_ids` (N, A)."""
        if self._session is not None:
            images = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)
            rows = self._session.run(None, {"images": images})[0]
            allowed = rows[..., self.class_ids + 4]
            return rows[..., :4], allowed.max(-1), allowed.argmax(-1)
        device = self.plan.device
        dtype = torch.float16 if self.plan.precision == "fp16" else torch.float32
        with torch.inference_mode():
            images = torch.from_numpy(batch).to(device, non_blocking=True)
            rows = self.module.predict(images.permute(0, 3, 1, 2).to(dtype))
            allowed = rows[..., self._class_index.to(device)]
            scores, best = allowed.max(-1)
            return (
                rows[..., :4].float().cpu().numpy(),
                scores.float().cpu().numpy(),
                best.cpu().numpy(),
            )


def _onnx_session(module: nn.Module) -> Any:
    import onnxruntime as ort

    buffer = io.BytesIO()
    export_onnx(module, buffer)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
