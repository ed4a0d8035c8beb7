"""Fine-tuning on the user's footage, across two clips and three seeds: PETS09-S2L1 in two folds.

vtest.avi (795 frames, MOT15 gt) is cut into two disjoint clips, frames 1-397 and 398-795. Fold A
fine-tunes on the first clip and is scored on the second; fold B the reverse. Within the training
clip, its first 80 % trains (every `--every`th frame) and its last 20 % validates (every
`--val-every`th frame, tracked at the video's frame rate divided by that step): checkpoint
selection by tracking the validation frames (IDF1 and HOTA, MOTA as tie-break) and the guard
(a gain above the jackknife noise margin, no more ID switches), exactly as
`python -m model_code.training --val-fps ...` does.
Each fold runs once per seed (the seed sets the batch order, the augmentation and the
initialisation of any class row COCO does not have; `person` keeps its COCO row).

On the held-out clip, every frame goes through the endpoint's code path (the model directory's
config.json read as `handler.load_model` reads it, its detector at the endpoint's default input
size, score >= 0.1, in torch-exported fp32: `int8=False`, the numerics training validated; the
CPU endpoint's int8 is benchmarked in bench/detector_dets.py) and the
tracker the engine builds from that directory's config.json (NanoDet-g's preset, with the
exported `score_scale` fixed for a fine-tuned model), at the video's 10 fps. Figures: detection AP50
(all-point, IoU 0.5, the gt's considered rows) and MOTA / IDF1 / HOTA / ID switches from
`bench/track_eval.py` (`trackers`' TrackEval-parity evaluation). The starting model is the shipped
COCO NanoDet-g (an empty model directory). Then mean, standard deviation and min-max per fold and
over all runs.

Fold A's first seed (or `--handoff-seed`) also writes its exported model's detections on frames
398-795 (MOT det format, gt frame numbers) to `.cache/bench/vtest-finetuned-nanodet-g-det.txt`,
for the tracker benchmarks, with a `.json` beside it saying which model wrote them (the guard
may have kept the starting one).

Run: `PYTHONPATH=.:.cache/bench-site .venv/bin/python -m bench.train_finetune [--epochs N ...]`
(`python -m bench train_finetune` runs the defaults).
Wall-clock figures depend on the machine's load; the command prints its settings.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from bench.mot_eval import load_mot_rows
from bench.track_eval import Evaluator, scores
from model_code.boxes import mot_rows
from model_code.detectors import Detector, build_detector
from model_code.handler import read_model_config, scaled_tracker
from model_code.pipeline import TrackOptions
from model_code.track_dets import track_detection_rows
from model_code.tracking import tracker_config, upright_labels
from model_code.training.evaluate import ImageResult, mean_ap
from model_code.training.export import write_model_dir
from model_code.training.frames import load_samples
from model_code.training.labels import LabelSet, Sequence
from model_code.training.model import finetune_model
from model_code.training.mot import load_mot
from model_code.training.train import EpochResult, TrainConfig, TrainResult, train
from model_code.video import VideoReader

REPO_ROOT = Path(__file__).resolve().parents[1]
# The shared data beside the checkout; MOTFLOW_SHARED_DATA points elsewhere (e.g. from a worktree).
DATA = Path(os.environ.get("MOTFLOW_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
VIDEO = DATA / "PETS09-S2L1" / "vtest.avi"
GT = DATA / "MOT15" / "train" / "PETS09-S2L1" / "gt" / "gt.txt"
HANDOFF = REPO_ROOT / ".cache" / "bench" / "vtest-finetuned-nanodet-g-det.txt"
CLIPS = {"A": ((1, 397), (398, 795)), "B": ((398, 795), (1, 397))}  # fold: (tune, held out)
VAL_FRACTION = 0.2
TRACK_FLOOR = 0.1
FIGURES = ("ap50", "mota", "idf1", "hota", "id_switches")


@dataclass
class Run:
    fold: str
    seed: int
    start: dict[str, float]
    tuned: dict[str, float]
    kept_starting_model: bool
    best_epoch: int
    selected_by: str
    score_scale: float | None
    train_frames: int
    val_frames: int
    train_s: float
    history: list[dict[str, float]]
    # What selection without the noise margin and the ID-switch rule (an epoch at least as good
    # as the start on validation IDF1 and HOTA, best by their mean) exported, when that differs.
    unguarded_epoch: int | None = None
    unguarded: dict[str, float] | None = None


def pets_labels(work: Path) -> LabelSet:
    """The sequence as a MOTChallenge folder (gt plus the video beside it), through the importer."""
    folder = work / "PETS09-S2L1"
    (folder / "gt").mkdir(parents=True)
    shutil.copyfile(GT, folder / "gt" / "gt.txt")
    (folder / VIDEO.name).symlink_to(VIDEO)
    return load_mot(work)


def tuning_sets(
    labels: LabelSet, clip: tuple[int, int], every: int, val_every: int
) -> tuple[LabelSet, LabelSet]:
    """(train, validation) from the frames of `clip`: the first 80 % and the last 20 %, thinned."""
    frames = [f for f in labels.sequences[0].frames if clip[0] <= f.ref.number <= clip[1]]
    cut = int(len(frames) * (1 - VAL_FRACTION))
    train_set = LabelSet([Sequence("tune-train", frames[:cut][::every])], labels.classes)
    val_set = LabelSet([Sequence("tune-val", frames[cut:][::val_every])], labels.classes)
    return train_set, val_set


def held_out_gt(clip: tuple[int, int], folder: Path) -> Path:
    rows = load_mot_rows(GT)
    path = folder / f"gt-{clip[0]}-{clip[1]}.txt"
    kept = rows[(rows[:, 0] >= clip[0]) & (rows[:, 0] <= clip[1])]
    np.savetxt(path, kept, delimiter=",", fmt="%.6g")
    return path


def detect(detector: Detector, clip: tuple[int, int]) -> tuple[np.ndarray, list[ImageResult]]:
    """MOT det rows `frame,-1,x,y,w,h,score` (score >= TRACK_FLOOR) and AP inputs for `clip`."""
    gt = load_mot_rows(GT)
    gt = gt[gt[:, 6] != 0]
    rows, results = [], []
    with VideoReader(VIDEO) as video:
        for number, image in video:
            if number < clip[0]:
                continue
            if number > clip[1]:
                break
            found = detector.detect([image])[0]
            keep = found.scores >= TRACK_FLOOR
            boxes, scores_ = found.boxes[keep], found.scores[keep]
            for box, score in zip(boxes, scores_, strict=True):
                rows.append([number, -1, box[0], box[1], box[2] - box[0], box[3] - box[1], score])
            truth = gt[gt[:, 0] == number][:, 2:6].copy()
            truth[:, 2:] += truth[:, :2]
            results.append(
                ImageResult(boxes, scores_, np.zeros(len(scores_), np.int64), truth,
                            np.zeros(len(truth), np.int64))
            )  # fmt: skip
    return np.array(rows).reshape(-1, 7), results


def figures(
    detected: tuple[np.ndarray, list[ImageResult]],
    tracker: dict,
    gt_path: Path,
    evaluator: Evaluator,
    fps: float,
) -> dict[str, float]:
    rows, results = detected
    tracks, _ = track_detection_rows(rows, fps, tracker_config("nanodet-g", tracker))
    found = scores(evaluator.sequence(gt_path, tracks))
    return {
        "ap50": mean_ap(results, 1),
        "mota": found.mota,
        "idf1": found.idf1,
        "hota": found.hota,
        "id_switches": float(found.idsw),
    }


def endpoint(model_dir: Path) -> tuple[Detector, dict]:
    """The detector and tracker overrides the endpoint builds from a model directory (as
    `handler.load_model`: the weights and the tracker of the `score_scale` in config.json), the
    detector in fp32. The benchmark's configs carry no `options` or `tracker` of their own."""
    config = read_model_config(model_dir)
    weights = model_dir / config["weights"] if config.get("weights") else None
    options = TrackOptions.from_dict(
        {**(config.get("options") or {}), "detector": config.get("detector", "nanodet-g")}
    )
    detector = build_detector(
        options.detector,
        weights_dir=weights,
        classes=options.classes,
        score_threshold=options.score_threshold,
        int8=False,
    )
    tracker = scaled_tracker(config["score_scale"]) if config.get("score_scale") else {}
    return detector, tracker


