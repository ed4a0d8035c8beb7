"""The detector interface: what a detector returns, what it must provide, and its errors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

COCO_CLASS_NAMES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorbike", "aeroplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "sofa", "pottedplant",
    "bed", "diningtable", "toilet", "tvmonitor", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase",
    "scissors", "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip
"""The 80 COCO classes in darknet/YOLOX order; label 0 is person."""

DEFAULT_CLASSES: tuple[str, ...] = ("person",)


class DetectorError(ValueError):
    """Bad detector name, weights or configuration; the message says what to fix."""


@dataclass(frozen=True)
class Detections:
    """Detections for one frame: xyxy boxes in source pixels, scores and COCO class ids."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if not len(boxes) == len(scores) == len(labels):
            raise ValueError(
                f"Detections need as many boxes, scores and labels; got {len(boxes)}, "
                f"{len(scores)} and {len(labels)}"
            )
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "labels", labels)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.scores)

    def select(self, keep: np.ndarray) -> Detections:
        """The detections picked by a boolean mask or an index array."""
        return Detections(self.boxes[keep], self.scores[keep], self.labels[keep])


@runtime_checkable
class Detector(Protocol):
    """Turns a batch of BGR uint8 frames (sizes may differ) into one `Detections` per frame."""

    name: str
    class_names: Sequence[str]

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]: ...

    def runtime(self) -> dict[str, Any]:
        """What it runs on: name, device, backend, precision, batch_size, input size, and a
        `warning` when a GPU machine ended up on the CPU."""
        ...


def resolve_class_ids(
    classes: str | int | Iterable[str | int] | None, class_names: Sequence[str]
) -> np.ndarray:
    """Class ids for a filter given as names or ids; None keeps every class."""
    if classes is None:
        return np.arange(len(class_names), dtype=np.int64)
    if isinstance(classes, str | int):
        classes = [classes]
    index = {name.lower(): i for i, name in enumerate(class_names)}
    ids: list[int] = []
    for item in classes:
        if isinstance(item, bool):
            raise DetectorError(f"class {item!r} is neither a class name nor a class id")
        if isinstance(item, int | np.integer):
            if not 0 <= int(item) < len(class_names):
                raise DetectorError(
                    f"class id {item} is out of range: "
                    f"this detector has ids 0..{len(class_names) - 1}"
                )
            ids.append(int(item))
        elif isinstance(item, str) and item.strip().lower() in index:
            ids.append(index[item.strip().lower()])
        else:
            shown = ", ".join(class_names[:12]) + (", ..." if len(class_names) > 12 else "")
            raise DetectorError(f"unknown class {item!r}; known classes: {shown}")
    if not ids:
        raise DetectorError("the class filter is empty; give at least one class, or None for all")
    return np.array(sorted(set(ids)), dtype=np.int64)


def check_frames(frames: Sequence[np.ndarray]) -> None:
    """Reject anything that is not a BGR uint8 image with a message naming the frame."""
    for i, frame in enumerate(frames):
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
            raise ValueError(f"frame {i} must be a uint8 numpy array, got {type(frame).__name__}")
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] < 1 or frame.shape[1] < 1:
            raise ValueError(f"frame {i} must be an HxWx3 BGR image, got shape {frame.shape}")


def check_thresholds(score_threshold: float, nms_iou: float) -> None:
    if not 0.0 <= score_threshold <= 1.0:
        raise DetectorError(f"score_threshold must be within 0..1, got {score_threshold}")
    if not 0.0 < nms_iou <= 1.0:
        raise DetectorError(f"nms_iou must be within (0, 1], got {nms_iou}")
