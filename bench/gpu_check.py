"""`make gpu-check`: is this GPU machine ready to serve, and how fast? One command, a few minutes.

`python -m bench.gpu_check [--json OUT] [--seconds 10] [--frames 32]` prints, and writes as JSON
(default results/gpu-check.json):
- **agreement** of each detector in fp16 on CUDA with the same module in fp32 on the CPU, on
  frames of the sample video: detection counts, matched boxes' coordinate and score differences,
  and NaN/inf counts (in the raw fp16 network output and in the final detections);
- **decode fps** of `VideoReader` on a generated 1080p30 8 Mbit/s H.264 clip
  (`bench.decode_speed.write_realistic_clip`);
- **detector fps** of each detector at batch 1, 8 and 32;
- **end-to-end fps** of `track_video` (default options) for one job, and for two jobs at once,
  each process restricted to the same 4 CPUs (the deployed concurrency of two invocations on a
  4-vCPU GPU instance: the figure the cost model needs).

Without a CUDA device it prints one line saying so and exits 0 (`--allow-cpu` runs the same
steps on the CPU, for a smoke test of this script; its figures are not GPU figures).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "people-walking.mp4"
DEFAULT_JSON = REPO / "results" / "gpu-check.json"
# The default and the second detector (yolov4-tiny, which replaced yolov3-tiny there).
DETECTORS = ("nanodet-g", "yolov4-tiny")
BATCHES = (1, 8, 32)
DEPLOYED_CPUS = 4  # vCPUs of the GPU instance both concurrent invocations share
MATCH_IOU = 0.5


def cuda_status() -> tuple[bool, str]:
    """(CUDA usable, what torch says), without raising."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is pinned
        return False, f"torch cannot be imported ({exc})"
    if not torch.cuda.is_available():
        return False, f"torch {torch.__version__} sees no CUDA device"
    return True, f"{torch.cuda.get_device_name(0)} (torch {torch.__version__})"


# ---------------------------------------------------------------- pure helpers (unit tested)


def nonfinite_count(*arrays: np.ndarray) -> int:
    """How many NaN or infinite values the arrays hold together."""
    return int(sum(np.size(a) - np.count_nonzero(np.isfinite(a)) for a in arrays))


def match_boxes(a: np.ndarray, b: np.ndarray, iou_min: float = MATCH_IOU) -> list[tuple[int, int]]:
    """Greedy one-to-one matching of xyxy boxes by IoU, best pairs first; pairs below `iou_min`
    (and boxes with non-finite coordinates) stay unmatched. Returns (index in a, index in b)."""
    from model_code.boxes import iou_matrix

    if len(a) == 0 or len(b) == 0:
        return []
    iou = np.nan_to_num(iou_matrix(np.asarray(a, np.float64), np.asarray(b, np.float64)), nan=0.0)
    pairs: list[tuple[int, int]] = []
    used_a: set[int] = set()
    used_b: set[int] = set()
    for flat in np.argsort(-iou, axis=None, kind="stable"):
        i, j = np.unravel_index(flat, iou.shape)
        if iou[i, j] < iou_min:
            break
        if i in used_a or j in used_b:
            continue
        used_a.add(int(i))
        used_b.add(int(j))
        pairs.append((int(i), int(j)))
    return pairs


def _stat(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "max": None}
    return {"mean": round(float(np.mean(values)), 4), "max": round(float(np.max(values)), 4)}


