"""Tracker-alone accuracy (MOTA, IDF1, HOTA): ours with its defaults against six anchors.

Every row is run, in the same process, through ours and the six anchors of bench/peers.py (the
authors' ByteTrack; `trackers` 2.6.1 ByteTrack, SORT, OC-SORT, BoT-SORT without camera-motion
compensation, C-BIoU), each at its defaults. Scores come from `trackers`' evaluation
(bench/track_eval.py: CLEAR and Identity at IoU 0.5, HOTA over IoU 0.05-0.95, TrackEval parity).
Rows (the issue 9 table):
  a) PETS09-S2L1, Keypoint R-CNN detections from the mot3d JSON (frame = index + 1), 10 fps;
  b) SORT's Faster R-CNN det.txt for PETS09-S2L1 (10 fps), TUD-Campus and TUD-Stadtmitte (25 fps),
     pooled over the three;
  c) PETS09-S2L1 through every detector the product accepts (NanoDet-g, yolov3-tiny, YOLOX as
     TorchScript and as ONNX) at the endpoint's input size and score >= 0.1, 10 fps, one row each,
     read from the det files `python -m bench.detector_dets` caches under .cache/bench/ (a row
     whose file is missing is skipped with a note); and a fine-tuned NanoDet-g, whose detections
     cover only the held-out frames 398-795 and are scored on those gt frames alone, beside the
     base NanoDet-g on the same frames;
  d) the MOT17-SIM dev split: MOT17-02/05/09 gt with the simulated detections of
     ../shared/tools/motsim.py (30, 14 and 30 fps), pooled over the three;
  e) more of the same kind as the held-out crowded 30 fps set: motsim.py run here on the 30 fps
     sequences (MOT17-02, MOT17-09) with seeds 1000 * k + the sequence number, k = 1, 2, 3,
     pooled over the six.
Ours runs as `track-dets` runs it (its score scale read off each sequence's detections), and on
row c also with that detector's preset (what the pipeline uses).
The anchors run at their documented defaults (see bench/peers.py), with the authors' output filter.
Last comes the per-detector table: for rows a, b and c, ours and each anchor per metric, and ours'
margin over the best anchor.

Run: `.venv/bin/python -m bench tracker_accuracy` (or `make bench` for every benchmark).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench import peers
from model_code.boxes import xywh_to_xyxy, xyxy_to_xywh
from model_code.detectors import DETECTOR_NAMES, detector_class
from model_code.track_dets import external_config
from model_code.tracking import GENERIC, tracker_config

if TYPE_CHECKING:  # the evaluation needs the benchmark peers; building the rows does not
    from bench.track_eval import Evaluator, SequenceResult

REPO_ROOT = Path(__file__).resolve().parents[1]


def _data_dir() -> Path:
    """$MOTFLOW_BENCH_DATA, else the first `shared/data` beside the checkout or above it."""
    if os.environ.get("MOTFLOW_BENCH_DATA"):
        return Path(os.environ["MOTFLOW_BENCH_DATA"])
    for parent in REPO_ROOT.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return REPO_ROOT.parent / "shared" / "data"


DATA = _data_dir()
CACHE = REPO_ROOT / ".cache" / "bench"
MOT3D_JSON = (
    "mot3d/projects/PETS2009S2L1/detections/keypointsrcnn_resnet50_fpn_View_001_finetuned_2.json"
)
PETS = "PETS09-S2L1"
# The project detectors whose cached PETS detections make row c (`bench.detector_dets` names).
PROJECT_DETECTORS = DETECTOR_NAMES
INT8_DETECTORS = tuple(n for n in DETECTOR_NAMES if getattr(detector_class(n), "cpu_int8", False))
# The fine-tuned NanoDet-g's detections (bench/train_finetune.py, fold A) cover only its held-out
# half of PETS09-S2L1; its row is scored on those gt frames alone.
FINETUNED = "finetuned-nanodet-g"
HELD_OUT = (398, 795)
MOT17_SIM = {"MOT17-02": 30.0, "MOT17-05": 14.0, "MOT17-09": 30.0}
EXTRA_SIM_SEEDS = (1, 2, 3)


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
    detector: str = GENERIC  # the tracker preset our tracker uses on this row
    detections: str = ""  # the detector behind a real detector's row (the per-detector table)


def gt_path(seq: str) -> Path:
    if seq.startswith("MOT17-"):
        return DATA / "MOT17" / "train" / f"{seq}-FRCNN" / "gt" / "gt.txt"
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


def det_file_rows(path: Path) -> np.ndarray:
    from model_code.track_dets import read_detection_rows

    return read_detection_rows(path)[:, :7]


def sort_rows(seq: str) -> np.ndarray:
    return det_file_rows(DATA / "sort" / "data" / "train" / seq / "det" / "det.txt")


def sequence(seq: str, rows: np.ndarray, fps: float, name: str | None = None) -> Sequence:
    return Sequence(name or seq, rows, fps, gt_path(seq), gt_frames(seq))


@functools.cache
def _window_folder() -> tempfile.TemporaryDirectory:
    """Where cut gt files live for the life of the process."""
    return tempfile.TemporaryDirectory(prefix="motflow-gt-window-")


def frame_window(rows: np.ndarray, first: int, last: int) -> np.ndarray:
    """MOT rows of frames `first`..`last` (1-based, inclusive), renumbered to start at frame 1."""
    inside = (rows[:, 0] >= first) & (rows[:, 0] <= last)
    window = np.array(rows[inside], dtype=np.float64)
    window[:, 0] -= first - 1
    return window


def windowed_sequence(
    seq: str, rows: np.ndarray, fps: float, first: int, last: int, name: str
) -> Sequence:
    """A sequence cut to gt frames `first`..`last`: its det rows and its gt, both renumbered so
    the cut starts at frame 1 (frames outside it are neither tracked nor scored)."""
    gt = np.loadtxt(gt_path(seq), delimiter=",", ndmin=2)
    cut = Path(_window_folder().name) / f"{seq}-{first}-{last}-gt.txt"
    np.savetxt(cut, frame_window(gt, first, last), delimiter=",", fmt="%.10g")
    return Sequence(name, frame_window(rows, first, last), fps, cut, last - first + 1)


def detector_rows(
    detectors: tuple[str, ...] = PROJECT_DETECTORS,
) -> tuple[list[BenchRow], list[str]]:
    """Row c: one row per detector whose cached PETS detections exist, and a note per skip.
    The fine-tuned NanoDet-g's row keeps only its detections in the held-out frames."""
    rows: list[BenchRow] = []
    skipped: list[str] = []
    if not gt_path(PETS).is_file():
        return rows, [f"row c: {gt_path(PETS)} not found"]
    for detector in detectors:
        cached = CACHE / f"vtest-{detector}-det.txt"
        if cached.is_file():
            rows.append(
                BenchRow(
                    f"c) PETS09 {detector}",
                    [sequence(PETS, det_file_rows(cached), 10.0)],
                    detector,
                    detector,
                )
            )
            continue
        make = f"python -m bench.detector_dets --detector {detector}"
        if detector.startswith("yolox"):
            make += (
                " --weights <the operator's YOLOX model file>; no YOLOX weights ship with motflow"
            )
        skipped.append(f"row c ({detector}): {cached} not found (make it with `{make}`)")
    for detector in (d for d in detectors if d in INT8_DETECTORS):
        cached = CACHE / f"vtest-{detector}-int8-det.txt"
        if not cached.is_file():
            make = f"python -m bench.detector_dets --detector {detector}"
            skipped.append(f"row c ({detector} int8): {cached} not found (make it with `{make}`)")
            continue
        # `@int8` keeps the row out of tracker_defaults' tuning set: it is checked, not tuned on.
        rows.append(
            BenchRow(
                f"c) PETS09 {detector} int8",
                [sequence(PETS, det_file_rows(cached), 10.0)],
                f"{detector}@int8",
                f"{detector} int8 (the CPU's default)",
            )
        )
    first, last = HELD_OUT
    cached = CACHE / f"vtest-{FINETUNED}-det.txt"
    dets = det_file_rows(cached) if cached.is_file() else np.empty((0, 7))
    if not len(frame_window(dets, first, last)):
        skipped.append(
            f"row c ({FINETUNED}): no detections in frames {first}-{last} at {cached} (the "
            "fine-tuning benchmark, bench/train_finetune.py, writes them from its fold A model)"
        )
        return rows, skipped
    # The detector names below have no preset (so the generic one) and keep these two rows out of
    # tracker_defaults' tuning set. The base detector on the same frames reads the fine-tuned row.
    held_out = [(FINETUNED, dets, "")]
    base = CACHE / "vtest-nanodet-g-det.txt"
    if base.is_file():
        base_rows = det_file_rows(base)
        same = np.array_equal(frame_window(base_rows, first, last), frame_window(dets, first, last))
        held_out = [(FINETUNED, dets, "; the same detections as nanodet-g" if same else "")]
        held_out.append(("nanodet-g", base_rows, ""))
    for detector, det_rows, remark in held_out:
        name = f"c) PETS09 {detector} {first}-{last}"
        rows.append(
            BenchRow(
                name,
                [windowed_sequence(PETS, det_rows, 10.0, first, last, name)],
                f"{detector}@{first}-{last}",
                f"{detector} (gt frames {first}-{last}{remark})",
            )
        )
    return rows, skipped