def write_handoff(rows: np.ndarray, path: Path, run: Run) -> None:
    """The det rows as `frame,-1,x,y,w,h,score,-1,-1,-1`, and beside them (`.json`) which model
    wrote them: when the guard kept the starting model, these are the COCO model's detections."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(
        mot_rows(int(r[0]), np.array([-1]), np.array([[r[2], r[3], r[2] + r[4], r[3] + r[5]]]),
                 np.array([r[6]]))
        for r in rows
    )  # fmt: skip
    path.write_text(text, encoding="utf-8")
    about = {
        "source": "bench/train_finetune.py",
        "video": VIDEO.name,
        "frames": list(CLIPS[run.fold][1]),
        "fold": run.fold,
        "seed": run.seed,
        "kept_starting_model": run.kept_starting_model,
        "best_epoch": run.best_epoch,
        "score_scale": run.score_scale,
        "score_floor": TRACK_FLOOR,
    }
    path.with_suffix(".json").write_text(json.dumps(about, indent=2) + "\n", encoding="utf-8")


def at_least_start(result: EpochResult, start: EpochResult) -> bool:
    """The earlier guard: validation IDF1 and HOTA at least the start's, no margin."""
    return result.val_idf1 >= start.val_idf1 - 1e-6 and result.val_hota >= start.val_hota - 1e-6