def agreement(reference: Sequence[Any], candidate: Sequence[Any]) -> dict[str, Any]:
    """How far the candidate's detections (e.g. fp16 on CUDA) are from the reference's (fp32 on
    the CPU), frame by frame; each element has `boxes` (N, 4 xyxy), `scores` and `labels`."""
    if len(reference) != len(candidate):
        raise ValueError(f"{len(reference)} reference frames but {len(candidate)} candidate ones")
    box_diffs: list[float] = []
    score_diffs: list[float] = []
    counts_differ = matched = label_mismatches = 0
    for ref, cand in zip(reference, candidate, strict=True):
        counts_differ += len(ref.scores) != len(cand.scores)
        for i, j in match_boxes(ref.boxes, cand.boxes):
            matched += 1
            box_diffs.append(float(np.abs(ref.boxes[i] - cand.boxes[j]).max()))
            score_diffs.append(abs(float(ref.scores[i]) - float(cand.scores[j])))
            label_mismatches += int(ref.labels[i] != cand.labels[j])
    ref_total = sum(len(d.scores) for d in reference)
    cand_total = sum(len(d.scores) for d in candidate)
    return {
        "frames": len(reference),
        "detections_reference": ref_total,
        "detections_candidate": cand_total,
        "frames_with_different_counts": counts_differ,
        "matched": matched,
        "unmatched_reference": ref_total - matched,
        "unmatched_candidate": cand_total - matched,
        "label_mismatches": label_mismatches,
        "box_abs_diff_px": _stat(box_diffs),
        "score_abs_diff": _stat(score_diffs),
        "nonfinite_candidate": sum(nonfinite_count(d.boxes, d.scores) for d in candidate),
    }


# ---------------------------------------------------------------- measurements


