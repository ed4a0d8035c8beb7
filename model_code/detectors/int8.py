"""An int8 onnxruntime session for a torch detector module on the CPU, calibrated on a real clip.

Static quantization (QDQ, per-channel int8 weights, uint8 activations, min-max ranges) of every
layer up to the last convolution; the box and score decoding after it stays fp32, so scores keep
their resolution near the tracker's thresholds. The activation ranges come from frames of a
calibration clip (by default the bundled CC-BY sample), never from the video being tracked, so a
video's detections do not depend on which video ran first.

Quantizing takes a few seconds, so the model is cached on disk, keyed by the module's weights,
the calibration clip, onnxruntime's version and this recipe (`RECIPE`).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from model_code.detectors.base import DetectorError
from model_code.detectors.letterbox import letterbox

LOG = logging.getLogger(__name__)
RECIPE = "qdq-per-channel-minmax-u8s8-fp32-decode/1"
CALIBRATION_ENV = "MOTFLOW_CALIBRATION_VIDEO"
CACHE_ENV = "MOTFLOW_CACHE_DIR"
CALIBRATION_FILE = "calibration.mp4"
CHECKOUT_SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "people-walking.mp4"
CALIBRATION_STEP = 2  # every 2nd frame of the 300-frame sample: 150 frames


def find_calibration_video(weights_dir: Path | None) -> Path | None:
    """The calibration clip: $MOTFLOW_CALIBRATION_VIDEO, else `calibration.mp4` beside the
    weights (the model directory ships it), else the checkout's bundled sample; None if none."""
    candidates = []
    if os.environ.get(CALIBRATION_ENV):
        candidates.append(Path(os.environ[CALIBRATION_ENV]))
    if weights_dir is not None:
        candidates.append(Path(weights_dir) / CALIBRATION_FILE)
    candidates.append(CHECKOUT_SAMPLE)
    return next((path for path in candidates if path.is_file()), None)


def cache_dir() -> Path:
    """$MOTFLOW_CACHE_DIR, else $XDG_CACHE_HOME/motflow, else ~/.cache/motflow."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "motflow"


def calibration_frames(
    video: Path, network_size: Callable[[int, int], tuple[int, int]], step: int = CALIBRATION_STEP
) -> list[np.ndarray]:
    """Every `step`-th frame of `video`, letterboxed as the detector would: (1, 3, H, W) fp32."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    frames, index = [], 0
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            if index % step == 0:
                boxed, _ = letterbox(image, network_size(image.shape[1], image.shape[0]))
                frames.append(np.ascontiguousarray(boxed.transpose(2, 0, 1)[None], np.float32))
            index += 1
    finally:
        capture.release()
    if not frames:
        raise DetectorError(f"the calibration clip {video} has no readable frames")
    return frames


def model_key(module: nn.Module, video: Path) -> str:
    """What the quantized model depends on: weights, architecture, clip, onnxruntime, recipe."""
    import onnxruntime

    digest = hashlib.sha256()
    for part in (type(module).__qualname__, onnxruntime.__version__, RECIPE):
        digest.update(part.encode() + b"\0")
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode() + str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    digest.update(hashlib.sha256(video.read_bytes()).digest())
    return digest.hexdigest()[:24]


def quantize(
    module: nn.Module,
    frames: list[np.ndarray],
    export: Callable[[nn.Module, io.BytesIO], None],
) -> bytes:
    """The module's int8 ONNX model, its activation ranges measured on `frames`."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            self._frames: Iterator[np.ndarray] = iter(frames)

        def get_next(self) -> dict[str, np.ndarray] | None:
            frame = next(self._frames, None)
            return None if frame is None else {"images": frame}

    buffer = io.BytesIO()
    export(module, buffer)
    with tempfile.TemporaryDirectory(prefix="motflow-int8-") as scratch:
        fp32, prepared, int8 = (Path(scratch) / n for n in ("fp32.onnx", "pre.onnx", "int8.onnx"))
        fp32.write_bytes(buffer.getvalue())
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        nodes = list(onnx.load(str(prepared)).graph.node)
        last_conv = max(i for i, node in enumerate(nodes) if node.op_type == "Conv")
        quantize_static(
            str(prepared),
            str(int8),
            Frames(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=[node.name for node in nodes[last_conv + 1 :]],
        )
        return int8.read_bytes()


def int8_model(
    module: nn.Module,
    video: Path,
    network_size: Callable[[int, int], tuple[int, int]],
    export: Callable[[nn.Module, io.BytesIO], None],
) -> bytes:
    """The module's int8 ONNX model from the disk cache, made and cached on a miss."""
    path = cache_dir() / f"int8-{model_key(module, video)}.onnx"
    if path.is_file():
        return path.read_bytes()
    LOG.info("quantizing the detector to int8 on %s (once; cached in %s)", video, path.parent)
    model = quantize(module, calibration_frames(video, network_size), export)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(model)
        partial.replace(path)  # atomic: concurrent workers never read half a file
    except OSError as exc:  # a read-only or full disk costs the next start time, nothing else
        LOG.warning("could not cache the int8 detector in %s: %s", path.parent, exc)
    return model


def int8_session(model: bytes) -> Any:
    """An onnxruntime CPU session for an int8 model."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
