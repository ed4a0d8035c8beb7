"""The detector interface: Detections, class filters, build_detector's names and errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model_code.detectors import (
    COCO_CLASS_NAMES,
    DEFAULT_DETECTOR,
    DETECTOR_NAMES,
    Detections,
    Detector,
    DetectorError,
    build_detector,
    resolve_class_ids,
)


def test_detections_coerce_types_and_check_lengths() -> None:
    dets = Detections([[1, 2, 3, 4]], [0.5], [0])
    assert dets.boxes.dtype == np.float32 and dets.boxes.shape == (1, 4)
    assert dets.scores.dtype == np.float32 and dets.labels.dtype == np.int64
    assert len(dets) == 1
    empty = Detections.empty()
    assert len(empty) == 0 and empty.boxes.shape == (0, 4)
    picked = Detections([[0, 0, 1, 1], [2, 2, 3, 3]], [0.2, 0.9], [0, 1]).select(np.array([1]))
    assert picked.labels.tolist() == [1] and picked.boxes.tolist() == [[2, 2, 3, 3]]
    with pytest.raises(ValueError, match="as many boxes, scores and labels"):
        Detections([[1, 2, 3, 4]], [0.5, 0.6], [0])


def test_class_filter_by_name_or_id() -> None:
    assert resolve_class_ids(("person",), COCO_CLASS_NAMES).tolist() == [0]
    assert resolve_class_ids("Person", COCO_CLASS_NAMES).tolist() == [0]
    assert resolve_class_ids(["car", 0, "car"], COCO_CLASS_NAMES).tolist() == [0, 2]
    assert len(resolve_class_ids(None, COCO_CLASS_NAMES)) == 80


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        (["pedestrian"], "unknown class 'pedestrian'; known classes: person, bicycle"),
        ([80], "class id 80 is out of range"),
        ([-1], "class id -1 is out of range"),
        ([], "the class filter is empty"),
        ([True], "neither a class name nor a class id"),
    ],
)
def test_bad_class_filters_are_rejected(classes: list[object], message: str) -> None:
    with pytest.raises(DetectorError, match=message):
        resolve_class_ids(classes, COCO_CLASS_NAMES)  # type: ignore[arg-type]
    with pytest.raises(DetectorError, match=message):
        build_detector("yolov3-tiny", classes=classes)  # type: ignore[arg-type]


def test_unknown_detector_lists_the_valid_names() -> None:
    with pytest.raises(DetectorError, match="unknown detector 'yolov5'; valid names: ") as info:
        build_detector("yolov5")
    assert all(name in str(info.value) for name in DETECTOR_NAMES)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"score_threshold": 1.5}, "score_threshold must be within 0..1"),
        ({"nms_iou": 0.0}, "nms_iou must be within"),
        ({"device": "tpu"}, "unknown device"),
        ({"max_side": 100}, "multiple of 32"),
        ({"weights": "a", "weights_dir": "b"}, "either weights or weights_dir"),
        ({"anchors": 3}, "bad option for detector 'yolov3-tiny'"),
        ({"input_size": 100}, "multiples of 32"),
    ],
)
def test_bad_options_are_detector_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(DetectorError, match=message):
        build_detector("yolov3-tiny", **options)  # type: ignore[arg-type]


def test_default_detector_follows_the_protocol_and_rejects_bad_frames() -> None:
    detector = build_detector()
    assert isinstance(detector, Detector)
    assert detector.name == DEFAULT_DETECTOR == "nanodet-g"
    assert detector.class_names[0] == "person" and len(detector.class_names) == 80
    with pytest.raises(ValueError, match="frame 0 must be a uint8"):
        detector.detect([np.zeros((8, 8, 3), np.float32)])
    with pytest.raises(ValueError, match="frame 1 must be an HxWx3 BGR image"):
        detector.detect([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)])


def test_importing_detectors_does_not_import_torch_or_onnxruntime(repo_root: Path) -> None:
    """torch is paid for when a detector is built, not by importing the package."""
    code = (
        "import sys; from model_code.detectors import build_detector, DEFAULT_DETECTOR; "
        "print(sorted({'torch', 'onnxruntime'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=repo_root,
    )
    assert done.stdout.strip() == "[]"
