"""Peak RSS of the tracks.json writer, sampled boxes against every frame, for short and long runs:
`python -m bench.tracks_json_memory [--minutes 10 60] [--fps 30] [--objects 20]`.

Each (mode, length) runs in a fresh Python process: synthetic tracks (`--objects` on screen at
once, each living 10 s, replaced as they end) are fed frame by frame to `TrackIndexWriter`, and
the process reports its peak RSS (`ru_maxrss`), the writer's wall time and the file size. With
`track_frames="all"` the boxes are spilled to a sorted temporary file (model_code/spill.py), so
its peak should stay near the sampled writer's whatever the length.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from model_code.results import TRACK_FRAMES, TrackIndexWriter
from model_code.tracking import TrackedObjects

LIFE_S = 10  # each synthetic track's length
SIZE = (1920, 1080)


def synthetic_run(path: Path, mode: str, minutes: float, fps: int, objects: int) -> dict:
    """Writes tracks.json for `minutes` of synthetic tracks; returns what it measured."""
    frames = int(minutes * 60 * fps)
    life = LIFE_S * fps
    offsets = np.arange(objects) * (life // objects)  # staggered births: tracks end one by one
    scores = np.full(objects, 0.8, np.float32)
    labels = np.zeros(objects, np.int64)
    started = time.perf_counter()
    with TrackIndexWriter(path, float(fps), ("person",), frame_size=SIZE, track_frames=mode) as w:
        for frame in range(1, frames + 1):
            age = (frame + offsets) % life
            ids = 1 + np.arange(objects) + objects * ((frame + offsets) // life)
            x = 10.0 + age * 3.0 + np.arange(objects) * 80.0
            boxes = np.stack([x, x * 0 + 100.0, x + 60.0, x * 0 + 260.0], axis=1) % SIZE[0]
            w.write(frame, None, TrackedObjects(ids, boxes, scores, labels))  # type: ignore[arg-type]
    return {
        "mode": mode,
        "minutes": minutes,
        "observations": frames * objects,
        "write_s": round(time.perf_counter() - started, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "file_mib": round(path.stat().st_size / 2**20, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tracks_json_memory")
    parser.add_argument("--minutes", type=float, nargs="+", default=[10.0, 60.0])
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--objects", type=int, default=20)
    parser.add_argument("--child", choices=TRACK_FRAMES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        with tempfile.TemporaryDirectory() as folder:
            facts = synthetic_run(
                Path(folder) / "tracks.json", args.child, args.minutes[0], args.fps, args.objects
            )
        print(json.dumps(facts))
        return 0
    print(
        f"{'mode':8} {'minutes':>7} {'observations':>12} {'peak RSS MiB':>12} {'file MiB':>9}"
        f" {'write s':>8}"
    )
    for minutes in args.minutes:
        for mode in TRACK_FRAMES:
            command = [sys.executable, "-m", "bench.tracks_json_memory", "--child", mode]
            command += ["--minutes", str(minutes), "--fps", str(args.fps)]
            command += ["--objects", str(args.objects)]
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            r = json.loads(out)
            print(
                f"{r['mode']:8} {r['minutes']:>7g} {r['observations']:>12} "
                f"{r['peak_rss_mib']:>12} {r['file_mib']:>9} {r['write_s']:>8}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
