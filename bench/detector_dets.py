"""Cached detections of a project detector, in MOTChallenge det format, for the tracker benchmarks.

Every frame of a video goes through `build_detector(NAME)` at the endpoint's defaults (its input
size, persons, score >= 0.1 after NMS); each detection becomes `frame,-1,x,y,w,h,score,-1,-1,-1`
with 1-based frame numbers and source-pixel boxes.

Run: `python -m bench.detector_dets [--detector NAME | all]... [--weights PATH] [--label LABEL]
[--out DIR] [VIDEO ...]`. Default inputs: the PETS video (if present) and the bundled sample; files
go to .cache/bench/<video>-<label>-det.txt, the label being the detector's name unless given.
A detector that runs int8 on the CPU by default (NanoDet-g) is run twice: in fp32 (label: its
name; the numerics the GPU endpoint runs, near enough) and in int8 (label: name + "-int8"; what
the CPU engine runs by default).
The YOLOX detectors need the operator's model file (`--weights`; none ships with the project):
without it they are skipped with a note.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from model_code.boxes import mot_rows
from model_code.detectors import (
    DEFAULT_DETECTOR,
    DETECTOR_NAMES,
    Detector,
    build_detector,
    detector_class,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
PETS_VIDEO = REPO_ROOT.parent / "shared" / "data" / "PETS09-S2L1" / "vtest.avi"
SAMPLE_VIDEO = REPO_ROOT / "samples" / "people-walking.mp4"
CACHE = REPO_ROOT / ".cache" / "bench"
BATCH = 8


def det_rows(detector: Detector, video: Path) -> tuple[str, int]:
    """The MOT det rows for every frame of `video`, and the number of frames read."""
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise OSError(f"cannot open {video}")
    chunks: list[str] = []
    frames: list[np.ndarray] = []
    count = 0
    while True:
        ok, image = capture.read()
        if ok:
            frames.append(image)
        if frames and (not ok or len(frames) == BATCH):
            for offset, dets in enumerate(detector.detect(frames)):
                number = count + offset + 1
                chunks.append(mot_rows(number, -np.ones(len(dets)), dets.boxes, dets.scores))
            count += len(frames)
            frames = []
        if not ok:
            break
    capture.release()
    return "".join(chunks), count


def detector_names(asked: list[str]) -> list[str]:
    """The detector names asked for, "all" standing for every name the product accepts."""
    names: list[str] = []
    for name in asked:
        for one in DETECTOR_NAMES if name == "all" else (name,):
            if one not in DETECTOR_NAMES:
                raise SystemExit(
                    f"unknown detector {one!r}; valid: all, {', '.join(DETECTOR_NAMES)}"
                )
            if one not in names:
                names.append(one)
    return names


def needs_weights(name: str, weights: Path | None) -> bool:
    """Whether `name` cannot be built without a model file and none was given."""
    return name.startswith("yolox") and weights is None


def runs_int8_on_cpu(name: str) -> bool:
    """Whether detector `name` runs int8 on the CPU by default."""
    return bool(getattr(detector_class(name), "cpu_int8", False))


def cache_detections(
    name: str,
    videos: list[Path],
    out: Path,
    weights: Path | None,
    label: str,
    int8: bool | None = None,
) -> None:
    """One pass of detector `name` over each video, written to `out`/<video>-<label>-det.txt."""
    options = {} if int8 is None else {"int8": int8}
    detector = build_detector(name, weights=weights, **options)
    print(f"detector: {getattr(detector, 'runtime', lambda: detector.name)()}")
    out.mkdir(parents=True, exist_ok=True)
    for video in videos:
        started = time.perf_counter()
        rows, frames = det_rows(detector, video)
        target = out / f"{video.stem}-{label}-det.txt"
        target.write_text(rows)
        elapsed = time.perf_counter() - started
        print(
            f"{video.name}: {frames} frames, {rows.count(chr(10))} detections -> {target} "
            f"in {elapsed:.1f} s ({1000 * elapsed / max(frames, 1):.1f} ms/frame incl. decode)",
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--detector",
        action="append",
        help=f"repeatable; 'all' for every one (default {DEFAULT_DETECTOR})",
    )
    parser.add_argument("--weights", type=Path, help="model file or folder for the detector")
    parser.add_argument("--label", help="name in the output file (one detector only)")
    parser.add_argument("--out", type=Path, default=CACHE)
    parser.add_argument("videos", nargs="*", type=Path)
    args = parser.parse_args([] if argv is None else argv)
    names = detector_names(args.detector or [DEFAULT_DETECTOR])
    if (args.label or args.weights) and len(names) != 1:
        parser.error("--label and --weights need exactly one detector")
    videos = args.videos or [v for v in (PETS_VIDEO, SAMPLE_VIDEO) if v.is_file()]
    for name in names:
        if needs_weights(name, args.weights):
            print(
                f"skipped {name}: needs --weights <the operator's YOLOX model file>",
                file=sys.stderr,
            )
            continue
        label = args.label or name
        if not runs_int8_on_cpu(name):
            cache_detections(name, videos, args.out, args.weights, label)
            continue
        cache_detections(name, videos, args.out, args.weights, label, int8=False)
        cache_detections(name, videos, args.out, args.weights, f"{label}-int8", int8=True)


if __name__ == "__main__":
    main(sys.argv[1:])
