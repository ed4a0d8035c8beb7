"""Command line: `python -m model_code track VIDEO --out DIR` and `python -m model_code track-dets`.

Expected failures (bad video, bad options, missing files) print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model_code", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    track = commands.add_parser("track", help="detect and track objects in a video file")
    track.add_argument("video", help="video file (mp4, mov, avi, mkv, webm)")
    track.add_argument("--out", required=True, help="folder for tracks.txt, tracks.jsonl, ...")
    track.add_argument("--detector", default="yolov3-tiny", help="detector name")
    track.add_argument("--weights", help="weights folder (yolov3-tiny) or model file (YOLOX)")
    track.add_argument("--stride", type=int, default=1, help="keep every Nth frame")
    track.add_argument("--annotate", action="store_true", help="also write annotated.mp4")
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

    dets = commands.add_parser("track-dets", help="run the tracker alone on MOTChallenge det rows")
    dets.add_argument("det_txt", help="det.txt rows: frame,-1,x,y,w,h,score,...")
    dets.add_argument("--fps", type=float, required=True, help="frame rate of the sequence")
    dets.add_argument("--out", required=True, help="MOT tracks file to write")
    return parser


def _track(args: argparse.Namespace) -> None:
    from pathlib import Path

    from model_code.jobs import FolderOutput, Job, LocalVideo, run_job
    from model_code.pipeline import TrackOptions, detector_for

    chosen = {
        "detector": args.detector,
        "stride": args.stride,
        "classes": args.classes,
        "annotate": args.annotate,
        "score_threshold": args.score_threshold,
        "batch_size": args.batch_size,
        "prefetch": args.prefetch,
    }
    options = TrackOptions.from_dict({k: v for k, v in chosen.items() if v is not None})
    detector = detector_for(options, args.weights)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    job = Job(None, LocalVideo(Path(args.video)), FolderOutput())
    summary = run_job(job, options, detector, out, out)
    counts, timings, video = summary["counts"], summary["timings"], summary["video"]
    speed = counts["frames_processed"] / timings["total_s"] if timings["total_s"] else 0.0
    line = (
        f"frames={counts['frames_processed']} tracks={counts['tracks']} "
        f"detections={counts['detections']} video={video['width']}x{video['height']}"
        f"@{video['fps']:g}fps total_s={timings['total_s']:.2f} fps={speed:.1f} out={args.out}"
    )
    print(line)
    for warning in summary["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)


def _track_dets(args: argparse.Namespace) -> None:
    from model_code.track_dets import track_detections_file

    result = track_detections_file(args.det_txt, args.fps, args.out)
    print(
        f"frames={result.frames} update_ms_per_frame={result.update_ms_per_frame:.4f}",
        file=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
