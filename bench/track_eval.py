"""MOTA, IDF1 and HOTA from a kept implementation: `trackers` 2.6.1's evaluation (TrackEval parity).

`trackers.eval.evaluate_mot_sequence` scores one gt file against one tracker file (CLEAR at IoU
0.5, Identity at IoU 0.5, HOTA over its 19 IoU thresholds), and its `aggregate_*` functions pool
sequences the way TrackEval's COMBINED row does. This module only feeds it: the tracker rows go to
a temporary MOT file, and MOT15 ground truth (whose eighth column is a world coordinate, not a
class) is rewritten with every row marked pedestrian, as TrackEval's MOT15 benchmark treats it.
MOT16/17 ground truth is passed through untouched, so its distractor classes are handled by
`trackers` as TrackEval handles them.

`trackers` is a benchmark peer (`requirements/bench.txt`, installed by `make bench` into
.cache/bench-site): importing this module without it raises ImportError.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from trackers.eval import (
    CLEARMetrics,
    HOTAMetrics,
    IdentityMetrics,
    SequenceResult,
    aggregate_clear_metrics,
    aggregate_hota_metrics,
    aggregate_identity_metrics,
    evaluate_mot_sequence,
)

METRIC_FAMILIES = ["CLEAR", "Identity", "HOTA"]


@dataclass(frozen=True)
class Scores:
    """The figures the benchmarks print; rates are fractions (0.768, not 76.8)."""

    mota: float
    idf1: float
    hota: float
    idsw: int
    deta: float
    assa: float

    def points(self) -> tuple[float, float, float]:
        """MOTA, IDF1, HOTA in points."""
        return 100 * self.mota, 100 * self.idf1, 100 * self.hota


def _is_mot15_gt(rows: np.ndarray) -> bool:
    """MOT15 gt carries world coordinates (-1 or metres) where MOT16/17 has a class and a
    visibility; a class column holds whole numbers from 1 to 13 only."""
    if rows.shape[1] < 9:
        return True
    classes = rows[:, 7]
    return not (np.all(classes == np.round(classes)) and classes.min() >= 1 and classes.max() <= 13)


def _write(rows: np.ndarray, path: Path) -> Path:
    np.savetxt(path, rows, delimiter=",", fmt="%.6g")
    return path


class GroundTruth:
    """One sequence's gt, normalised once to what `trackers` reads, in a temporary folder."""

    def __init__(self, gt_path: str | Path, folder: Path) -> None:
        rows = np.loadtxt(gt_path, delimiter=",", ndmin=2)
        if _is_mot15_gt(rows):
            # frame,id,x,y,w,h,considered + class 1 (pedestrian) + visibility 1
            rows = np.column_stack([rows[:, :7], np.ones((len(rows), 2))])
        self.path = _write(rows, folder / f"gt-{abs(hash(str(gt_path)))}.txt")


class Evaluator:
    """Scores tracker rows against gt files; gt files are normalised once and reused."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="motflow-eval-")
        self._gt: dict[str, GroundTruth] = {}

    def close(self) -> None:
        self._folder.cleanup()

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sequence(self, gt_path: str | Path, tracks: np.ndarray) -> SequenceResult:
        """One sequence: `tracks` are MOT rows `frame,id,x,y,w,h,score` (frames 1-based)."""
        key = str(gt_path)
        folder = Path(self._folder.name)
        if key not in self._gt:
            self._gt[key] = GroundTruth(gt_path, folder)
        tracks = np.asarray(tracks, dtype=np.float64)
        tracks = tracks.reshape(-1, tracks.shape[-1] if tracks.size else 7)
        hyp = np.column_stack([tracks[:, :7], -np.ones((len(tracks), 3))])
        if len(hyp) == 0:
            # trackers refuses an empty file; one unconfirmed row (id -1) is read and then ignored.
            hyp = np.array([[1, -1, 0, 0, 1, 1, 1, -1, -1, -1]], dtype=np.float64)
        path = _write(hyp, folder / "tracks.txt")
        return evaluate_mot_sequence(self._gt[key].path, path, metrics=METRIC_FAMILIES)

    def many(self, pairs: Mapping[str, tuple[str | Path, np.ndarray]]) -> dict[str, SequenceResult]:
        """Per-sequence results for `{name: (gt path, track rows)}`."""
        return {name: self.sequence(gt, tracks) for name, (gt, tracks) in pairs.items()}


def pooled(results: Iterable[SequenceResult]) -> SequenceResult:
    """Several sequences taken together, as TrackEval's COMBINED row pools them."""
    results = list(results)
    if not results:
        raise ValueError("pooled needs at least one sequence")
    if len(results) == 1:
        return results[0]
    clear = aggregate_clear_metrics([r.CLEAR.to_dict() for r in results if r.CLEAR])
    identity = aggregate_identity_metrics([r.Identity.to_dict() for r in results if r.Identity])
    hota = aggregate_hota_metrics(
        [r.HOTA.to_dict(include_arrays=True, arrays_as_list=False) for r in results if r.HOTA]
    )
    return SequenceResult(
        sequence="COMBINED",
        CLEAR=CLEARMetrics.from_dict(clear),
        HOTA=HOTAMetrics.from_dict(hota),
        Identity=IdentityMetrics.from_dict(identity),
    )


def scores(result: SequenceResult) -> Scores:
    """The headline figures of one (possibly pooled) result."""
    if result.CLEAR is None or result.Identity is None or result.HOTA is None:
        raise ValueError("result lacks CLEAR, Identity or HOTA")
    return Scores(
        mota=float(result.CLEAR.MOTA),
        idf1=float(result.Identity.IDF1),
        hota=float(result.HOTA.HOTA),
        idsw=int(result.CLEAR.IDSW),
        deta=float(result.HOTA.DetA),
        assa=float(result.HOTA.AssA),
    )
