"""MOTA / IDF1 with py-motmetrics, the way the issue's anchors were scored.

Ground truth is MOTChallenge `gt.txt` (`frame,id,x,y,w,h,considered,...`). Rows whose
`considered` flag (column 7) is 0 are dropped before matching, which is what py-motmetrics'
`min_confidence=1` does for MOT15 and what the anchor figures used. Hypotheses are MOT rows
`frame,id,x,y,w,h,score,...` given as a file path or as an array/sequence of rows. Boxes are
matched at IoU >= `iou` (0.5 by default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import motmetrics as mm
import numpy as np
import pandas as pd

from model_code.boxes import iou_matrix, xywh_to_xyxy

METRICS = (
    "mota",
    "idf1",
    "motp",
    "precision",
    "recall",
    "num_switches",
    "num_false_positives",
    "num_misses",
    "mostly_tracked",
    "mostly_lost",
    "num_unique_objects",
    "num_frames",
)

RowsOrPath = str | Path | np.ndarray | Sequence[Sequence[float]]


def load_mot_rows(source: RowsOrPath) -> np.ndarray:
    """MOT rows as a float array of shape (N, >=7); a path is read as comma-separated text."""
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"MOT file not found: {path}")
        text = path.read_text().strip()
        if not text:
            return np.zeros((0, 7))
        rows = np.array(
            [
                [float(v) for v in line.replace(" ", "").split(",")]
                for line in text.splitlines()
                if line.strip()
            ],
            dtype=np.float64,
        )
    else:
        rows = np.asarray(source, dtype=np.float64)
        if rows.size == 0:
            return np.zeros((0, 7))
    if rows.ndim != 2 or rows.shape[1] < 7:
        raise ValueError(
            f"MOT rows need at least 7 columns (frame,id,x,y,w,h,score), got shape {rows.shape}"
        )
    return rows


def iou_distance(gt_xywh: np.ndarray, hyp_xywh: np.ndarray, iou: float) -> np.ndarray:
    """`1 - IoU` for every gt/hypothesis pair; NaN (never matched) where IoU < `iou`.

    Not motmetrics' own `iou_matrix`: motmetrics 1.4 calls `np.asfarray`, gone in numpy 2.
    """
    overlap = iou_matrix(xywh_to_xyxy(gt_xywh), xywh_to_xyxy(hyp_xywh))
    dist = 1.0 - overlap
    dist[overlap < iou] = np.nan
    return dist


def _by_frame(rows: np.ndarray) -> dict[int, np.ndarray]:
    frames = rows[:, 0].astype(np.int64)
    order = np.argsort(frames, kind="stable")
    rows, frames = rows[order], frames[order]
    keys, starts = np.unique(frames, return_index=True)
    return dict(zip(keys.tolist(), np.split(rows, starts[1:]), strict=True)) if len(keys) else {}


def accumulate(gt_path: RowsOrPath, tracks: RowsOrPath, iou: float = 0.5) -> mm.MOTAccumulator:
    """A py-motmetrics accumulator for one sequence (gt rows with considered == 0 dropped)."""
    if not 0.0 < iou <= 1.0:
        raise ValueError(f"iou must be in (0, 1], got {iou}")
    gt = load_mot_rows(gt_path)
    gt = gt[gt[:, 6] >= 1]
    hyp = load_mot_rows(tracks)
    gt_frames, hyp_frames = _by_frame(gt), _by_frame(hyp)
    acc = mm.MOTAccumulator(auto_id=False)
    for frame in sorted(gt_frames.keys() | hyp_frames.keys()):
        g = gt_frames.get(frame, np.zeros((0, 7)))
        h = hyp_frames.get(frame, np.zeros((0, 7)))
        dist = iou_distance(g[:, 2:6], h[:, 2:6], iou)
        acc.update(g[:, 1].astype(np.int64), h[:, 1].astype(np.int64), dist, frameid=frame)
    return acc


def _row_dict(summary: pd.DataFrame, name: str) -> dict[str, Any]:
    row = summary.loc[name]
    out: dict[str, Any] = {}
    for key in METRICS:
        value = row[key]
        out[key] = int(value) if key.startswith(("num_", "mostly_")) else float(value)
    return out


def evaluate_mot(gt_path: RowsOrPath, tracks_path_or_rows: RowsOrPath, iou: float = 0.5) -> dict:
    """MOTA, IDF1 and friends for one sequence; rates are fractions (0.768, not 76.8)."""
    acc = accumulate(gt_path, tracks_path_or_rows, iou)
    summary = mm.metrics.create().compute(acc, metrics=list(METRICS), name="seq")
    return _row_dict(summary, "seq")


def evaluate_many(
    pairs: Mapping[str, tuple[RowsOrPath, RowsOrPath]], iou: float = 0.5
) -> dict[str, dict]:
    """Per-sequence metrics plus an `"OVERALL"` entry pooled over all sequences.

    `pairs` maps a sequence name to `(gt, tracks)`.
    """
    if not pairs:
        raise ValueError("evaluate_many needs at least one sequence")
    names = list(pairs)
    accs = [accumulate(gt, tracks, iou) for gt, tracks in pairs.values()]
    summary = mm.metrics.create().compute_many(
        accs, metrics=list(METRICS), names=names, generate_overall=True
    )
    result = {name: _row_dict(summary, name) for name in names}
    result["OVERALL"] = _row_dict(summary, "OVERALL")
    return result
