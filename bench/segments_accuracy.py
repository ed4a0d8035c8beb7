"""Stitched segments against the single-piece run, scored on ground truth.

`python -m bench.segments_accuracy [--segments 4 8] [--overlap-s 2]` tracks PETS09-S2L1
(`../shared/data`, 79.5 s at 10 fps, MOT15 ground truth) in one piece, then as N segments with
the overlap (each run on its own, as separate endpoint invocations would), stitches them the way
the stitch job does (model_code/segment_results.py) and prints MOTA / IDF1 of each against the
ground truth, the difference to the single piece, and the ID switches at segment borders.
Issue 15 asks for the stitched run within 1 point of the single piece on both.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.end_to_end import GT, VIDEO
from bench.mot_eval import evaluate_mot
from lambdas.segments import plan
from model_code.jobs import FolderOutput, Job, LocalVideo, run_job
from model_code.pipeline import TrackOptions, detector_for
from model_code.results import file_sinks
from model_code.segment_results import join_segments
from model_code.video import VideoReader


def _duration_s(video: Path) -> float:
    with VideoReader(video) as reader:
        return reader.info.duration_s


def stitched_run(video: Path, work: Path, count: int, overlap_s: int) -> tuple[Path, dict]:
    """Track `video` as `count` segments and stitch them; returns tracks.txt and the facts."""
    duration = _duration_s(video)
    threshold = max(1, int(duration / count) + (duration % count > 0))
    segments = plan(duration, threshold_s=threshold, overlap_s=overlap_s)
    options = TrackOptions.from_dict({})
    detector = detector_for(options)
    folders = []
    for segment in segments:
        folder = work / f"segment-{count}-{segment.index}"
        job = Job("segment", LocalVideo(video), FolderOutput(), segment=segment.to_dict())
        run_job(job, options, detector, work, folder)
        folders.append(folder)
    joined = work / f"joined-{count}"
    facts = join_segments(folders, file_sinks(joined, annotate=False))
    return joined / "tracks.txt", facts


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.segments_accuracy")
    parser.add_argument("--segments", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--overlap-s", type=int, default=2)
    args = parser.parse_args(argv)
    if not VIDEO.exists() or not GT.exists():
        raise SystemExit(f"needs {VIDEO} and {GT} (../shared/data)")
    with tempfile.TemporaryDirectory(prefix="motflow-segments-") as folder:
        work = Path(folder)
        options = TrackOptions.from_dict({})
        run_job(Job("whole", LocalVideo(VIDEO), FolderOutput()), options, detector_for(options),
                work, work / "whole")  # fmt: skip
        whole = evaluate_mot(GT, work / "whole" / "tracks.txt")
        length = _duration_s(VIDEO)
        print(f"PETS09-S2L1 ({length:.1f} s), default options, overlap {args.overlap_s} s")
        print(f"{'run':<14}{'MOTA':>7}{'IDF1':>7}{'dMOTA':>7}{'dIDF1':>7}  border switches")
        print(f"{'single piece':<14}{whole['mota'] * 100:7.1f}{whole['idf1'] * 100:7.1f}")
        for count in args.segments:
            tracks, facts = stitched_run(VIDEO, work, count, args.overlap_s)
            got = evaluate_mot(GT, tracks)
            label = f"{facts['segments']['count']} segments"
            print(
                f"{label:<14}{got['mota'] * 100:7.1f}"
                f"{got['idf1'] * 100:7.1f}{(got['mota'] - whole['mota']) * 100:+7.1f}"
                f"{(got['idf1'] - whole['idf1']) * 100:+7.1f}  "
                f"{facts['segments']['border_switches']}"
            )


if __name__ == "__main__":
    main()
