"""Detector accuracy and CPU speed against input size, on PETS09-S2L1 (persons, IoU 0.5).

For each detector and long side, every `--step`-th frame of vtest.avi (frame i 0-based is gt
frame i + 1) goes through `build_detector(name, max_side=side, score_threshold=0.05)`. Printed:
AP50 (all-point interpolated), recall and precision at score 0.5 and at the detector's best-F1
score, and the median ms per frame of `detect()` (letterbox, network, NMS; batch 1, CPU).
Then, on the bundled sample, how many frames hold a person scored >= 0.5.

Run: `python -m bench.detector_accuracy [--data DIR] [--step 3] [--only NAME]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from bench.mot_eval import load_mot_rows
from model_code.boxes import iou_matrix, xywh_to_xyxy
from model_code.detectors import build_detector

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = REPO_ROOT.parent / "shared" / "data"
CONFIGS = (
    ("nanodet-g", 320),
    ("nanodet-g", 416),
    ("nanodet-g", 512),
    ("yolov3-tiny", 416),
    ("yolov3-tiny", 512),
    ("yolov3-tiny", 640),
    ("yolov3-tiny", 768),
    ("yolov4-tiny", 416),
    ("yolov4-tiny", 512),
    ("yolov4-tiny", 608),
)
IOU = 0.5
SCORE = 0.5
SAMPLE = REPO_ROOT / "samples" / "people-walking.mp4"
# 0-based frame ranges of the sample where one person walks: the woman, then the man.
SAMPLE_PEOPLE = (("woman", 30, 140), ("man", 200, 290))


def read_frames(video: Path, step: int) -> list[tuple[int, np.ndarray]]:
    """(0-based frame index, image) for every `step`-th frame."""
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise OSError(f"cannot open {video}")
    frames, index = [], 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        if index % step == 0:
            frames.append((index, image))
        index += 1
    capture.release()
    return frames


def match(dets_xyxy: np.ndarray, scores: np.ndarray, gt_xyxy: np.ndarray) -> np.ndarray:
    """Greedy best-score-first matching at IoU 0.5: True for each detection that hits a gt box."""
    hits = np.zeros(len(scores), dtype=bool)
    if len(scores) == 0 or len(gt_xyxy) == 0:
        return hits
    ious = iou_matrix(dets_xyxy, gt_xyxy)
    taken = np.zeros(len(gt_xyxy), dtype=bool)
    for i in np.argsort(-scores, kind="stable"):
        candidates = np.where(taken, -1.0, ious[i])
        best = int(candidates.argmax())
        if candidates[best] >= IOU:
            taken[best] = hits[i] = True
    return hits


def scores_table(scores: np.ndarray, hits: np.ndarray, total_gt: int) -> dict[str, float]:
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(hits[order])
    fp = np.cumsum(~hits[order])
    recall = tp / max(total_gt, 1)
    precision = tp / np.maximum(tp + fp, 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    ap = float(np.sum(np.diff(np.concatenate([[0.0], recall])) * envelope))
    at = scores >= SCORE
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-9)
    best = int(f1.argmax())
    return {
        "ap50": ap,
        "recall@0.5": float(hits[at].sum() / max(total_gt, 1)),
        "precision@0.5": float(hits[at].sum() / max(at.sum(), 1)),
        "best_f1": float(f1[best]),
        "best_f1_score": float(scores[order][best]),
    }


def evaluate(name: str, side: int, frames: list, gt: dict[int, np.ndarray]) -> dict[str, float]:
    detector = build_detector(name, max_side=side, score_threshold=0.05, device="cpu")
    detector.detect([frames[0][1]])  # warm-up: first-run allocations
    all_scores, all_hits, times = [], [], []
    for index, image in frames:
        started = time.perf_counter()
        dets = detector.detect([image])[0]
        times.append(time.perf_counter() - started)
        truth = gt.get(index + 1, np.zeros((0, 4)))
        all_scores.append(dets.scores)
        all_hits.append(match(dets.boxes, dets.scores, truth))
    total = sum(len(gt.get(index + 1, ())) for index, _ in frames)
    table = scores_table(np.concatenate(all_scores), np.concatenate(all_hits), total)
    table["ms_per_frame"] = 1000 * statistics.median(times)
    return table


def sample_table(name: str, side: int) -> str:
    """Frames of the sample whose best person scores >= 0.5, overall and per walking person."""
    detector = build_detector(name, max_side=side, device="cpu")
    frames = [image for _, image in read_frames(SAMPLE, 1)]
    best = np.array([d.scores.max() if len(d) else 0.0 for d in detector.detect(frames)])
    parts = [f"{name:<12} {side:>4}  {(best >= SCORE).sum():>3} / {len(best)}"]
    for who, first, last in SAMPLE_PEOPLE:
        span = best[first : last + 1]
        parts.append(f"{who} {(span >= SCORE).mean():.0%} ({np.median(span):.2f})")
    return "   ".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--step", type=int, default=3)
    parser.add_argument("--only", help="detector name to keep, e.g. nanodet-g")
    args = parser.parse_args([] if argv is None else argv)
    video = args.data / "PETS09-S2L1" / "vtest.avi"
    gt_file = args.data / "MOT15" / "train" / "PETS09-S2L1" / "gt" / "gt.txt"
    if not video.is_file() or not gt_file.is_file():
        print(f"skipped: PETS09-S2L1 video or gt not found under {args.data}")
        return
    rows = load_mot_rows(gt_file)
    gt = {
        int(f): xywh_to_xyxy(rows[rows[:, 0] == f, 2:6].astype(np.float32))
        for f in np.unique(rows[:, 0])
    }
    frames = read_frames(video, args.step)
    print(f"PETS09-S2L1, {len(frames)} frames (every {args.step}), IoU {IOU}")
    print("detector     side  AP50   R@0.5  P@0.5  bestF1 (at score)  ms/frame")
    for name, side in CONFIGS:
        if args.only and name != args.only:
            continue
        r = evaluate(name, side, frames, gt)
        print(
            f"{name:<12} {side:>4}  {r['ap50']:.3f}  {r['recall@0.5']:.3f}  "
            f"{r['precision@0.5']:.3f}  {r['best_f1']:.3f} ({r['best_f1_score']:.2f})"
            f"       {r['ms_per_frame']:.1f}",
            flush=True,
        )
    print(f"\n{SAMPLE.name}: frames with a person >= {SCORE}; per person: share (median best)")
    for name, side in CONFIGS:
        if not args.only or name == args.only:
            print(sample_table(name, side), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
