"""Box geometry and the MOT row format, written once for the whole engine.

Boxes are float arrays of shape (N, 4): `xyxy` is (x1, y1, x2, y2), `xywh` is (left, top, width,
height), both in source pixels.
"""

from __future__ import annotations

import numpy as np


def xyxy_to_xywh(boxes_xyxy: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    return np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]])


def xywh_to_xyxy(boxes_xywh: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    return np.column_stack([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]])


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


def mot_rows(
    frame: int | np.ndarray, ids: np.ndarray, boxes_xyxy: np.ndarray, scores: np.ndarray
) -> str:
    """MOTChallenge rows `frame,id,x,y,w,h,score,-1,-1,-1` (one per box, newline-terminated).

    `frame` is one frame number for all boxes or one per box. Coordinates keep two decimals and
    scores four, the same in every file the engine writes.
    """
    xywh = xyxy_to_xywh(boxes_xyxy)
    frames = np.broadcast_to(np.asarray(frame), (len(xywh),))
    return "".join(
        f"{int(f)},{int(i)},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{float(s):.4f},-1,-1,-1\n"
        for f, i, (x, y, w, h), s in zip(frames, ids, xywh, scores, strict=True)
    )
