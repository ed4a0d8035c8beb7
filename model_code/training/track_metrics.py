"""Tracking metrics for checkpoint selection: MOTA (CLEAR), IDF1 and HOTA on validation sequences.

Training runs inside SageMaker's training container, which carries neither py-motmetrics nor
`trackers`, so the three metrics are computed here from their published definitions:
- CLEAR MOT (Bernardin & Stiefelhagen 2008): per frame, gt and track boxes matched at IoU >= 0.5,
  an existing correspondence kept when still valid; MOTA = 1 - (misses + false positives + ID
  switches) / gt boxes.
- IDF1 (Ristani et al. 2016): one global gt-id to track-id assignment maximising the frames they
  share at IoU >= 0.5; IDF1 = 2 IDTP / (gt boxes + track boxes).
- HOTA (Luiten et al. 2021): at each IoU threshold alpha in 0.05 .. 0.95, per-frame matches that
  prefer globally aligned id pairs; HOTA(alpha) = sqrt(DetA * AssA), averaged over alpha.
The benchmarks score with `trackers`' kept implementation instead (bench/track_eval.py); a test
checks these figures against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from model_code.boxes import iou_matrix

ALPHAS = np.arange(0.05, 0.96, 0.05)
MATCH_IOU = 0.5
_EPS = 1e-9


@dataclass(frozen=True)
class FrameBoxes:
    """One frame's boxes (xyxy, (N, 4)) and their integer ids (N,)."""

    ids: np.ndarray
    boxes: np.ndarray


@dataclass(frozen=True)
class TrackScores:
    """MOTA, IDF1, HOTA as fractions; `frames` and `gt_boxes` say how much they rest on."""

    mota: float
    idf1: float
    hota: float
    frames: int = 0
    gt_boxes: int = 0
    id_switches: int = 0  # CLEAR MOT's, as counted for MOTA

    def key(self) -> tuple[float, float]:
        """How selection ranks: mean of IDF1 and HOTA, then MOTA."""
        return (self.idf1 + self.hota) / 2, self.mota


def _dense_ids(frames: Sequence[FrameBoxes]) -> tuple[list[np.ndarray], int]:
    ids = [np.asarray(f.ids, dtype=np.int64) for f in frames]
    unique = np.unique(np.concatenate(ids)) if ids else np.zeros(0, np.int64)
    return [np.searchsorted(unique, i) for i in ids], len(unique)


def score_tracks(gt: Sequence[FrameBoxes], hyp: Sequence[FrameBoxes]) -> TrackScores:
    """The three metrics of one sequence; `gt[t]` and `hyp[t]` are the same frame."""
    if len(gt) != len(hyp):
        raise ValueError(f"gt has {len(gt)} frames but the tracks {len(hyp)}")
    gt_ids, n_gt = _dense_ids(gt)
    tr_ids, n_tr = _dense_ids(hyp)
    sims = [
        iou_matrix(
            np.asarray(g.boxes, float).reshape(-1, 4), np.asarray(h.boxes, float).reshape(-1, 4)
        )
        for g, h in zip(gt, hyp, strict=True)
    ]
    total_gt = sum(len(i) for i in gt_ids)
    total_tr = sum(len(i) for i in tr_ids)
    if total_gt == 0:
        return TrackScores(0.0, 0.0, 0.0, len(gt), 0)
    mota, switches = _mota(gt_ids, tr_ids, sims, n_gt, total_gt)
    return TrackScores(
        mota,
        _idf1(gt_ids, tr_ids, sims, n_gt, n_tr, total_gt, total_tr),
        _hota(gt_ids, tr_ids, sims, n_gt, n_tr),
        len(gt),
        total_gt,
        switches,
    )


