"""Augmentation suited to fixed-camera video: random scale and placement, horizontal flip, and
colour jitter (brightness, contrast, saturation). No rotation or vertical flip: cameras are upright.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from model_code.training.frames import Sample

PAD_VALUE = 114
MIN_KEPT_AREA = 0.4  # a box cut by the canvas edge below this share of its area is dropped
MIN_SIDE = 2.0


@dataclass(frozen=True)
class AugmentConfig:
    scale: tuple[float, float] = (0.6, 1.4)
    flip: float = 0.5
    brightness: float = 0.2
    contrast: float = 0.3
    saturation: float = 0.3


def _jitter(image: np.ndarray, config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    out = image.astype(np.float32)
    if config.saturation:
        gray = out.mean(axis=2, keepdims=True)
        out = gray + (out - gray) * rng.uniform(1 - config.saturation, 1 + config.saturation)
    if config.contrast:
        out = (out - out.mean()) * rng.uniform(
            1 - config.contrast, 1 + config.contrast
        ) + out.mean()
    if config.brightness:
        out = out + 255.0 * rng.uniform(-config.brightness, config.brightness)
    return np.clip(out, 0, 255).astype(np.uint8)


def augment(
    sample: Sample, size: int, config: AugmentConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A `size` x `size` training image with its xyxy boxes and class indices."""
    height, width = sample.image.shape[:2]
    scale = size / max(height, width) * rng.uniform(*config.scale)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    image = cv2.resize(sample.image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    boxes = sample.boxes * scale
    if rng.random() < config.flip:
        image = image[:, ::-1]
        boxes = np.stack([new_w - boxes[:, 2], boxes[:, 1], new_w - boxes[:, 0], boxes[:, 3]], 1)
    image = _jitter(image, config, rng)
    dx = int(rng.integers(min(0, size - new_w), max(0, size - new_w) + 1))
    dy = int(rng.integers(min(0, size - new_h), max(0, size - new_h) + 1))
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    src_x, src_y = max(0, -dx), max(0, -dy)
    dst_x, dst_y = max(0, dx), max(0, dy)
    w = min(new_w - src_x, size - dst_x)
    h = min(new_h - src_y, size - dst_y)
    canvas[dst_y : dst_y + h, dst_x : dst_x + w] = image[src_y : src_y + h, src_x : src_x + w]
    moved = boxes.reshape(-1, 4) + np.array([dx, dy, dx, dy], np.float32)
    clipped = np.clip(moved, 0, size)
    area = (moved[:, 2] - moved[:, 0]) * (moved[:, 3] - moved[:, 1])
    kept_area = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    keep = (
        (kept_area >= MIN_KEPT_AREA * np.maximum(area, 1e-6))
        & (clipped[:, 2] - clipped[:, 0] >= MIN_SIDE)
        & (clipped[:, 3] - clipped[:, 1] >= MIN_SIDE)
    )
    return canvas, clipped[keep].astype(np.float32), sample.classes[keep]


def pad_to_stride(image: np.ndarray, stride: int = 32) -> np.ndarray:
    """Pad bottom and right to multiples of `stride`; box coordinates are unchanged."""
    height, width = image.shape[:2]
    out_h, out_w = -(-height // stride) * stride, -(-width // stride) * stride
    canvas = np.full((out_h, out_w, 3), PAD_VALUE, np.uint8)
    canvas[:height, :width] = image
    return canvas
