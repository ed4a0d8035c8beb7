"""Fine-tuning on the user's footage, before and after: PETS09-S2L1, train on the first half.

The first half of vtest.avi (frames 1..397) is the labelled footage: its first 80 % trains, its
last 20 % validates (early stopping and the best epoch); every `--every`th frame is used. The
second half (398..795) is never seen in training or selection. On it, the shipped COCO NanoDet-g
and the fine-tuned one are scored the same way: detection AP50 and recall / precision at score
0.5 (IoU 0.5, the gt's considered rows), then ByteTrack with its defaults on detections >= 0.1
(every frame, 10 fps) and py-motmetrics MOTA / IDF1 against the same half of the MOT15 gt.
Fine-tuned rows are tracked with NanoDet-g's preset and with the tracker the engine builds from
the exported config.json: `scaled_preset` of the score scale measured on the validation frames
only (`TrainResult.score_scale`). When the best epoch is not the last, the last is scored too.

Run: `.venv/bin/python -m bench train_finetune [--epochs N --iterations K --every E]`.
Wall-clock figures depend on the machine's load; the command prints its settings.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.mot_eval import evaluate_mot, load_mot_rows
from model_code.detectors import Detector, build_detector
from model_code.handler import read_model_config, scaled_tracker
from model_code.track_dets import track_detection_rows
from model_code.tracking import tracker_config
from model_code.training.evaluate import ImageResult, mean_ap, recall_precision
from model_code.training.export import write_model_dir
from model_code.training.frames import load_samples
from model_code.training.importers import cut_sequence
from model_code.training.labels import LabelSet
from model_code.training.model import finetune_model
from model_code.training.mot import load_mot
from model_code.training.train import TrainConfig, train
from model_code.video import VideoReader

REPO_ROOT = Path(__file__).resolve().parents[1]
# The shared data beside the checkout; MOTFLOW_SHARED_DATA points elsewhere (e.g. from a worktree).
DATA = Path(os.environ.get("MOTFLOW_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
VIDEO = DATA / "PETS09-S2L1" / "vtest.avi"
GT = DATA / "MOT15" / "train" / "PETS09-S2L1" / "gt" / "gt.txt"
FIRST_TEST_FRAME = 398
SCORE = 0.5
TRACK_FLOOR = 0.1


def pets_labels(work: Path) -> LabelSet:
    """The sequence as a MOTChallenge folder (gt plus the video beside it), through the importer."""
    folder = work / "PETS09-S2L1"
    (folder / "gt").mkdir(parents=True)
    shutil.copyfile(GT, folder / "gt" / "gt.txt")
    (folder / VIDEO.name).symlink_to(VIDEO)
    return load_mot(work)


def thin(labels: LabelSet, name: str, every: int) -> LabelSet:
    sequence = next(s for s in labels.sequences if s.name == name)
    sequence.frames = sequence.frames[::every]
    return labels.select([name])


def detect_test_half(detector: Detector) -> tuple[np.ndarray, list[ImageResult], float]:
    """MOT det rows (score >= TRACK_FLOOR) for every frame, results for the test half, ms/frame."""
    gt = load_mot_rows(GT)
    gt = gt[gt[:, 6] != 0]
    rows, results, elapsed, frames = [], [], 0.0, 0
    with VideoReader(VIDEO) as video:
        for number, image in video:
            if number < FIRST_TEST_FRAME:
                continue
            started = time.perf_counter()
            found = detector.detect([image])[0]
            elapsed += time.perf_counter() - started
            frames += 1
            keep = found.scores >= TRACK_FLOOR
            boxes, scores = found.boxes[keep], found.scores[keep]
            for box, score in zip(boxes, scores, strict=True):
                rows.append([number, -1, box[0], box[1], box[2] - box[0], box[3] - box[1], score])
            truth = gt[gt[:, 0] == number][:, 2:6].copy()
            truth[:, 2:] += truth[:, :2]
            results.append(
                ImageResult(boxes, scores, np.zeros(len(scores), np.int64), truth,
                            np.zeros(len(truth), np.int64))
            )  # fmt: skip
    return np.array(rows).reshape(-1, 7), results, 1000 * elapsed / max(frames, 1)


def score(detected: tuple, fps: float, tracker: dict[str, float]) -> dict[str, float]:
    """Detection and tracking figures from `detect_test_half`'s output and tracker overrides."""
    rows, results, ms = detected
    recall, precision = recall_precision(results, 1, SCORE)
    tracks, _ = track_detection_rows(rows, fps, tracker_config("nanodet-g", tracker))
    gt = load_mot_rows(GT)
    metrics = evaluate_mot(gt[gt[:, 0] >= FIRST_TEST_FRAME], tracks)
    return {
        "ap50": mean_ap(results, 1),
        "recall": recall,
        "precision": precision,
        "mota": metrics["mota"],
        "idf1": metrics["idf1"],
        "id_switches": metrics["num_switches"],
        "detect_ms": ms,
    }


