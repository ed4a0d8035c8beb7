"""ByteTrack: two-stage association of high- then low-score detections with Kalman-predicted tracks.

Track state is one `TrackTable` (numpy columns, one row per track), so every step works on all
tracks at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from model_code.tracking import kalman
from model_code.tracking.config import TrackerConfig
from model_code.tracking.matching import association_cost, iou_matrix, linear_assignment
from model_code.tracking.table import DIRECTION_SPAN, STATE_DTYPE, TrackState, TrackTable

_NO_INDEX = np.zeros(0, dtype=np.intp)
# Plain ints: numpy compares them with the int8 state column faster than enum members.
TENTATIVE, TRACKED, LOST = (int(state) for state in TrackState)


@dataclass(frozen=True)
class TrackedObjects:
    """The tracks reported for one frame: ids (M,) int64, boxes (M, 4) xyxy, scores, labels."""

    ids: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def _as_inputs(
    boxes_xyxy: np.ndarray, scores: np.ndarray, labels: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    boxes = np.asarray(boxes_xyxy, dtype=np.float64)
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4) as x1,y1,x2,y2; got {boxes.shape}")
    if len(scores) != len(boxes):
        raise ValueError(f"got {len(boxes)} boxes but {len(scores)} scores")
    if labels is None:
        label_array = np.zeros(len(boxes), dtype=np.int64)
    else:
        label_array = np.asarray(labels).reshape(-1).astype(np.int64)
        if len(label_array) != len(boxes):
            raise ValueError(f"got {len(boxes)} boxes but {len(label_array)} labels")
    if len(boxes) and not (np.isfinite(boxes).all() and np.isfinite(scores).all()):
        raise ValueError("boxes and scores must be finite numbers")
    return boxes, scores, label_array


def _expand(boxes: np.ndarray, ratio: float) -> np.ndarray:
    """Boxes grown by `ratio` of their width and height on every side."""
    margin = np.empty_like(boxes)
    margin[:, :2] = (boxes[:, 2:] - boxes[:, :2]) * -ratio
    margin[:, 2:] = -margin[:, :2]
    return boxes + margin


# The lowest scale read off a video's scores: below it, thresholds would admit clutter, which is
# all a detector may report before the first object comes into view.
AUTO_MIN_SCORE_SCALE = 0.6
# Classes that stand upright, so that TrackerConfig.max_aspect_ratio applies to them.
UPRIGHT_CLASS_NAMES = frozenset({"person", "pedestrian"})


def upright_labels(class_names: Sequence[str]) -> list[int]:
    """The labels (indices into `class_names`) of the classes that stand upright."""
    return [i for i, name in enumerate(class_names) if name.lower() in UPRIGHT_CLASS_NAMES]


# Scores of boxes matched to confirmed tracks needed before they may lower the read scale
# (`TrackerConfig.matched_score_quantile`), and the histogram bins they are counted in.
MATCHED_SCALE_MIN_COUNT = 100
_SCORE_BINS = 200


def _frames(seconds: float, frame_rate: float) -> int:
    """A duration in whole frames at `frame_rate`, at least 1."""
    return max(1, round(seconds * frame_rate))


class ByteTracker:
    """Online multi-object tracker; call `update` once per processed frame, empty frames too."""

    def __init__(
        self,
        config: TrackerConfig | None = None,
        frame_rate: float = 30.0,
        *,
        upright_labels: Iterable[int] | None = None,
        frame_height: float | None = None,
    ) -> None:
        if config is None:
            config = TrackerConfig()
        if not isinstance(config, TrackerConfig):
            raise TypeError(f"config must be a TrackerConfig, got {type(config).__name__}")
        if not (
            isinstance(frame_rate, int | float) and math.isfinite(frame_rate) and frame_rate > 0
        ):
            raise ValueError(
                f"frame_rate must be a positive number of frames per second, got {frame_rate!r}"
            )
        self.config = config
        self.frame_rate = float(frame_rate)
        # Labels the width/height bound applies to (None: every label).
        self.upright_labels = (
            None if upright_labels is None else np.array(sorted(set(upright_labels)), np.int64)
        )
        # A box reaching the top or bottom of the picture shows part of a person (one walking
        # in near the camera is all shoulders): the width/height bound spares it.
        self.frame_height = frame_height
        self.buffer_frames = _frames(config.track_buffer_s, self.frame_rate)
        # Frames a new track must be matched on, after its first, before its id is shown.
        self.tentative_frames = _frames(config.tentative_s, self.frame_rate)
        # Frames a lost track is still reported (at its predicted box) after its last match.
        self.coast_frames = round(config.coast_s * self.frame_rate)
        # Matched frames a track needs before it may coast, and before a low-score box may
        # re-find it once lost.
        self.coast_min_hits = round(config.coast_min_s * self.frame_rate)
        self.low_refind_hits = round(config.low_refind_min_s * self.frame_rate)
        self.reset()

    def reset(self) -> None:
        """Forget every track; the next id is 1 again."""
        self.frame_id = 0
        self._next_id = 1
        self.tracks = TrackTable.empty()
        self._highest_score = 0.0
        self._matched_counts = np.zeros(_SCORE_BINS, dtype=np.int64)
        self._matched_scale = 1.0

    @property
    def score_scale(self) -> float:
        """The scale the score thresholds are fractions of, as of the last update."""
        if self.config.score_scale is not None:
            return self.config.score_scale
        return min(max(self._highest_score, AUTO_MIN_SCORE_SCALE), 1.0)

    @property
    def high_score_scale(self) -> float:
        """The scale the high and new-track thresholds are fractions of, as of the last update:
        `score_scale`, lowered by the matched scores when `matched_score_quantile` is set."""
        scale = self.score_scale
        if self.config.score_scale is not None:
            return scale
        return max(min(scale, self._matched_scale), AUTO_MIN_SCORE_SCALE)

    def _score_scale(self, scores: np.ndarray) -> float:
        if self.config.score_scale is None and len(scores):
            self._highest_score = max(self._highest_score, float(scores.max()))
        return self.score_scale

    def _count_matched(self, scores: np.ndarray) -> None:
        """Add confirmed tracks' matched scores to the histogram; refresh the scale it gives.

        The scale is the one that puts the high threshold at the `matched_score_quantile`
        quantile of those scores (the bin's upper edge), so a detector that scores tracked
        objects widely gets lower thresholds; it only ever lowers the highest-score scale.
        """
        cfg = self.config
        if cfg.matched_score_quantile <= 0.0 or cfg.score_scale is not None or not len(scores):
            return
        bins = np.minimum(np.maximum(scores * _SCORE_BINS, 0.0), _SCORE_BINS - 1).astype(np.intp)
        self._matched_counts += np.bincount(bins, minlength=_SCORE_BINS)
        cumulative = np.cumsum(self._matched_counts)
        total = int(cumulative[-1])
        if total < MATCHED_SCALE_MIN_COUNT:
            return
        at = int(np.searchsorted(cumulative, cfg.matched_score_quantile * total))
        self._matched_scale = (at + 1) / _SCORE_BINS / max(cfg.high_threshold, 1e-6)

    def update(
        self, boxes_xyxy: np.ndarray, scores: np.ndarray, labels: np.ndarray | None = None
    ) -> TrackedObjects:
        """Associate this frame's detections and return the confirmed tracks seen in it."""
        boxes, scores, labels = _as_inputs(boxes_xyxy, scores, labels)
        self.frame_id += 1
        cfg = self.config

        if len(self.tracks):
            self._predict()
        tracks = self.tracks
        track_boxes = kalman.xyah_to_xyxy(tracks.mean)

        scale = self._score_scale(scores)
        high_scale = self.high_score_scale
        is_high = scores >= cfg.high_threshold * high_scale
        high = np.flatnonzero(is_high)
        low = np.flatnonzero(~is_high & (scores >= cfg.low_threshold * scale))
        high_weights = scores if cfg.fuse_score else None

        # 1) high-score detections against every confirmed track, tracked or lost.
        first, pool_left, high_left = self._associate(
            np.flatnonzero(tracks.state != TENTATIVE),
            high,
            track_boxes,
            boxes,
            high_weights,
            labels,
            cfg.match_threshold,
            cfg.lost_box_expansion,
            cfg.momentum_weight,
        )
        # 2) low-score detections against the still unmatched tracks that are being reported
        # (tracked ones and lost ones still coasting) and the established lost ones.
        in_second = self._shown() | ((tracks.state == LOST) & (tracks.hits >= self.low_refind_hits))
        second, tracked_unmatched, _ = self._associate(
            pool_left[in_second[pool_left]],
            low,
            track_boxes,
            boxes,
            None,
            labels,
            cfg.low_match_threshold,
        )
        # 3) tentative tracks against the remaining high-score detections.
        third, tentative_unmatched, high_unused = self._associate(
            np.flatnonzero(tracks.state == TENTATIVE),
            high_left,
            track_boxes,
            boxes,
            high_weights,
            labels,
            cfg.unconfirmed_match_threshold,
        )

        matched_tracks = np.concatenate([first[0], second[0], third[0]])
        matched_dets = np.concatenate([first[1], second[1], third[1]])
        if len(matched_tracks):
            self._count_matched(scores[np.concatenate([first[1], second[1]])])
            self._correct(matched_tracks, boxes[matched_dets], scores[matched_dets])
        tracks.state[tracked_unmatched] = LOST

        self._drop_expired(tentative_unmatched)
        spawn = high_unused[scores[high_unused] >= cfg.new_track_threshold * high_scale]
        if len(spawn):
            self._spawn(boxes[spawn], scores[spawn], labels[spawn])
        return self._report()

    def _predict(self) -> None:
        tracks = self.tracks
        lost = tracks.state == LOST
        if lost.any():
            # Lost tracks coast at their last speed, but their size stops changing.
            tracks.mean[lost, 7] = 0.0
        kalman.predict(tracks.mean, tracks.cov)

    def _associate(
        self,
        track_index: np.ndarray,
        det_index: np.ndarray,
        track_boxes: np.ndarray,
        boxes: np.ndarray,
        weights: np.ndarray | None,
        labels: np.ndarray,
        threshold: float,
        expand_lost: float = 0.0,
        momentum_weight: float = 0.0,
    ) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
        """Match a subset of tracks to a subset of detections.

        Returns `((matched track rows, matched det indices), unmatched tracks, unmatched dets)`.
        """
        if len(track_index) == 0 or len(det_index) == 0:
            return (_NO_INDEX, _NO_INDEX), track_index, det_index
        track_labels = self.tracks.labels
        cost = association_cost(
            track_boxes[track_index],
            boxes[det_index],
            None if weights is None else weights[det_index],
            track_labels[track_index],
            labels[det_index],
        )
        if expand_lost > 0.0:
            lost = self.tracks.state[track_index] == LOST
            if lost.any():
                cost[lost] = association_cost(
                    _expand(track_boxes[track_index[lost]], expand_lost),
                    _expand(boxes[det_index], expand_lost),
                    None if weights is None else weights[det_index],
                    track_labels[track_index[lost]],
                    labels[det_index],
                )
        if momentum_weight > 0.0:
            self._add_direction_cost(
                cost, track_index, boxes[det_index], det_index, weights, momentum_weight
            )
        pairs, free_tracks, free_dets = linear_assignment(cost, threshold)
        matched = (track_index[pairs[:, 0]], det_index[pairs[:, 1]])
        return matched, track_index[free_tracks], det_index[free_dets]

    def _add_direction_cost(
        self,
        cost: np.ndarray,
        track_index: np.ndarray,
        det_boxes: np.ndarray,
        det_index: np.ndarray,
        weights: np.ndarray | None,
        momentum_weight: float,
    ) -> None:
        """Add, in place, `momentum_weight` times a term in [-0.5, 0.5] (times the score).

        The term is low when a detection lies along the track's recent direction of motion: the
        angle between that direction and the line from the track's last observed centre to the
        detection's centre, in half turns, minus a quarter turn. Tracks without a direction yet
        get 0. Only overlapping pairs get it, since the others are far above any match threshold.
        """
        rows, cols = np.nonzero(cost < 1.0)
        if len(rows) == 0:
            return
        tracks = track_index[rows]
        direction = self.tracks.direction[tracks]
        box = det_boxes[cols]
        offset = 0.5 * (box[:, :2] + box[:, 2:]) - self.tracks.observed[tracks, :2]
        length = np.sqrt((offset * offset).sum(axis=1))
        cosine = (offset * direction).sum(axis=1) / np.maximum(length, 1e-6)
        term = (np.arccos(np.clip(cosine, -1.0, 1.0)) - 0.5 * np.pi) / np.pi
        term[~direction.any(axis=1)] = 0.0
        if weights is not None:
            term *= weights[det_index[cols]]
        cost[rows, cols] += momentum_weight * term

    def _correct(self, rows: np.ndarray, boxes: np.ndarray, scores: np.ndarray) -> None:
        cfg = self.config
        tracks = self.tracks
        noise_scale = (
            np.maximum(cfg.noise_scale_gain * (1.0 - scores), cfg.noise_scale_floor)
            if cfg.score_scaled_noise
            else None
        )
        measurements = kalman.xyxy_to_xyah(boxes)
        tracks.mean[rows], tracks.cov[rows] = kalman.update(
            tracks.mean[rows], tracks.cov[rows], measurements, noise_scale
        )
        tracks.observed[rows] = measurements
        self._record_direction(rows, measurements[:, :2])
        tracks.last_seen[rows] = self.frame_id
        tracks.scores[rows] = scores
        tracks.hits[rows] += 1
        tentative = tracks.state[rows] == TENTATIVE
        tracks.state[rows[~tentative]] = TRACKED
        ready = rows[tentative & (tracks.hits[rows] > self.tentative_frames)]
        if len(ready):
            tracks.state[ready] = TRACKED
            tracks.ids[ready] = self._take_ids(len(ready))

    def _record_direction(self, rows: np.ndarray, centres: np.ndarray) -> None:
        tracks = self.tracks
        history = tracks.recent_centres[rows]
        offset = centres - history[:, 0]
        length = np.sqrt((offset**2).sum(axis=1, keepdims=True))
        moved = length[:, 0] > 1e-6
        direction = tracks.direction[rows]
        direction[moved] = offset[moved] / length[moved]
        tracks.direction[rows] = direction
        history[:, :-1] = history[:, 1:]
        history[:, -1] = centres
        tracks.recent_centres[rows] = history

    def _take_ids(self, count: int) -> np.ndarray:
        ids = np.arange(self._next_id, self._next_id + count, dtype=np.int64)
        self._next_id += count
        return ids

    def _drop_expired(self, unmatched_tentative: np.ndarray) -> None:
        tracks = self.tracks
        keep = ~((tracks.state == LOST) & (self.frame_id - tracks.last_seen > self.buffer_frames))
        keep[unmatched_tentative] = False
        keep &= ~self._duplicates()
        if not keep.all():
            self.tracks = tracks.select(keep)

    def _duplicates(self) -> np.ndarray:
        """Rows in same-class lost/tracked pairs that overlap almost entirely; the younger goes."""
        tracks = self.tracks
        duplicate = np.zeros(len(tracks), dtype=bool)
        lost_rows = np.flatnonzero(tracks.state == LOST)
        tracked_rows = np.flatnonzero(tracks.state == TRACKED)
        if len(lost_rows) == 0 or len(tracked_rows) == 0:
            return duplicate
        boxes = kalman.xyah_to_xyxy(tracks.mean)
        overlap = iou_matrix(boxes[tracked_rows], boxes[lost_rows]) > self.config.duplicate_iou
        overlap &= tracks.labels[tracked_rows, None] == tracks.labels[lost_rows]
        if not overlap.any():
            return duplicate
        t, lo = np.nonzero(overlap)
        t, lo = tracked_rows[t], lost_rows[lo]
        tracked_older = tracks.first_seen[t] <= tracks.first_seen[lo]
        duplicate[lo[tracked_older]] = True
        duplicate[t[~tracked_older]] = True
        return duplicate

    def _spawn(self, boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray) -> None:
        count = len(boxes)
        measurements = kalman.xyxy_to_xyah(boxes)
        mean, cov = kalman.initiate(measurements)
        # On the very first frame there is nothing to confirm against, so tracks start confirmed.
        confirmed = self.frame_id == 1
        frame = np.full(count, self.frame_id, dtype=np.int64)
        new = TrackTable(
            mean=mean,
            cov=cov,
            ids=self._take_ids(count) if confirmed else np.zeros(count, dtype=np.int64),
            state=np.full(count, TRACKED if confirmed else TENTATIVE, dtype=STATE_DTYPE),
            scores=scores,
            labels=labels,
            hits=np.ones(count, dtype=np.int64),
            first_seen=frame,
            last_seen=frame.copy(),
            observed=measurements,
            recent_centres=np.repeat(measurements[:, None, :2], DIRECTION_SPAN, axis=1),
            direction=np.zeros((count, 2)),
        )
        self.tracks = self.tracks.append(new)

    def _shown(self) -> np.ndarray:
        """Rows reported on this frame: tracked ones, and lost ones still coasting."""
        tracks = self.tracks
        shown = tracks.state == TRACKED
        if self.coast_frames:
            # Only while the prediction stays near the last measured box: a lost track moving
            # fast for its size (or at a low frame rate) is not reported where it is guessed.
            drift = np.hypot(*(tracks.mean[:, :2] - tracks.observed[:, :2]).T)
            shown |= (
                (tracks.state == LOST)
                & (self.frame_id - tracks.last_seen <= self.coast_frames)
                & (drift <= self.config.coast_max_drift * tracks.observed[:, 3])
                & (tracks.hits >= self.coast_min_hits)
            )
        return shown

    def _report(self) -> TrackedObjects:
        tracks = self.tracks
        rows = np.flatnonzero(self._shown())
        cfg = self.config
        boxes = kalman.xyah_to_xyxy(tracks.mean[rows])
        if len(rows) and (cfg.min_box_area > 0 or cfg.max_aspect_ratio is not None):
            w = boxes[:, 2] - boxes[:, 0]
            h = boxes[:, 3] - boxes[:, 1]
            keep = w * h > cfg.min_box_area if cfg.min_box_area > 0 else np.ones(len(rows), bool)
            if cfg.max_aspect_ratio is not None:
                upright = w <= cfg.max_aspect_ratio * h
                if self.upright_labels is not None:
                    upright |= ~np.isin(tracks.labels[rows], self.upright_labels)
                if self.frame_height is not None:
                    upright |= (boxes[:, 1] <= 1) | (boxes[:, 3] >= self.frame_height - 1)
                keep &= upright
            rows, boxes = rows[keep], boxes[keep]
        return TrackedObjects(
            ids=tracks.ids[rows],
            boxes=boxes,
            scores=tracks.scores[rows],
            labels=tracks.labels[rows],
        )
