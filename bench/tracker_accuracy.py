"""Tracker-alone accuracy (MOTA, IDF1, ID switches): ours with its defaults against the anchors.

Rows (the issue 3 table), all scored with py-motmetrics at IoU 0.5 against the MOT15 gt:
  a) PETS09-S2L1, Keypoint R-CNN detections from the mot3d JSON (frame = index + 1), 10 fps;
  b) SORT's Faster R-CNN det.txt for PETS09-S2L1 (10 fps), TUD-Campus and TUD-Stadtmitte (25 fps),
     pooled over the three;
  c) PETS09-S2L1, the project's default yolov3-tiny detector (score >= 0.1, NMS 0.45) on
     vtest.avi, 10 fps; the detections are computed once and cached under .cache/bench/;
  c') the same video through the plain OpenCV-DNN recipe of bench/yolo_dets.py, when cached.

Run: `.venv/bin/python -m bench tracker_accuracy` (or `make bench` for every benchmark).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench import peers
from bench.mot_eval import evaluate_many
from model_code.boxes import xywh_to_xyxy, xyxy_to_xywh
from model_code.tracking import TrackerConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = REPO_ROOT.parent / "shared" / "data"
CACHE = REPO_ROOT / ".cache" / "bench"
MOT3D_JSON = (
    "mot3d/projects/PETS2009S2L1/detections/keypointsrcnn_resnet50_fpn_View_001_finetuned_2.json"
)
PETS_VIDEO = "PETS09-S2L1/vtest.avi"
YOLO_CACHE = "pets09-s2l1-yolov3-tiny-dets.txt"
# The textbook OpenCV-DNN recipe (bench/yolo_dets.py), closest to the issue's `trackers` figure.
PLAIN_YOLO_CACHE = "pets09-s2l1-yolov3-tiny-t02-argmax.txt"


@dataclass(frozen=True)
class Sequence:
    name: str
    det_rows: np.ndarray  # MOT det rows: frame,-1,x,y,w,h,score (frames 1-based = gt frames)
    fps: float
    gt_path: Path
    frames: int


@dataclass(frozen=True)
class BenchRow:
    name: str
    sequences: list[Sequence]


def gt_path(seq: str) -> Path:
    return DATA / "MOT15" / "train" / seq / "gt" / "gt.txt"


def gt_frames(seq: str) -> int:
    return int(np.loadtxt(gt_path(seq), delimiter=",", usecols=0).max())


def mot3d_rows(path: Path) -> np.ndarray:
    """mot3d detections (per frame index: xyxy boxes, scores) as MOT det rows; frame = index + 1."""
    data = json.loads(path.read_text())
    rows = []
    for index, boxes, scores in zip(data["idxs"], data["bboxes"], data["scores"], strict=True):
        for (x1, y1, x2, y2), score in zip(boxes, scores, strict=True):
            rows.append((index + 1, -1, x1, y1, x2 - x1, y2 - y1, score))
    return np.array(rows, dtype=np.float64).reshape(-1, 7)


def sort_rows(seq: str) -> np.ndarray:
    from model_code.track_dets import read_detection_rows

    return read_detection_rows(DATA / "sort" / "data" / "train" / seq / "det" / "det.txt")


def yolov3_tiny_rows(video: Path, cache: Path) -> np.ndarray:
    """The default detector's PETS detections, computed once (about a minute) and then cached."""
    if cache.is_file():
        return np.loadtxt(cache, delimiter=",", ndmin=2).reshape(-1, 7)
    from model_code.detectors import build_detector
    from model_code.video import VideoReader

    detector = build_detector("yolov3-tiny", score_threshold=0.1)
    rows = []
    with VideoReader(video) as reader:
        for frame_number, image in reader:
            (dets,) = detector.detect([image])
            for (x1, y1, x2, y2), score in zip(
                dets.boxes.tolist(), dets.scores.tolist(), strict=True
            ):
                rows.append((frame_number, -1, x1, y1, x2 - x1, y2 - y1, score))
    array = np.array(rows, dtype=np.float64).reshape(-1, 7)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(
        cache, array, delimiter=",", fmt=["%d", "%d", "%.2f", "%.2f", "%.2f", "%.2f", "%.5f"]
    )
    return array


