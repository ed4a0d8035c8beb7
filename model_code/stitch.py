"""Stitch the tracks of consecutive time segments into one set of video-wide track ids.

Each segment's rows are MOT rows ``[frame, id, x, y, w, h, score, ...]`` (extra columns, such
as a label, are carried through) with SOURCE frame numbers and
segment-local ids; consecutive segments share the overlap frames (segment i tracks into the
start of segment i+1). Across each border, tracks are matched on the shared frames by their mean
IoU (Hungarian assignment, `linear_assignment`); a matched next-segment track inherits the id,
any other one gets a fresh id. The output keeps segment i's rows through the end of the overlap
and segment i+1's after it, so every frame appears once. The tracker is causal, so segment i's
rows on the overlap are what a single-piece run reports there, while segment i+1's tracker is
still warming up (it confirms every track on its first frame, and then new ones only after a
few frames): the overlap serves to match the tracks, and its rows come from segment i.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model_code.boxes import iou_matrix, xywh_to_xyxy
from model_code.tracking.matching import linear_assignment

MIN_MEAN_IOU = 0.3  # a continuation overlaps its predecessor at least this much on shared frames
MIN_SHARED_FRAMES = 4  # evidence from fewer frames counts as if from this many (if there are)
SAME_OBJECT_IOU = 0.5  # an unmatched pair this close on a shared frame is one object: a switch


@dataclass(frozen=True)
class Stitched:
    rows: np.ndarray  # (N, 7+) MOT rows with global ids, sorted by frame then id
    border_switches: int  # next-segment tracks that got a new id while continuing an old one
    borders: list[dict[str, int]]  # per border: matched, new and switched track counts
    cuts: list[float]  # segment i keeps frames in (cuts[i-1], cuts[i]]; the last is +inf


def _as_rows(rows: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    array = np.asarray(rows, dtype=np.float64) if len(rows) else np.zeros((0, 7))
    return array[np.lexsort((array[:, 1], array[:, 0]))]


def _border_similarity(
    before: np.ndarray, after: np.ndarray, shared: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ids before, ids after, mean IoU matrix, max IoU matrix) over the shared frames.

    The mean is over the frames where both tracks appear (the next segment's tracker starts its
    tracks a few frames into the overlap, and the previous one may lose a track before its end),
    counting at least `MIN_SHARED_FRAMES` (or all the overlap's frames, when it has fewer), so a
    pair that touches on one frame of a longer overlap scores low.
    """
    a = before[np.isin(before[:, 0], shared)]
    b = after[np.isin(after[:, 0], shared)]
    ids_a, ids_b = np.unique(a[:, 1]), np.unique(b[:, 1])
    total = np.zeros((len(ids_a), len(ids_b)))
    best = np.zeros_like(total)
    together = np.zeros_like(total)
    for frame in shared:
        fa, fb = a[a[:, 0] == frame], b[b[:, 0] == frame]
        if not len(fa) or not len(fb):
            continue
        iou = iou_matrix(xywh_to_xyxy(fa[:, 2:6]), xywh_to_xyxy(fb[:, 2:6]))
        rows = np.searchsorted(ids_a, fa[:, 1])
        cols = np.searchsorted(ids_b, fb[:, 1])
        total[np.ix_(rows, cols)] += iou
        together[np.ix_(rows, cols)] += 1.0
        best[np.ix_(rows, cols)] = np.maximum(best[np.ix_(rows, cols)], iou)
    floor = min(MIN_SHARED_FRAMES, max(len(shared), 1))  # a low frame rate has few
    return ids_a, ids_b, total / np.maximum(together, floor), best


def _overlap_frames(
    current: np.ndarray, following: np.ndarray, first: float, last: float
) -> np.ndarray:
    """Frames with rows on either side inside the overlap span [first, last]."""
    frames = np.union1d(current[:, 0], following[:, 0])
    return frames[(frames >= first) & (frames <= last)]


def _span(rows: np.ndarray) -> tuple[float, float]:
    return (float(rows[0, 0]), float(rows[-1, 0])) if len(rows) else (np.inf, -np.inf)


def stitch(
    segments: Sequence[np.ndarray | Sequence[Sequence[float]]],
    spans: Sequence[tuple[float, float]] | None = None,
) -> Stitched:
    """Global tracks from the rows of consecutive segments (in time order).

    `spans` are each segment's (first, last) source frame numbers; by default the frames its
    rows cover (a segment whose start or end has no objects needs its real span).
    """
    parts = [_as_rows(rows) for rows in segments]
    spans = list(spans) if spans is not None else [_span(rows) for rows in parts]
    if not parts:
        return Stitched(np.zeros((0, 7)), 0, [], [])
    next_id = 1
    mapping: dict[float, int] = {}
    for local in np.unique(parts[0][:, 1]):
        mapping[local] = next_id
        next_id += 1
    kept = []
    cut_before = -np.inf
    borders: list[dict[str, int]] = []
    cuts: list[float] = []
    for index, current in enumerate(parts):
        following = parts[index + 1] if index + 1 < len(parts) else None
        cut_after = np.inf
        next_mapping: dict[float, int] = {}
        if following is not None:
            shared = _overlap_frames(current, following, spans[index + 1][0], spans[index][1])
            cut_after = float(spans[index][1])  # this segment's last frame
            ids_a, ids_b, mean_iou, best_iou = _border_similarity(current, following, shared)
            matches, _, unmatched_b = linear_assignment(1.0 - mean_iou, 1.0 - MIN_MEAN_IOU)
            for row, col in matches:
                next_mapping[ids_b[col]] = mapping[ids_a[row]]
            switched = int(
                sum(best_iou[:, col].max(initial=0.0) >= SAME_OBJECT_IOU for col in unmatched_b)
            )
            for local in np.unique(following[:, 1]):
                if local not in next_mapping:
                    next_mapping[local] = next_id
                    next_id += 1
            borders.append({"matched": len(matches), "new": len(unmatched_b), "switched": switched})
        window = current[(current[:, 0] > cut_before) & (current[:, 0] <= cut_after)].copy()
        window[:, 1] = [mapping[local] for local in window[:, 1]]
        kept.append(window)
        cuts.append(cut_after)
        mapping, cut_before = next_mapping, cut_after
    rows = _as_rows(np.concatenate(kept))
    return Stitched(rows, sum(border["switched"] for border in borders), borders, cuts)