def simulated_rows(seq: str, seed: int) -> np.ndarray:
    """motsim.py's simulated detections of a MOT17 sequence's gt, made in memory."""
    import configparser
    import importlib.util

    spec = importlib.util.spec_from_file_location("motsim", DATA.parent / "tools" / "motsim.py")
    if spec is None or spec.loader is None:
        raise OSError("motsim.py not found")
    motsim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(motsim)
    info = configparser.ConfigParser()
    info.read(gt_path(seq).parents[1] / "seqinfo.ini")
    size = int(info["Sequence"]["imWidth"]), int(info["Sequence"]["imHeight"])
    gt, visibility = motsim.load_gt(str(gt_path(seq)))
    dets = np.array(motsim.simulate(gt, visibility, seed, 2.0, *size), dtype=np.float64)
    return np.column_stack([dets[:, 0], -np.ones(len(dets)), dets[:, 1:6]])


def bench_rows() -> tuple[list[BenchRow], list[str]]:
    """The rows whose inputs exist here, and a note for each that was skipped."""
    rows: list[BenchRow] = []
    skipped: list[str] = []
    if (DATA / MOT3D_JSON).is_file() and gt_path(PETS).is_file():
        rows.append(
            BenchRow(
                "a) PETS09 Keypoint R-CNN",
                [sequence(PETS, mot3d_rows(DATA / MOT3D_JSON), 10.0)],
                detections="Keypoint R-CNN (mot3d)",
            )
        )
    else:
        skipped.append(f"row a: {DATA / MOT3D_JSON} or the PETS gt not found")
    sort_seqs = [(PETS, 10.0), ("TUD-Campus", 25.0), ("TUD-Stadtmitte", 25.0)]
    if all(gt_path(seq).is_file() for seq, _ in sort_seqs):
        rows.append(
            BenchRow(
                "b) SORT FRCNN (3 seqs)",
                [sequence(seq, sort_rows(seq), fps) for seq, fps in sort_seqs],
                detections="SORT's public Faster R-CNN",
            )
        )
    else:
        skipped.append("row b: MOT15 gt or SORT det.txt not found")
    detector_results, detector_skips = detector_rows()
    rows += detector_results
    skipped += detector_skips
    sims = {name: DATA / "MOT17-SIM" / f"{name}-SIM.txt" for name in MOT17_SIM}
    if all(path.is_file() and gt_path(name).is_file() for name, path in sims.items()):
        rows.append(
            BenchRow(
                "d) MOT17-SIM dev (3 seqs)",
                [sequence(name, det_file_rows(sims[name]), MOT17_SIM[name]) for name in sims],
            )
        )
    else:
        skipped.append("row d: MOT17 gt or MOT17-SIM detections not found")
    extra = [name for name, fps in MOT17_SIM.items() if fps >= 25]
    if (DATA.parent / "tools" / "motsim.py").is_file() and all(gt_path(n).is_file() for n in extra):
        rows.append(
            BenchRow(
                "e) MOT17-SIM more seeds (6)",
                [
                    sequence(
                        n, simulated_rows(n, 1000 * k + int(n[-2:])), MOT17_SIM[n], f"{n}-s{k}"
                    )
                    for k in EXTRA_SIM_SEEDS
                    for n in extra
                ],
            )
        )
    else:
        skipped.append("row e: ../shared/tools/motsim.py or the MOT17 gt not found")
    return rows, skipped


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


