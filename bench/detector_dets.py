"""Cached detections of a project detector, in MOTChallenge det format, for the tracker benchmarks.

Every frame of a video goes through `build_detector(NAME)` at its defaults (persons, score >= 0.1
after NMS); each detection becomes `frame,-1,x,y,w,h,score,-1,-1,-1` with 1-based frame numbers
and source-pixel boxes.

Run: `python -m bench.detector_dets [--detector nanodet-g] [--out DIR]`. Default inputs: the PETS
video (if present) and the bundled sample; files go to .cache/bench/<video>-<detector>-det.txt.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from model_code.boxes import mot_rows
from model_code.detectors import DEFAULT_DETECTOR, Detector, build_detector

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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", default=DEFAULT_DETECTOR)
    parser.add_argument("--out", type=Path, default=CACHE)
    parser.add_argument("videos", nargs="*", type=Path)
    args = parser.parse_args([] if argv is None else argv)
    videos = args.videos or [v for v in (PETS_VIDEO, SAMPLE_VIDEO) if v.is_file()]
    detector = build_detector(args.detector)
    print(f"detector: {getattr(detector, 'runtime', lambda: detector.name)()}")
    args.out.mkdir(parents=True, exist_ok=True)
    for video in videos:
        started = time.perf_counter()
        rows, frames = det_rows(detector, video)
        target = args.out / f"{video.stem}-{args.detector}-det.txt"
        target.write_text(rows)
        elapsed = time.perf_counter() - started
        print(
            f"{video.name}: {frames} frames, {rows.count(chr(10))} detections -> {target} "
            f"({1000 * elapsed / max(frames, 1):.1f} ms/frame incl. decode)"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
