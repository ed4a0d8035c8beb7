"""Does decoding on a thread, overlapped with detection, pay? Wall time with and without it.

`python -m bench.overlap [--video V] [--detector D] [--stride N] [--batch-size B] [--rounds R]
[--prefetch P]` tracks the video in this process with `prefetch=0` (decode on the tracking
thread) and `prefetch=P` (a decode thread P batches ahead), alternating R times with one detector
built once, and prints each run and the median per mode. The default video is the sample.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from model_code.pipeline import TrackOptions, detector_for, track_video
from model_code.results import file_sinks

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "people-walking.mp4"


def timed_run(video: Path, options: TrackOptions, detector, out: Path) -> dict[str, float]:
    started = time.perf_counter()
    run = track_video(video, file_sinks(out, annotate=False), options, detector)
    wall = time.perf_counter() - started
    return {"wall_s": wall, "frames": run.frames_processed, **run.timings}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.overlap", description=__doc__)
    parser.add_argument("--video", type=Path, default=SAMPLE)
    parser.add_argument("--detector", help="detector name (default: the engine's default)")
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--batch-size", type=int, help="default: the detector's")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prefetch", type=int, default=2, help="queue depth of the threaded run")
    args = parser.parse_args(list(argv or []))
    chosen = {"stride": args.stride, "batch_size": args.batch_size, "detector": args.detector}
    base = TrackOptions.from_dict({k: v for k, v in chosen.items() if v is not None})
    detector = detector_for(base)
    modes = {0: TrackOptions.from_dict({"prefetch": 0}, base=base)}
    modes[args.prefetch] = TrackOptions.from_dict({"prefetch": args.prefetch}, base=base)
    results: dict[int, list[dict[str, float]]] = {mode: [] for mode in modes}
    print(
        f"video: {args.video.name}; detector: {detector.name}; stride {args.stride}; "
        f"batch size {base.for_detector(detector).batch_size}; rounds {args.rounds}"
    )
    print(f"{'prefetch':>8}{'wall s':>9}{'fps':>8}{'decode s':>10}{'waited s':>10}{'detect s':>10}")
    with tempfile.TemporaryDirectory(prefix="motflow-overlap-") as work:
        timed_run(args.video, modes[0], detector, Path(work) / "warm-up")
        for round_ in range(args.rounds):
            for mode, options in modes.items():
                row = timed_run(args.video, options, detector, Path(work) / f"{mode}-{round_}")
                results[mode].append(row)
                print(
                    f"{mode:>8d}{row['wall_s']:>9.2f}{row['frames'] / row['wall_s']:>8.1f}"
                    f"{row['decode_s']:>10.2f}{row['decode_wait_s']:>10.2f}{row['detect_s']:>10.2f}"
                )
    medians = {mode: statistics.median(r["wall_s"] for r in rows) for mode, rows in results.items()}
    sequential, threaded = medians[0], medians[args.prefetch]
    print(
        f"median wall: prefetch 0 {sequential:.2f} s, prefetch {args.prefetch} {threaded:.2f} s; "
        f"threaded / sequential = {threaded / sequential:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
