"""Box geometry and the MOT row format, written once for the whole engine.

Boxes are float arrays of shape (N, 4): `xyxy` is (x1, y1, x2, y2), `xywh` is (left, top, width,
height), both in source pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def xyxy_to_xywh(boxes_xyxy: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    return np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]])


def xywh_to_xyxy(boxes_xywh: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    return np.column_stack([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]])


def cxcywh_to_xyxy(boxes_cxcywh: np.ndarray) -> np.ndarray:
    """(centre x, centre y, width, height) to xyxy, keeping the dtype."""
    boxes = np.asarray(boxes_cxcywh).reshape(-1, 4)
    half = boxes[:, 2:4] / 2
    return np.concatenate([boxes[:, :2] - half, boxes[:, :2] + half], axis=1)


def clip_xyxy(boxes_xyxy: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes clipped to a `width` x `height` picture, and which of them keep an area there
    (a predicted box may drift past the edge, or wholly out of the picture)."""
    boxes = np.asarray(boxes_xyxy).reshape(-1, 4)
    limits = np.array([width, height, width, height], dtype=boxes.dtype)
    clipped = np.clip(boxes, 0, limits)
    inside = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
    return clipped, inside


NORM_DECIMALS = 6  # normalized coordinates: a 1/10000-pixel step on an 8K frame


def normalized_xywh(box_xywh: Sequence[float], width: int, height: int) -> list[float]:
    """`x, y, w, h` as fractions of the frame (the Rekognition / Video Intelligence convention),
    clipped to the frame so every value lies in [0, 1]."""
    x, y, w, h = (float(v) for v in box_xywh)
    x1, y1 = min(max(x, 0.0), width), min(max(y, 0.0), height)
    x2, y2 = min(max(x + w, 0.0), width), min(max(y + h, 0.0), height)
    return [
        round(x1 / width, NORM_DECIMALS),
        round(y1 / height, NORM_DECIMALS),
        round((x2 - x1) / width, NORM_DECIMALS),
        round((y2 - y1) / height, NORM_DECIMALS),
    ]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in `a` (N, 4) with every box in `b` (M, 4), both xyxy; shape (N, M)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    ax1, ay1, ax2, ay2 = a[:, 0:1], a[:, 1:2], a[:, 2:3], a[:, 3:4]
    bx1, by1, bx2, by2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    iw = np.minimum(ax2, bx2) - np.maximum(ax1, bx1)
    ih = np.minimum(ay2, by2) - np.maximum(ay1, by1)
    np.maximum(iw, 0.0, out=iw)
    np.maximum(ih, 0.0, out=ih)
    inter = iw * ih
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / np.maximum(union, 1e-9)


BOX_DECIMALS = 2
SCORE_DECIMALS = 4


def mot_records(
    frame: int | np.ndarray, ids: np.ndarray, boxes_xyxy: np.ndarray, scores: np.ndarray
) -> list[list[float]]:
    """MOTChallenge values `[frame, id, x, y, w, h, score]` per box, rounded as the files are.

    `frame` is one frame number for all boxes or one per box. Coordinates keep BOX_DECIMALS and
    scores SCORE_DECIMALS, the same in every file and reply the engine writes.
    """
    xywh = np.round(xyxy_to_xywh(boxes_xyxy), BOX_DECIMALS)
    frames = np.broadcast_to(np.asarray(frame), (len(xywh),))
    return [
        [int(f), int(i), *(float(v) for v in box), round(float(s), SCORE_DECIMALS)]
        for f, i, box, s in zip(frames, ids, xywh, scores, strict=True)
    ]


def mot_rows(
    frame: int | np.ndarray, ids: np.ndarray, boxes_xyxy: np.ndarray, scores: np.ndarray
) -> str:
    """MOTChallenge rows `frame,id,x,y,w,h,score,-1,-1,-1` (one per box, newline-terminated)."""
    box, score = f".{BOX_DECIMALS}f", f".{SCORE_DECIMALS}f"
    return "".join(
        f"{f},{i},{x:{box}},{y:{box}},{w:{box}},{h:{box}},{s:{score}},-1,-1,-1\n"
        for f, i, x, y, w, h, s in mot_records(frame, ids, boxes_xyxy, scores)
    )