class Unguarded:
    """Keeps the epoch the earlier guard (`at_least_start`) would have exported."""

    def __init__(self) -> None:
        self.best: EpochResult | None = None
        self.state: dict[str, torch.Tensor] | None = None

    def __call__(self, history: list[EpochResult], model: torch.nn.Module) -> None:
        result = history[-1]
        if not (result.tracked and at_least_start(result, history[0])):
            return
        mean = (result.val_idf1 + result.val_hota) / 2
        if self.best is None or (mean, result.val_mota) > (
            (self.best.val_idf1 + self.best.val_hota) / 2,
            self.best.val_mota,
        ):
            self.best = result
            self.state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def fine_tune(
    labels: LabelSet,
    clip: tuple[int, int],
    args: argparse.Namespace,
    seed: int,
    out: Path,
    unguarded: Unguarded | None = None,
) -> tuple[Path, TrainResult, int, int, float]:
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        iterations_per_epoch=args.iterations,
        warmup_iterations=max(1, args.epochs * args.iterations // 4),
        patience=args.epochs,
        seed=seed,
        threads=args.threads,
        val_fps=args.fps / args.val_every,
    )
    started = time.perf_counter()
    train_set, val_set = tuning_sets(labels, clip, args.every, args.val_every)
    train_samples = load_samples(train_set, config.input_size)
    val_samples = load_samples(val_set, config.input_size)
    model, _ = finetune_model(labels.classes, seed=seed)
    result = train(
        model, train_samples, val_samples, config,
        log=lambda line: print("  " + line, flush=True), on_epoch=unguarded,
        upright=upright_labels(labels.classes),
    )  # fmt: skip
    model.load_state_dict(result.best_state)
    report = {"bench": "train_finetune", "clip": clip, "seed": seed, "best": result.best_epoch}
    model_dir = write_model_dir(out, model, labels.classes, report, result.score_scale())
    elapsed = time.perf_counter() - started
    return model_dir, result, len(train_samples), len(val_samples), elapsed


def score_state(
    unguarded: Unguarded,
    labels: LabelSet,
    out: Path,
    result: TrainResult,
    held: tuple[int, int],
    gt_path: Path,
    evaluator: Evaluator,
    fps: float,
) -> dict[str, float]:
    """The held-out figures of the epoch the earlier guard would have exported."""
    assert unguarded.best is not None and unguarded.state is not None
    model, _ = finetune_model(labels.classes)
    model.load_state_dict(unguarded.state)
    epoch = unguarded.best.epoch
    model_dir = write_model_dir(out, model, labels.classes, {"unguarded_epoch": epoch},
                                result.score_scale(epoch))  # fmt: skip
    detector, tracker = endpoint(model_dir)
    return figures(detect(detector, held), tracker, gt_path, evaluator, fps)


def summary(values: list[float], digits: int = 3) -> str:
    """Mean ± sample standard deviation (min–max)."""
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    low, high = min(values), max(values)
    return f"{mean:.{digits}f} ± {std:.{digits}f} ({low:.{digits}f} – {high:.{digits}f})"


