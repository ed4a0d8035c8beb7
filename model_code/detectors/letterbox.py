"""Letterbox resize (aspect kept, padded with grey) and the inverse map for boxes."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from model_code.detectors.base import DetectorError

PAD_VALUE = 114


@dataclass(frozen=True)
class Letterbox:
    """How a source image was placed in the network input: scale first, then padding."""

    scale: float
    pad_x: float
    pad_y: float
    source_width: int
    source_height: int

    def to_source(self, boxes: np.ndarray) -> np.ndarray:
        """Map (N, 4) xyxy boxes from network-input pixels back to source pixels, clipped."""
        out = np.asarray(boxes, dtype=np.float32).reshape(-1, 4).copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, self.source_width)
        out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, self.source_height)
        return out

    def to_input(self, boxes: np.ndarray) -> np.ndarray:
        """Map (N, 4) xyxy boxes from source pixels to network-input pixels."""
        out = np.asarray(boxes, dtype=np.float32).reshape(-1, 4).copy()
        out[:, [0, 2]] = out[:, [0, 2]] * self.scale + self.pad_x
        out[:, [1, 3]] = out[:, [1, 3]] * self.scale + self.pad_y
        return out


def letterbox(
    image: np.ndarray, size: tuple[int, int], *, center: bool = True, pad_value: int = PAD_VALUE
) -> tuple[np.ndarray, Letterbox]:
    """Resize `image` into `size` = (width, height) keeping its aspect, padding the rest.

    `center=True` splits the padding evenly (darknet style); `center=False` pads only right and
    bottom (YOLOX's own preprocessing).
    """
    target_w, target_h = size
    src_h, src_w = image.shape[:2]
    scale = min(target_w / src_w, target_h / src_h)
    new_w = min(target_w, max(1, round(src_w * scale)))
    new_h = min(target_h, max(1, round(src_h * scale)))
    if (new_w, new_h) != (src_w, src_h):
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    else:
        resized = image
    pad_x = (target_w - new_w) // 2 if center else 0
    pad_y = (target_h - new_h) // 2 if center else 0
    canvas = np.full((target_h, target_w, 3), pad_value, dtype=np.uint8)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    return canvas, Letterbox(scale, float(pad_x), float(pad_y), src_w, src_h)


def input_size_for(
    width: int, height: int, *, multiple: int = 32, max_side: int = 960
) -> tuple[int, int]:
    """A network input (width, height) near the source size: long side capped, multiples of 32."""
    shrink = min(1.0, max_side / max(width, height))
    return (
        max(multiple, math.ceil(width * shrink / multiple) * multiple),
        max(multiple, math.ceil(height * shrink / multiple) * multiple),
    )


def parse_input_size(value: int | tuple[int, int] | list[int] | None) -> tuple[int, int] | None:
    """Normalise an input size option: an int means square, a pair means (width, height)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        pair = (value, value)
    elif isinstance(value, tuple | list) and len(value) == 2:
        pair = (value[0], value[1])
    else:
        raise DetectorError(f"input_size must be an int or a (width, height) pair, got {value!r}")
    if not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 32 and v % 32 == 0 for v in pair
    ):
        raise DetectorError(
            f"input_size sides must be multiples of 32 and at least 32, got {value!r}"
        )
    return int(pair[0]), int(pair[1])