def run_row(
    runner: peers.Runner | Callable[[Sequence], peers.Runner],
    row: BenchRow,
    anchor_filter: bool,
    evaluator: Evaluator,
) -> dict[str, SequenceResult]:
    """Per-sequence results of a row; `runner` may be a function of the sequence."""

    def runner_for(seq: Sequence) -> peers.Runner:
        return runner if isinstance(runner, peers.Runner) else runner(seq)

    return {
        seq.name: evaluator.sequence(seq.gt_path, run_tracker(runner_for(seq), seq, anchor_filter))
        for seq in row.sequences
    }


def metrics_of(results: dict[str, SequenceResult]) -> dict[str, float | int]:
    """Pooled MOTA / IDF1 / HOTA (fractions), ID switches, false positives and misses of a
    row's sequences."""
    from bench.track_eval import pooled
    from bench.track_eval import scores as score_of

    together = pooled(results.values())
    pooled_scores = score_of(together)
    return {
        "mota": pooled_scores.mota,
        "idf1": pooled_scores.idf1,
        "hota": pooled_scores.hota,
        "num_switches": pooled_scores.idsw,
        "fp": int(together.CLEAR.CLR_FP) if together.CLEAR else 0,
        "fn": int(together.CLEAR.CLR_FN) if together.CLEAR else 0,
    }


