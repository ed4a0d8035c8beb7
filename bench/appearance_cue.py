"""Experiment: does a cheap colour cue help re-identify people after occlusion (issue 22)?

PETS09-S2L1 (`../shared/data/PETS09-S2L1/vtest.avi`, 10 fps) with NanoDet-g's cached detections
(`.cache/bench/vtest-nanodet-g-det.txt`, from `python -m bench.detector_dets`) and, as a second
detector on the same frames, the Keypoint R-CNN detections of tracker_accuracy's row a, scored
against the MOT15 gt by `trackers`' evaluation (bench/track_eval.py). The tracker is the
project's, at its defaults; the cue only changes the first-stage cost of lost tracks:

* each confirmed track keeps a colour descriptor: hue/saturation histograms of the upper and
  lower halves of its box's middle (`DESCRIPTOR` below), square-rooted and normalised so that a
  dot product is the Bhattacharyya coefficient, averaged over its matched boxes (running mean
  with `MEMORY`), taken only from boxes that overlap no other detection (an occluded box would
  teach it someone else's colours);
* when a lost track overlaps a high-score detection (cost under 1 with the lost-box expansion),
  the pair's cost becomes `(1 - w) * cost + w * (1 - coefficient)`.

Features are computed from the decoded frame only for the boxes that need them. The figures:
MOTA / IDF1 / HOTA with the cue off and at a few weights, and the cue's own cost in ms per frame
(descriptor work only; decoding is the pipeline's anyway), against the end-to-end time per frame
given on the command line (`--e2e-ms`, docs/BENCHMARKS.md "End to end").

Run: `PYTHONPATH=$PWD:$PWD/.cache/bench-site .venv/bin/python -m bench.appearance_cue`.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Sequence

import cv2
import numpy as np

from bench.track_eval import Evaluator
from bench.track_eval import scores as score_of
from bench.tracker_accuracy import CACHE, DATA, MOT3D_JSON, PETS, det_file_rows, gt_path, mot3d_rows
from model_code.boxes import iou_matrix, xywh_to_xyxy, xyxy_to_xywh
from model_code.tracking import ByteTracker, TrackerConfig, preset
from model_code.tracking.tracker import LOST, TRACKED

VIDEO = DATA / "PETS09-S2L1" / "vtest.avi"
DETS = CACHE / "vtest-nanodet-g-det.txt"
FPS = 10.0
WEIGHTS = (0.0, 0.1, 0.15, 0.2, 0.25, 0.35, 0.5)
# Hue x saturation bins per half box (OpenCV hue runs 0-180).
HUE_BINS, SAT_BINS = 8, 4
# Share of a track's descriptor kept on each update.
MEMORY = 0.9
# A box overlapping another detection by more than this is not used to learn colours.
CLEAN_IOU = 0.05
# The middle of the box, by width, is the person rather than the background.
WIDTH_KEEP = 0.6


def descriptor(image_hsv: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """Upper and lower half H-S histograms of a box's middle, as a unit vector; None if tiny."""
    x1, y1, x2, y2 = box
    inset = 0.5 * (1.0 - WIDTH_KEEP) * (x2 - x1)
    height, width = image_hsv.shape[:2]
    left, right = int(max(x1 + inset, 0)), int(min(x2 - inset, width))
    top, bottom = int(max(y1, 0)), int(min(y2, height))
    if right - left < 2 or bottom - top < 4:
        return None
    middle = (top + bottom) // 2
    parts = []
    for crop in (image_hsv[top:middle, left:right], image_hsv[middle:bottom, left:right]):
        hist = cv2.calcHist([crop], [0, 1], None, [HUE_BINS, SAT_BINS], [0, 180, 0, 256])
        parts.append(hist.reshape(-1) / max(float(hist.sum()), 1.0))
    vector = np.sqrt(np.concatenate(parts))
    return vector / max(float(np.linalg.norm(vector)), 1e-9)