def _tuned(model_dir: Path) -> Detector:
    weights = model_dir / "weights" / "nanodet-g.pt"
    return build_detector("nanodet-g", weights=weights, classes=("person",))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--iterations", type=int, default=12, help="iterations per epoch")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--every", type=int, default=4, help="use every Nth training frame")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--freeze-backbone", action="store_true")
    args = parser.parse_args(argv or [])
    if not (VIDEO.is_file() and GT.is_file()):
        print(f"skipped: {VIDEO} or {GT} not found (shared data absent)")
        return
    torch.set_num_threads(args.threads)
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        iterations_per_epoch=args.iterations,
        warmup_iterations=10,
        patience=args.epochs,
        threads=args.threads,
        freeze_backbone=args.freeze_backbone,
    )
    print(f"settings: {vars(args)}; torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory(prefix="motflow-bench-train-") as tmp:
        work = Path(tmp)
        labels = pets_labels(work / "data")
        with VideoReader(VIDEO) as video:
            fps = video.info.fps
        first_half = LabelSet(
            [s for s in cut_sequence(labels, "PETS09-S2L1", (FIRST_TEST_FRAME - 1) / 795).sequences
             if s.name.endswith("-a")],
            labels.classes,
        )  # fmt: skip
        parts = cut_sequence(first_half, "PETS09-S2L1-a", 0.8)
        train_set = thin(parts, "PETS09-S2L1-a-a", args.every)
        val_set = thin(parts, "PETS09-S2L1-a-b", args.every)
        started = time.perf_counter()
        train_samples = load_samples(train_set, config.input_size)
        val_samples = load_samples(val_set, config.input_size)
        model, _ = finetune_model(labels.classes)
        result = train(model, train_samples, val_samples, config)
        train_s = time.perf_counter() - started
        last = len(result.history) - 1
        last_dir = write_model_dir(
            work / "last", model, labels.classes, {"bench": True}, result.score_scale(last)
        )
        model.load_state_dict(result.best_state)
        model_dir = write_model_dir(
            work / "model", model, labels.classes, {"bench": True}, result.score_scale()
        )
        coco = build_detector("nanodet-g", classes=("person",))
        rows = [("NanoDet-g COCO (shipped)", coco, {})]
        rows.append((f"fine-tuned, best epoch ({result.best_epoch})", _tuned(model_dir), None))
        if result.best_epoch != last:
            rows.append((f"fine-tuned, last epoch ({last})", _tuned(last_dir), None))
        figures = []
        for name, detector, fixed in rows:
            detected = detect_test_half(detector)
            if fixed is not None:
                figures.append((name, score(detected, fps, fixed)))
                continue
            scale = read_model_config(model_dir if "best" in name else last_dir).get("score_scale")
            figures.append((f"{name}, NanoDet-g preset", score(detected, fps, {})))
            if scale is not None:
                label = f"{name}, preset scaled to its score scale {scale:.3f}"
                figures.append((label, score(detected, fps, scaled_tracker(scale))))
    scales = ", ".join(f"{h.epoch}: {h.score_scale:.3f}" for h in result.history)
    print(f"\nscore scale on the validation frames per epoch: {scales}")
    print(
        f"\ntrain frames {len(train_samples)}, val frames {len(val_samples)}, best epoch "
        f"{result.best_epoch} of {len(result.history) - 1}, training {train_s:.0f} s (CPU)"
    )
    print("\n| PETS09-S2L1 frames 398-795 | AP50 | recall@0.5 | precision@0.5 | MOTA | IDF1 |"
          " ID sw. | detect ms/frame |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for name, row in figures:
        print(
            f"| {name} | {row['ap50']:.3f} | {row['recall']:.3f} | "
            f"{row['precision']:.3f} | {row['mota']:.3f} | {row['idf1']:.3f} | "
            f"{row['id_switches']:.0f} | {row['detect_ms']:.0f} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
