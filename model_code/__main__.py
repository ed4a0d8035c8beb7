"""Command line: `python -m model_code track VIDEO --out DIR` and `python -m model_code track-dets`.

Expected failures (bad video, bad options, missing files) print one line and exit with code 2.
On a terminal `track` draws a progress bar on stderr (frames, fps, ETA); `--quiet` turns it off,
`-v` adds the engine's log and FFmpeg's own messages, which are otherwise kept off the terminal.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from model_code.detectors import DEFAULT_DETECTOR

EXIT_USAGE = 2
# FFmpeg inside OpenCV prints to stderr itself ("moov atom not found"); the reason reaches the
# user as our one-line error instead. AV_LOG_QUIET is -8.
FFMPEG_LOGLEVEL_ENV = "OPENCV_FFMPEG_LOGLEVEL"
FFMPEG_QUIET = "-8"
BAR_INTERVAL_S = 0.5


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model_code", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    track = commands.add_parser("track", help="detect and track objects in a video file")
    track.add_argument("video", help="video file (mp4, mov, avi, mkv, webm)")
    track.add_argument("--out", required=True, help="folder for tracks.txt, tracks.jsonl, ...")
    track.add_argument("--detector", default=DEFAULT_DETECTOR, help="detector name")
    track.add_argument(
        "--weights", help="weights folder (nanodet-g, yolov3-tiny, yolov4-tiny) or file (YOLOX)"
    )
    track.add_argument("--stride", type=int, default=1, help="keep every Nth frame")
    track.add_argument("--annotate", action="store_true", help="also write annotated.mp4")
    track.add_argument(
        "--preview", action="store_true", help="also write preview.mp4 (annotated, small)"
    )
    track.add_argument(
        "--track-frames",
        choices=("sampled", "all"),
        help="tracks.json boxes per track: sampled along it (default) or every frame",
    )
    track.add_argument("--classes", default="person", help="comma-separated class names")
    track.add_argument(
        "--score-threshold",
        type=float,
        default=0.1,
        help="lowest detection score kept (BYTE uses the low ones)",
    )
    track.add_argument(
        "--batch-size", type=int, help="frames per detector call (default: the detector's best)"
    )
    track.add_argument(
        "--prefetch",
        type=int,
        help="batches decoded ahead on a thread; 0 decodes on the tracking thread",
    )
    track.add_argument(
        "--analytics",
        help="analytics spec JSON (lines, zones, classes, calibration): writes analytics.json",
    )
    track.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    track.add_argument(
        "-v", "--verbose", action="store_true", help="log details, FFmpeg's messages included"
    )

    dets = commands.add_parser("track-dets", help="run the tracker alone on MOTChallenge det rows")
    dets.add_argument("det_txt", help="det.txt rows: frame,-1,x,y,w,h,score,...")
    dets.add_argument("--fps", type=float, required=True, help="frame rate of the sequence")
    dets.add_argument("--out", required=True, help="MOT tracks file to write")
    return parser


def _track(args: argparse.Namespace) -> None:
    from pathlib import Path

    from model_code.jobs import FolderOutput, Job, LocalVideo, run_job
    from model_code.pipeline import TrackOptions, detector_for
    from model_code.progress import TerminalBar, ThrottledProgress

    chosen = {
        "detector": args.detector,
        "stride": args.stride,
        "classes": args.classes,
        "annotate": args.annotate,
        "preview": args.preview,
        "track_frames": args.track_frames,
        "score_threshold": args.score_threshold,
        "batch_size": args.batch_size,
        "prefetch": args.prefetch,
        "analytics": _read_spec(args.analytics) if args.analytics else None,
    }
    options = TrackOptions.from_dict({k: v for k, v in chosen.items() if v is not None})
    detector = detector_for(options, args.weights)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bar = TerminalBar(sys.stderr) if sys.stderr.isatty() and not args.quiet else None
    progress = ThrottledProgress(bar, job_id=None, interval_s=BAR_INTERVAL_S) if bar else None
    job = Job(None, LocalVideo(Path(args.video)), FolderOutput(progress))
    try:
        summary = run_job(job, options, detector, out, out)
    finally:
        if bar is not None:
            bar.close()
    counts, timings, video = summary["counts"], summary["timings"], summary["video"]
    speed = counts["frames_processed"] / timings["total_s"] if timings["total_s"] else 0.0
    line = (
        f"frames={counts['frames_processed']} tracks={counts['tracks']} "
        f"detections={counts['detections']} video={video['width']}x{video['height']}"
        f"@{video['fps']:g}fps total_s={timings['total_s']:.2f} fps={speed:.1f} out={args.out}"
    )
    print(line)
    for name, line in (summary.get("analytics") or {}).get("lines", {}).items():
        counts = " ".join(f"{k}={v}" for k, v in line["directions"].items())
        print(f"line {name}: total={line['total']} {counts}")
    for name, zone in (summary.get("analytics") or {}).get("zones", {}).items():
        print(
            f"zone {name}: entries={zone['entries']} mean_dwell_s={zone['mean_dwell_s']}"
            f" peak_occupancy={zone['peak_occupancy']}"
        )
    for warning in summary["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)


def _read_spec(path: str) -> object:
    """The analytics spec file's JSON (checked with the other options)."""
    import json
    from pathlib import Path

    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"the analytics spec {path} is not valid JSON: {error}") from None


def _track_dets(args: argparse.Namespace) -> None:
    from model_code.track_dets import track_detections_file

    result = track_detections_file(args.det_txt, args.fps, args.out)
    print(
        f"frames={result.frames} update_ms_per_frame={result.update_ms_per_frame:.4f}",
        file=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING)
    if not verbose:
        os.environ.setdefault(FFMPEG_LOGLEVEL_ENV, FFMPEG_QUIET)
    try:
        if args.command == "track":
            _track(args)
        else:
            _track_dets(args)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