def bench_rows() -> tuple[list[BenchRow], list[str]]:
    """The rows whose inputs exist here, and a note for each that was skipped."""
    rows: list[BenchRow] = []
    skipped: list[str] = []
    pets = "PETS09-S2L1"
    if (DATA / MOT3D_JSON).is_file():
        rows.append(
            BenchRow(
                "a) PETS09 Keypoint R-CNN",
                [
                    Sequence(
                        pets, mot3d_rows(DATA / MOT3D_JSON), 10.0, gt_path(pets), gt_frames(pets)
                    )
                ],
            )
        )
    else:
        skipped.append(f"row a: {DATA / MOT3D_JSON} not found")
    sort_seqs = [(pets, 10.0), ("TUD-Campus", 25.0), ("TUD-Stadtmitte", 25.0)]
    if all(gt_path(seq).is_file() for seq, _ in sort_seqs):
        rows.append(
            BenchRow(
                "b) SORT FRCNN (3 seqs)",
                [
                    Sequence(seq, sort_rows(seq), fps, gt_path(seq), gt_frames(seq))
                    for seq, fps in sort_seqs
                ],
            )
        )
    else:
        skipped.append("row b: MOT15 gt or SORT det.txt not found")
    try:
        yolo = yolov3_tiny_rows(DATA / PETS_VIDEO, CACHE / YOLO_CACHE)
        rows.append(
            BenchRow(
                "c) PETS09 yolov3-tiny",
                [Sequence(pets, yolo, 10.0, gt_path(pets), gt_frames(pets))],
            )
        )
    except (ImportError, OSError, ValueError) as exc:
        skipped.append(f"row c: yolov3-tiny detections unavailable ({exc})")
    plain = CACHE / PLAIN_YOLO_CACHE
    if plain.is_file():
        rows.append(
            BenchRow(
                "c') yolov3-tiny plain cv2",
                [Sequence(pets, _det_file(plain), 10.0, gt_path(pets), gt_frames(pets))],
            )
        )
    else:
        skipped.append(f"row c': {plain} not found (make it with `python -m bench.yolo_dets`)")
    return rows, skipped


def _det_file(path: Path) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", ndmin=2).reshape(-1, 7)


def run_tracker(runner: peers.Runner, seq: Sequence, anchor_filter: bool) -> np.ndarray:
    """MOT rows (frame,id,x,y,w,h,score) from one runner over one sequence, every frame updated."""
    update = runner.make(seq.fps)
    frames = seq.det_rows[:, 0].astype(np.int64)
    order = np.argsort(frames, kind="stable")
    dets, frames = seq.det_rows[order], frames[order]
    bounds = np.searchsorted(frames, np.arange(1, seq.frames + 2))
    xyxy = xywh_to_xyxy(dets[:, 2:6])
    out = []
    for frame in range(1, seq.frames + 1):
        lo, hi = bounds[frame - 1], bounds[frame]
        ids, boxes, scores = update(xyxy[lo:hi], dets[lo:hi, 6])
        if anchor_filter:
            ids, boxes, scores = peers.output_filter(ids, boxes, scores)
        for track_id, (x, y, w, h), score in zip(ids, xyxy_to_xywh(boxes), scores, strict=True):
            out.append((frame, track_id, x, y, w, h, score))
    return np.array(out, dtype=np.float64).reshape(-1, 7)


def evaluate_row(runner: peers.Runner, row: BenchRow, anchor_filter: bool) -> dict:
    pairs = {
        seq.name: (seq.gt_path, run_tracker(runner, seq, anchor_filter)) for seq in row.sequences
    }
    result = evaluate_many(pairs)
    return result["OVERALL"] if len(row.sequences) > 1 else result[row.sequences[0].name]


def main(config: TrackerConfig | None = None) -> list[tuple[str, str, dict]]:
    runners, missing = peers.available_runners(config)
    rows, skipped = bench_rows()
    for note in missing + skipped:
        print(f"skipped {note}", file=sys.stderr)
    results = []
    print(f"{'row':<26} {'tracker':<28} {'MOTA':>6} {'IDF1':>6} {'IDsw':>5}")
    for row in rows:
        for runner in runners:
            metrics = evaluate_row(runner, row, anchor_filter=runner.name != "ours")
            results.append((row.name, runner.name, metrics))
            print(
                f"{row.name:<26} {runner.name:<28} {100 * metrics['mota']:6.1f} "
                f"{100 * metrics['idf1']:6.1f} {metrics['num_switches']:5d}",
                flush=True,
            )
    return results


if __name__ == "__main__":
    main()