def print_tables(runs: list[Run]) -> None:
    print("\n| fold (held-out frames) | seed | model | AP50 | MOTA | IDF1 | HOTA | ID sw. |")
    print("|---|---|---|---|---|---|---|---|")
    for run in runs:
        held = CLIPS[run.fold][1]
        rows = [("COCO (start)", run.start), ("exported", run.tuned)]
        if run.unguarded is not None:
            rows.append((f"earlier guard would export epoch {run.unguarded_epoch}", run.unguarded))
        for name, row in rows:
            if name == "exported":
                name += f", epoch {run.best_epoch}" + (" (kept start)" * run.kept_starting_model)
            print(
                f"| {run.fold} ({held[0]}-{held[1]}) | {run.seed} | {name} | {row['ap50']:.3f} | "
                f"{row['mota']:.3f} | {row['idf1']:.3f} | {row['hota']:.3f} | "
                f"{row['id_switches']:.0f} |"
            )
    groups = {f"fold {f}": [r for r in runs if r.fold == f] for f in CLIPS}
    groups["all runs"] = runs
    print("\nmean ± std (min – max); difference: exported − start, run by run")
    print("| runs | model | " + " | ".join(FIGURES) + " |")
    print("|---|---|" + "---|" * len(FIGURES))
    for label, group in groups.items():
        if not group:
            continue
        for name, pick in (
            ("COCO (start)", lambda r: r.start),
            ("exported", lambda r: r.tuned),
            ("difference", lambda r: {k: r.tuned[k] - r.start[k] for k in FIGURES}),
        ):
            cells = " | ".join(
                summary([pick(r)[k] for r in group], 1 if k == "id_switches" else 3)
                for k in FIGURES
            )
            print(f"| {label} ({len(group)}) | {name} | {cells} |")
    for label, group in groups.items():
        kept = sum(r.kept_starting_model for r in group)
        print(f"{label}: the guard kept the starting model in {kept} of {len(group)} runs")


def main(argv: list[str] | None = None) -> list[Run] | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--iterations", type=int, default=12, help="iterations per epoch")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--every", type=int, default=4, help="use every Nth training frame")
    parser.add_argument("--val-every", type=int, default=1, help="every Nth validation frame")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--folds", nargs="+", default=list(CLIPS), choices=list(CLIPS))
    parser.add_argument("--clip-frames", type=int, default=0, help="score only this many frames")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the runs to this JSON file")
    parser.add_argument("--no-handoff", action="store_true", help=f"do not write {HANDOFF.name}")
    parser.add_argument(
        "--handoff-seed", type=int, help=f"fold A's seed whose detections go to {HANDOFF.name} "
        "(default: the first of --seeds)"
    )  # fmt: skip
    args = parser.parse_args(argv or [])
    if not (VIDEO.is_file() and GT.is_file()):
        print(f"skipped: {VIDEO} or {GT} not found (shared data absent)")
        return None
    torch.set_num_threads(args.threads)
    handoff_seed = args.seeds[0] if args.handoff_seed is None else args.handoff_seed
    print(f"settings: {vars(args)}; torch threads {torch.get_num_threads()}", flush=True)
    with VideoReader(VIDEO) as video:
        fps = args.fps = video.info.fps
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="motflow-bench-train-") as tmp, Evaluator() as ev:
        work = Path(tmp)
        labels = pets_labels(work / "data")
        (work / "shipped").mkdir()
        for fold in args.folds:
            tune, held = CLIPS[fold]
            if args.clip_frames:
                held = (held[0], held[0] + args.clip_frames - 1)
            gt_path = held_out_gt(held, work)
            started = time.perf_counter()
            detector, tracker = endpoint(work / "shipped")
            start_dets = detect(detector, held)
            start = figures(start_dets, tracker, gt_path, ev, fps)
            print(f"fold {fold}: start {start} ({time.perf_counter() - started:.0f} s)", flush=True)
            for seed in args.seeds:
                print(f"fold {fold} seed {seed}: fine-tuning on frames {tune}", flush=True)
                out = work / f"model-{fold}-{seed}"
                unguarded = Unguarded()
                model_dir, result, n_train, n_val, train_s = fine_tune(
                    labels, tune, args, seed, out, unguarded
                )
                detector, tracker = endpoint(model_dir)
                # The guard exports the starting weights unchanged: same detections.
                dets = start_dets if result.kept_starting_model else detect(detector, held)
                run = Run(
                    fold, seed, start, figures(dets, tracker, gt_path, ev, fps),
                    result.kept_starting_model, result.best_epoch, result.selected_by,
                    result.score_scale(), n_train, n_val, train_s,
                    [asdict(e) for e in result.history],
                )  # fmt: skip
                if unguarded.best is not None and unguarded.best.epoch != result.best_epoch:
                    run.unguarded_epoch = unguarded.best.epoch
                    run.unguarded = score_state(
                        unguarded, labels, out.with_name(out.name + "-unguarded"), result,
                        held, gt_path, ev, fps,
                    )  # fmt: skip
                if fold == "A" and seed == handoff_seed and not args.no_handoff:
                    write_handoff(dets[0], HANDOFF, run)
                    print(f"wrote {len(dets[0])} detections to {HANDOFF} (and .json)")
                runs.append(run)
                print(f"  -> {asdict(run)}", flush=True)
    print_tables(runs)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in runs], indent=2) + "\n")
    return runs


if __name__ == "__main__":
    main(sys.argv[1:])
