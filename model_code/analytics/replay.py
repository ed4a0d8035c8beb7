"""Analytics from tracks already written (MOT rows, e.g. ground truth or tracks.txt): the rows
are replayed frame by frame through `AnalyticsSink`, exactly as a run feeds it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from model_code.analytics.sink import AnalyticsSink
from model_code.analytics.spec import AnalyticsSpec
from model_code.boxes import xywh_to_xyxy
from model_code.results import StreamFacts


@dataclass(frozen=True)
class _Frame:
    ids: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray


def analytics_from_rows(
    rows: np.ndarray,
    spec: AnalyticsSpec,
    *,
    fps: float,
    width: int,
    height: int,
    frames: Sequence[int] | None = None,
    class_names: Sequence[str] = ("person",),
) -> dict[str, Any]:
    """The analytics document of MOT rows ``[frame, id, x, y, w, h, ...]`` (label 0 for all).

    `frames` lists the processed frames (default: 1 to the last frame with a row), so that
    frames without any object still count for occupancy.
    """
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, max(np.shape(rows)[-1], 6))
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    last = int(rows[:, 0].max()) if len(rows) else 0
    numbers = list(frames) if frames is not None else list(range(1, last + 1))
    sink = AnalyticsSink(spec, StreamFacts(fps, width, height, fps, class_names), None)
    starts = np.searchsorted(rows[:, 0], numbers, side="left")
    ends = np.searchsorted(rows[:, 0], numbers, side="right")
    image = np.zeros((1, 1, 3), np.uint8)
    for number, start, end in zip(numbers, starts, ends, strict=True):
        chunk = rows[start:end]
        sink.write(
            int(number),
            image,
            _Frame(
                chunk[:, 1].astype(np.int64),
                xywh_to_xyxy(chunk[:, 2:6]),
                np.ones(len(chunk)),
                np.zeros(len(chunk), np.int64),
            ),
        )
    sink.close()
    assert sink.document is not None
    return sink.document