def external(seq: Sequence) -> peers.Runner:
    """Ours as `track-dets` runs it: the thresholds read off the sequence's detections."""
    return peers.ours(external_config(seq.det_rows), OURS_EXTERNAL)


OURS_EXTERNAL = "ours (track-dets defaults)"
KEYS = ("mota", "idf1", "hota")


def best_anchor(row_results: dict[str, dict], anchors: list[str]) -> dict[str, tuple[float, str]]:
    """Per metric, the best anchor's value and name."""
    present = [name for name in anchors if name in row_results]
    return {key: max((row_results[name][key], name) for name in present) for key in KEYS if present}


def summary_table(results: list[tuple[str, str, dict]], anchors: list[str]) -> str:
    """A markdown table: per row, ours (track-dets defaults), the best anchor and the margin."""
    lines = [
        "| row | ours MOTA / IDF1 / HOTA | best anchor MOTA | best anchor IDF1 | best anchor HOTA "
        "| margin (points) |",
        "|---|---|---|---|---|---|",
    ]
    by_row: dict[str, dict[str, dict]] = {}
    for row, name, metrics in results:
        by_row.setdefault(row, {})[name] = metrics
    for row, found in by_row.items():
        ours = found.get(OURS_EXTERNAL)
        best = best_anchor(found, anchors)
        if ours is None or not best:
            continue
        cells = [f"{100 * best[k][0]:.1f} ({best[k][1]})" for k in KEYS]
        margin = " / ".join(f"{100 * (ours[k] - best[k][0]):+.1f}" for k in KEYS)
        mine = " / ".join(f"{100 * ours[k]:.1f}" for k in KEYS)
        lines.append(f"| {row} | {mine} | {' | '.join(cells)} | {margin} |")
    return "\n".join(lines)