def sample_frames(video: Path, count: int) -> list[np.ndarray]:
    """`count` frames spread over the video."""
    from model_code.video import VideoReader

    with VideoReader(video) as probe:
        total = probe.info.frame_count or count
    with VideoReader(video, stride=max(1, total // count)) as reader:
        return [image for _, image in reader][:count]


def raw_nonfinite(detector: Any, frames: Sequence[np.ndarray]) -> int:
    """NaN/inf values in the network's raw output (before NMS) in the detector's precision."""
    import torch

    from model_code.detectors.letterbox import letterbox

    size = detector.network_size(frames[0].shape[1], frames[0].shape[0])
    batch = np.stack([letterbox(frame, size)[0] for frame in frames])
    dtype = torch.float16 if detector.plan.precision == "fp16" else torch.float32
    with torch.inference_mode():
        images = torch.from_numpy(batch).to(detector.plan.device).permute(0, 3, 1, 2).to(dtype)
        rows = detector.module.predict(images)
        return int((~torch.isfinite(rows)).sum().item())


def fp16_agreement(name: str, frames: Sequence[np.ndarray], device: str) -> dict[str, Any]:
    """Detections of `name` on `device` (fp16 on CUDA) against fp32 torch on the CPU."""
    from model_code.detectors import build_detector

    reference = build_detector(name, device="cpu", backend="torch").detect(frames)
    candidate_detector = build_detector(name, device=device, backend="torch")
    candidate = candidate_detector.detect(frames)
    return {
        "candidate": f"{candidate_detector.plan.device} {candidate_detector.plan.precision}",
        **agreement(reference, candidate),
        "raw_nonfinite_candidate": raw_nonfinite(candidate_detector, frames[:8]),
    }


def _job(clip: Path, cpus: list[int]) -> None:
    """One end-to-end job in this process, pinned to `cpus`: build the detector, say ready, wait
    for a line on stdin, track, print {"frames", "seconds"} as JSON."""
    import torch

    from bench.gpu_pipeline import end_to_end_fps
    from model_code.pipeline import TrackOptions, detector_for

    os.sched_setaffinity(0, cpus)
    torch.set_num_threads(len(cpus))
    options = TrackOptions()
    detector = detector_for(options)
    detector.detect(sample_frames(clip, 1))  # allocations, cuDNN autotuning
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.perf_counter()
    fps, utilisation = end_to_end_fps(clip, options, detector)
    seconds = time.perf_counter() - started
    print(json.dumps({"fps": fps, "seconds": seconds, "gpu_util_pct": utilisation}), flush=True)


def concurrent_jobs(clip: Path, jobs: int, cpus: list[int]) -> dict[str, Any]:
    """`jobs` end-to-end jobs at once, each a process pinned to the same `cpus`; they start
    together once every one has built its detector. fps: the clip's frames per second, summed."""
    command = [sys.executable, "-m", "bench.gpu_check", "--job", str(clip),
               "--cpus", ",".join(map(str, cpus))]  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    procs = [
        subprocess.Popen(
            command, cwd=REPO, env=env, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )  # fmt: skip
        for _ in range(jobs)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"an end-to-end job failed to start (said {line!r})")
        started = time.perf_counter()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, _ = proc.communicate(timeout=600)
            results.append(json.loads(out.strip().splitlines()[-1]))
        wall = time.perf_counter() - started
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    per_job = [round(r["fps"], 1) for r in results]
    frames = sum(r["fps"] * r["seconds"] for r in results)
    return {
        "jobs": jobs,
        "cpus": cpus,
        "fps_per_job": per_job,
        "fps_total": round(frames / wall, 1),
        "gpu_util_pct": [r["gpu_util_pct"] for r in results],
    }


def measure(seconds: float, frame_count: int, batches: Sequence[int], device: str) -> dict:
    from bench import decode_speed, gpu_pipeline

    figures: dict[str, Any] = {}
    frames = sample_frames(SAMPLE, frame_count)
    figures["agreement"] = {name: fp16_agreement(name, frames, device) for name in DETECTORS}
    clip = decode_speed.cached_clip(seconds)
    decode, kept = gpu_pipeline.decode_fps(clip)
    figures["clip"] = decode_speed.clip_facts(clip)
    figures["decode_fps"] = round(decode, 1)
    figures["detector_fps"] = {
        name: {
            str(b): round(v, 1)
            for b, v in gpu_pipeline.default_detector_fps(
                kept, batches, name=name, repeats=3, device=device
            ).items()
        }
        for name in DETECTORS
    }
    usable = sorted(os.sched_getaffinity(0))
    cpus = usable[:DEPLOYED_CPUS]
    figures["end_to_end"] = [concurrent_jobs(clip, jobs, cpus) for jobs in (1, 2)]
    figures.update(gpu_pipeline.device_facts())
    return figures


def print_report(figures: dict[str, Any]) -> None:
    print(f"device: {figures['device']}")
    for name, a in figures["agreement"].items():
        print(
            f"agreement {name:<12} {a['candidate']} vs cpu fp32 on {a['frames']} frames: "
            f"detections {a['detections_candidate']} vs {a['detections_reference']}, "
            f"{a['frames_with_different_counts']} frames differ in count, "
            f"{a['matched']} matched (max box diff {a['box_abs_diff_px']['max']} px, "
            f"max score diff {a['score_abs_diff']['max']}), "
            f"NaN/inf {a['nonfinite_candidate']} (raw output {a['raw_nonfinite_candidate']})"
        )
    clip = figures["clip"]
    print(f"decode: {figures['decode_fps']:.1f} fps ({clip['size']} {clip['codec']}, "
          f"{clip['mbit_s']} Mbit/s, {clip['frames']} frames)")  # fmt: skip
    for name, by_batch in figures["detector_fps"].items():
        cells = "  ".join(f"b{b}: {fps:.1f}" for b, fps in by_batch.items())
        print(f"detector {name:<12} {cells} fps")
    for run in figures["end_to_end"]:
        print(f"end to end, {run['jobs']} job(s) on CPUs {run['cpus']}: "
              f"{run['fps_total']:.1f} fps in total (per job {run['fps_per_job']})")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu_check", description=__doc__)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write JSON")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the 1080p clip")
    parser.add_argument("--frames", type=int, default=32, help="sample frames for agreement")
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)))
    parser.add_argument("--allow-cpu", action="store_true", help="smoke-run on the CPU")
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)  # one end-to-end worker
    parser.add_argument("--cpus", help=argparse.SUPPRESS)
    args = parser.parse_args(list(argv if argv is not None else []))
    if args.job is not None:
        _job(args.job, [int(c) for c in args.cpus.split(",")])
        return 0
    cuda, about = cuda_status()
    if not cuda and not args.allow_cpu:
        print(f"gpu-check: no CUDA device ({about}); nothing measured, run it on a GPU machine")
        return 0
    device = "cuda:0" if cuda else "cpu"
    started = time.perf_counter()
    figures = measure(args.seconds, args.frames, [int(b) for b in args.batches.split(",")], device)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    print_report(figures)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"figures written to {args.json} ({figures['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
