"""Peak RSS of `python -m model_code track` for a short clip and a 10x longer one.

`python -m bench.memory [--frames 60] [--annotate]` builds two 640x360 H.264 clips from the same
content (sample frames 211 onwards, where people are in view): N frames, and those N frames
looped 10 times. Each run is its own child process; its peak RSS comes from `os.wait4`.
Streaming means the two peaks should stay within 10% of each other.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import av
import cv2
import numpy as np

from bench import plots

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "people-walking.mp4"
SIZE = (640, 360)
FIRST_FRAME = 211
LOOPS = 10


def sample_frames(count: int) -> list[np.ndarray]:
    """`count` consecutive sample frames from FIRST_FRAME on, resized to SIZE."""
    frames: list[np.ndarray] = []
    with av.open(str(SAMPLE)) as container:
        for index, frame in enumerate(container.decode(video=0), start=1):
            if index >= FIRST_FRAME:
                frames.append(cv2.resize(frame.to_ndarray(format="bgr24"), SIZE))
            if len(frames) == count:
                break
    return frames


def write_clip(path: Path, frames: Sequence[np.ndarray], loops: int, fps: int = 10) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        for _ in range(loops):
            for image in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def peak_rss_mb(video: Path, out: Path, extra: Sequence[str]) -> tuple[float, float]:
    """Peak RSS (MiB) and wall seconds of one CLI run in its own child process."""
    command = [sys.executable, "-m", "model_code", "track", str(video), "--out", str(out), *extra]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    errors = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}): {errors}")
    return usage.ru_maxrss / 1024.0, wall  # ru_maxrss is in KiB on Linux


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--frames", type=int, default=60, help="length of the short clip")
    parser.add_argument("--annotate", action="store_true", help="also write annotated.mp4")
    args = parser.parse_args(list(argv or []))
    extra = ["--annotate"] if args.annotate else []
    content = sample_frames(args.frames)
    with tempfile.TemporaryDirectory(prefix="motflow-mem-") as work:
        work_dir = Path(work)
        short = write_clip(work_dir / "short.mp4", content, loops=1)
        long = write_clip(work_dir / "long.mp4", content, loops=LOOPS)
        results = []
        for name, clip, frames in (
            ("short", short, len(content)),
            ("long", long, LOOPS * len(content)),
        ):
            rss, wall = peak_rss_mb(clip, work_dir / f"out-{name}", extra)
            results.append((name, frames, rss, wall))
    print(
        f"clips: {SIZE[0]}x{SIZE[1]} H.264, sample frames {FIRST_FRAME}+; "
        f"cli: python -m model_code track CLIP --out DIR {' '.join(extra)}".rstrip()
    )
    print(f"{'clip':<8}{'frames':>8}{'peak RSS (MiB)':>16}{'wall (s)':>10}")
    for name, frames, rss, wall in results:
        print(f"{name:<8}{frames:>8d}{rss:>16.1f}{wall:>10.1f}")
    plots.memory([(name, frames, rss) for name, frames, rss, _ in results])
    growth = 100.0 * (results[1][2] / results[0][2] - 1.0)
    print(f"long vs short peak RSS: {growth:+.1f}% (target: within 10%)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