def is_preset(tracker: str) -> bool:
    return tracker.startswith("ours (") and tracker.endswith(" preset)")


def short_name(tracker: str) -> str:
    return tracker.removeprefix("trackers ").removesuffix(" (bytetracker 0.3.2)")


def detector_table(
    results: list[tuple[str, str, dict]], anchors: list[str], detections: dict[str, str]
) -> str:
    """A markdown table, one line per detector row and metric: ours as `track-dets` runs it and
    with the pipeline's preset, the six anchors, and ours' margin over the best anchor (points)."""
    short = [short_name(name) for name in anchors]
    lines = [
        f"| detections | metric | ours | ours, preset | {' | '.join(short)} | best anchor "
        "| margin (ours / preset) |",
        "|---|---|---|---|" + "---|" * len(anchors) + "---|---|",
    ]
    by_row: dict[str, dict[str, dict]] = {}
    for row, name, metrics in results:
        by_row.setdefault(row, {})[name] = metrics
    for row, label in detections.items():
        found = by_row.get(row, {})
        ours = found.get(OURS_EXTERNAL)
        preset_of = next((m for name, m in found.items() if is_preset(name)), None)
        best = best_anchor(found, anchors)
        if ours is None or not best:
            continue
        for key in KEYS:
            anchor_cells = [
                f"{100 * found[name][key]:.1f}" if name in found else "-" for name in anchors
            ]
            margins = [f"{100 * (ours[key] - best[key][0]):+.1f}"]
            preset_cell = "-"
            if preset_of is not None:
                preset_cell = f"{100 * preset_of[key]:.1f}"
                margins.append(f"{100 * (preset_of[key] - best[key][0]):+.1f}")
            lines.append(
                f"| {label} | {key.upper()} | {100 * ours[key]:.1f} | {preset_cell} | "
                f"{' | '.join(anchor_cells)} | {100 * best[key][0]:.1f} "
                f"({short_name(best[key][1])}) | {' / '.join(margins)} |"
            )
    return "\n".join(lines)


def main() -> list[tuple[str, str, dict]]:
    from bench.track_eval import Evaluator

    anchors, missing = peers.available_anchors()
    rows, skipped = bench_rows()
    for note in missing + skipped:
        print(f"skipped {note}", file=sys.stderr)
    results = []
    print(
        f"{'row':<38} {'tracker':<42} {'MOTA':>6} {'IDF1':>6} {'HOTA':>6} {'IDsw':>5} "
        f"{'FP':>6} {'FN':>6}"
    )
    with Evaluator() as evaluator:
        for row in rows:
            runners: list = [(external, OURS_EXTERNAL)]
            if row.detector != GENERIC:
                preset_name = f"ours ({row.detector} preset)"
                runners.insert(
                    0, (peers.ours(tracker_config(row.detector), preset_name), preset_name)
                )
            for runner, name in runners + [(anchor, anchor.name) for anchor in anchors]:
                metrics = metrics_of(run_row(runner, row, runner in anchors, evaluator))
                results.append((row.name, name, metrics))
                print(
                    f"{row.name:<38} {name:<42} {100 * metrics['mota']:6.1f} "
                    f"{100 * metrics['idf1']:6.1f} {100 * metrics['hota']:6.1f} "
                    f"{metrics['num_switches']:5d} {metrics['fp']:6d} {metrics['fn']:6d}",
                    flush=True,
                )
    print()
    print(summary_table(results, [anchor.name for anchor in anchors]))
    print()
    print("Tracker rows per detector (points):")
    detections = {row.name: row.detections for row in rows if row.detections}
    print(detector_table(results, [anchor.name for anchor in anchors], detections))
    return results


if __name__ == "__main__":
    main()