def _mota(gt_ids, tr_ids, sims, n_gt, total_gt) -> tuple[float, int]:
    last_match = np.full(n_gt, -1, dtype=np.int64)  # track each gt id was last matched to
    current = np.full(n_gt, -1, dtype=np.int64)  # ... on the previous frame
    tp = fp = switches = 0
    for g, t, sim in zip(gt_ids, tr_ids, sims, strict=True):
        now = np.full(n_gt, -1, dtype=np.int64)
        if len(g) and len(t):
            # Keeping last frame's correspondence outranks any IoU difference.
            score = np.where(sim >= MATCH_IOU - _EPS, sim, 0.0)
            score += 1000.0 * ((current[g][:, None] == t[None, :]) & (score > 0))
            rows, cols = linear_sum_assignment(-score)
            ok = score[rows, cols] > 0
            rows, cols = rows[ok], cols[ok]
            matched_gt, matched_tr = g[rows], t[cols]
            previous = last_match[matched_gt]
            switches += int(((previous >= 0) & (previous != matched_tr)).sum())
            last_match[matched_gt] = matched_tr
            now[matched_gt] = matched_tr
            tp += len(rows)
        fp += len(t) - int((now >= 0).sum())
        current = now
    misses = total_gt - tp
    return 1.0 - (misses + fp + switches) / total_gt, switches


def _idf1(gt_ids, tr_ids, sims, n_gt, n_tr, total_gt, total_tr) -> float:
    if n_tr == 0:
        return 0.0
    shared = np.zeros((n_gt, n_tr))
    for g, t, sim in zip(gt_ids, tr_ids, sims, strict=True):
        if len(g) and len(t):
            rows, cols = np.nonzero(sim >= MATCH_IOU - _EPS)
            np.add.at(shared, (g[rows], t[cols]), 1.0)
    rows, cols = linear_sum_assignment(-shared)
    idtp = shared[rows, cols].sum()
    return float(2 * idtp / (total_gt + total_tr))


def _hota(gt_ids, tr_ids, sims, n_gt, n_tr) -> float:
    if n_tr == 0:
        return 0.0
    # Global alignment of every gt/track id pair: their soft co-occurrence over the frames.
    potential = np.zeros((n_gt, n_tr))
    gt_count = np.zeros(n_gt)
    tr_count = np.zeros(n_tr)
    for g, t, sim in zip(gt_ids, tr_ids, sims, strict=True):
        gt_count[g] += 1
        tr_count[t] += 1
        if len(g) and len(t):
            denominator = sim.sum(0)[None, :] + sim.sum(1)[:, None] - sim
            soft = np.where(denominator > _EPS, sim / np.maximum(denominator, _EPS), 0.0)
            potential[np.ix_(g, t)] += soft
    alignment = potential / np.maximum(gt_count[:, None] + tr_count[None, :] - potential, _EPS)
    matches = np.zeros((len(ALPHAS), n_gt, n_tr))
    tp = np.zeros(len(ALPHAS))
    fn = np.zeros(len(ALPHAS))
    fp = np.zeros(len(ALPHAS))
    for g, t, sim in zip(gt_ids, tr_ids, sims, strict=True):
        if not (len(g) and len(t)):
            fn += len(g)
            fp += len(t)
            continue
        rows, cols = linear_sum_assignment(-(alignment[np.ix_(g, t)] * sim))
        for a, alpha in enumerate(ALPHAS):
            ok = sim[rows, cols] >= alpha - _EPS
            count = int(ok.sum())
            tp[a] += count
            fn[a] += len(g) - count
            fp[a] += len(t) - count
            np.add.at(matches[a], (g[rows[ok]], t[cols[ok]]), 1.0)
    union = gt_count[None, :, None] + tr_count[None, None, :] - matches
    association = matches / np.maximum(union, 1.0)
    ass_a = (matches * association).sum(axis=(1, 2)) / np.maximum(tp, 1.0)
    det_a = tp / np.maximum(tp + fn + fp, 1.0)
    return float(np.mean(np.sqrt(det_a * ass_a)))