class ColourCueTracker(ByteTracker):
    """ByteTracker whose lost tracks' first-stage cost is blended with a colour distance."""

    def __init__(self, config: TrackerConfig, frame_rate: float, weight: float) -> None:
        super().__init__(config, frame_rate)
        self.weight = weight
        self.features: dict[int, np.ndarray] = {}
        self.hsv: np.ndarray | None = None
        self._frame_boxes = np.zeros((0, 4))
        self.feature_seconds = 0.0
        self.descriptors = 0

    def update_with_frame(
        self, image_bgr: np.ndarray, boxes: np.ndarray, scores: np.ndarray
    ) -> object:
        self.hsv = None
        self._image = image_bgr
        self._frame_boxes = boxes
        return self.update(boxes, scores)

    def _hsv_crop_source(self) -> np.ndarray:
        if self.hsv is None:
            self.hsv = cv2.cvtColor(self._image, cv2.COLOR_BGR2HSV)
        return self.hsv

    def _describe(self, boxes: np.ndarray) -> list[np.ndarray | None]:
        start = time.perf_counter()
        hsv = self._hsv_crop_source()
        out = [descriptor(hsv, box) for box in boxes]
        self.descriptors += len(boxes)
        self.feature_seconds += time.perf_counter() - start
        return out

    def _add_direction_cost(
        self,
        cost: np.ndarray,
        track_index: np.ndarray,
        det_boxes: np.ndarray,
        det_index: np.ndarray,
        weights: np.ndarray | None,
        momentum_weight: float,
    ) -> None:
        super()._add_direction_cost(
            cost, track_index, det_boxes, det_index, weights, momentum_weight
        )
        if self.weight <= 0.0:
            return
        ids = self.tracks.ids[track_index]
        known = np.array([int(i) in self.features for i in ids], dtype=bool)
        rows = np.flatnonzero((self.tracks.state[track_index] == LOST) & known)
        if len(rows) == 0:
            return
        near = cost[rows] < 1.0
        cols = np.flatnonzero(near.any(axis=0))
        if len(cols) == 0:
            return
        described = self._describe(det_boxes[cols])
        track_features = np.stack([self.features[int(ids[r])] for r in rows])
        for k, feature in zip(cols, described, strict=True):
            if feature is None:
                continue
            candidates = near[:, k]
            distance = 1.0 - track_features[candidates] @ feature
            picked = rows[candidates]
            cost[picked, k] = (1.0 - self.weight) * cost[picked, k] + self.weight * distance

    def _correct(self, rows: np.ndarray, boxes: np.ndarray, scores: np.ndarray) -> None:
        super()._correct(rows, boxes, scores)
        if self.weight <= 0.0 or len(rows) == 0:
            return
        ids = self.tracks.ids[rows]
        confirmed = (ids > 0) & (self.tracks.state[rows] == TRACKED)
        if not confirmed.any():
            return
        overlap = iou_matrix(boxes[confirmed], self._frame_boxes)
        clean = (overlap > CLEAN_IOU).sum(axis=1) <= 1  # itself only
        picked = np.flatnonzero(confirmed)[clean]
        for track_id, feature in zip(ids[picked], self._describe(boxes[picked]), strict=True):
            if feature is None:
                continue
            old = self.features.get(int(track_id))
            if old is None:
                self.features[int(track_id)] = feature
            else:
                mixed = MEMORY * old + (1.0 - MEMORY) * feature
                self.features[int(track_id)] = mixed / max(float(np.linalg.norm(mixed)), 1e-9)

    def reset(self) -> None:
        super().reset()
        self.features = {}


def decoded_frames(limit: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(VIDEO))
    frames = []
    while len(frames) < limit:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    return frames


def run(weight: float, frames: list[np.ndarray], rows: np.ndarray) -> tuple[np.ndarray, float, int]:
    """Track rows (MOT format), seconds spent on descriptors, descriptors computed."""
    tracker = ColourCueTracker(preset(), FPS, weight)
    frame_of = rows[:, 0].astype(np.int64)
    out = []
    for index, image in enumerate(frames):
        here = rows[frame_of == index + 1]
        boxes = xywh_to_xyxy(here[:, 2:6]) if len(here) else np.zeros((0, 4))
        result = tracker.update_with_frame(image, boxes, here[:, 6])
        for track_id, (x, y, w, h), score in zip(
            result.ids, xyxy_to_xywh(result.boxes), result.scores, strict=True
        ):
            out.append((index + 1, track_id, x, y, w, h, score))
    return (
        np.array(out, dtype=np.float64).reshape(-1, 7),
        tracker.feature_seconds,
        tracker.descriptors,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--e2e-ms", type=float, default=None, help="end-to-end ms per frame")
    args = parser.parse_args(argv)
    if not (VIDEO.is_file() and DETS.is_file() and gt_path(PETS).is_file()):
        print(f"skipped: needs {VIDEO}, {DETS} and the PETS gt", file=sys.stderr)
        return 0
    inputs = {"NanoDet-g": det_file_rows(DETS)}
    if (DATA / MOT3D_JSON).is_file():
        inputs["Keypoint R-CNN"] = mot3d_rows(DATA / MOT3D_JSON)
    frames = decoded_frames(max(int(rows[:, 0].max()) for rows in inputs.values()))
    print(f"{len(frames)} frames decoded; weight 0 is the tracker without the cue")
    heads = ("weight", "MOTA", "IDF1", "HOTA")
    print(f"{'detections':<15}" + " ".join(f"{h:>6}" for h in heads) + "  IDsw  ms/frame  descr.")
    with Evaluator() as evaluator:
        for (name, rows), weight in itertools.product(inputs.items(), WEIGHTS):
            tracks, seconds, count = run(weight, frames, rows)
            s = score_of(evaluator.sequence(gt_path(PETS), tracks))
            ms = 1000.0 * seconds / len(frames)
            share = f"  {100 * ms / args.e2e_ms:.1f}% of end to end" if args.e2e_ms else ""
            print(
                f"{name:<15}{weight:6.2f} "
                + " ".join(f"{v:6.1f}" for v in s.points())
                + f" {s.idsw:5d} {ms:9.3f} {count:7d}{share}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
