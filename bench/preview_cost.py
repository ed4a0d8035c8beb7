"""What preview.mp4 costs next to annotated.mp4: ms per frame and MB per minute of video.
`python -m bench.preview_cost [VIDEO ...] [--frames N] [--upscale WxH] [--fps F]`.

Each video is decoded three times (stride 1, at most `--frames` frames; `--upscale` resizes every
frame first, and `--fps` is the rate the writers are told, to stand in for a larger or faster
source): alone, into annotated.mp4 and into preview.mp4,
with the same synthetic boxes (`BOXES` tracks walking across the picture). A writer's cost is
its pass minus the decode-only pass, per frame, in wall time and in process CPU time (which
counts the encoder's threads, and moves less than wall time on a busy machine); its size is the
file scaled to one minute of video. Detection and tracking are left out: they are the
same with or without a preview. Defaults: the bundled sample and, when present, PETS09-S2L1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_code.preview import PreviewVideoWriter
from model_code.results import AnnotatedVideoWriter, Sink
from model_code.video import VideoReader

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VIDEOS = (
    REPO / "samples" / "people-walking.mp4",
    REPO.parent / "shared" / "data" / "PETS09-S2L1" / "vtest.avi",
)
BOXES = 10


@dataclass(frozen=True)
class _Tracks:
    ids: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray


def synthetic_tracks(frame: int, width: int, height: int) -> _Tracks:
    """`BOXES` person-sized boxes moving right, wrapping at the edge."""
    ids = np.arange(1, BOXES + 1)
    box_w, box_h = width / 20, height / 5
    x = (ids * width / BOXES + frame * 4.0) % (width - box_w)
    y = (ids * 37.0) % (height - box_h)
    boxes = np.stack([x, y, x + box_w, y + box_h], axis=1)
    return _Tracks(ids, boxes, np.full(BOXES, 0.8), np.zeros(BOXES, np.int64))


def _pass(
    video: Path,
    frames: int,
    upscale: tuple[int, int] | None,
    kind: str | None,
    folder: Path,
    fps: float | None,
) -> dict:
    """One decode of the video into the `kind` writer (None: no writer): wall and CPU seconds."""
    import cv2

    reader = VideoReader(video)
    fps = fps or reader.info.fps
    width, height = upscale or (reader.info.width, reader.info.height)
    writer: Sink | None = None
    if kind == "annotated":
        writer = AnnotatedVideoWriter(folder / "annotated.mp4", width, height, fps)
    elif kind == "preview":
        writer = PreviewVideoWriter(folder / "preview.mp4", width, height, fps)
    count = 0
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        for number, image in reader:
            if count >= frames:
                break
            if upscale:
                image = cv2.resize(image, upscale, interpolation=cv2.INTER_LINEAR)
            if writer is not None:
                writer.write(number, image, synthetic_tracks(number, width, height))
            count += 1
    finally:
        reader.close()
        if writer is not None:
            writer.close()
    return {
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "frames": count,
        "fps": fps,
        "size": "x".join(map(str, getattr(writer, "size", (width, height)))),
    }


def measure(
    video: Path, frames: int, upscale: tuple[int, int] | None, fps: float | None = None
) -> list[dict]:
    """Per writer: what its pass took beyond a decode-only pass, per frame, and MB/minute."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        base = _pass(video, frames, upscale, None, folder, fps)
        rows = []
        for kind in ("annotated", "preview"):
            run = _pass(video, frames, upscale, kind, folder, fps)
            minutes = run["frames"] / run["fps"] / 60
            rows.append(
                {
                    "video": video.name + ("@{}x{}".format(*upscale) if upscale else ""),
                    "writer": kind,
                    "size": run["size"],
                    "frames": run["frames"],
                    "fps": run["fps"],
                    "wall_ms": 1000 * (run["wall_s"] - base["wall_s"]) / run["frames"],
                    "cpu_ms": 1000 * (run["cpu_s"] - base["cpu_s"]) / run["frames"],
                    "mb_per_minute": (folder / f"{kind}.mp4").stat().st_size / 1e6 / minutes,
                }
            )
        return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.preview_cost", description=__doc__)
    parser.add_argument("videos", nargs="*", type=Path)
    parser.add_argument("--frames", type=int, default=300, help="frames per video, at most")
    parser.add_argument("--upscale", help="WxH: resize every frame to this first")
    parser.add_argument("--fps", type=float, help="the frame rate the writers are told")
    args = parser.parse_args(argv)
    videos = args.videos or [path for path in DEFAULT_VIDEOS if path.exists()]
    upscale = tuple(int(v) for v in args.upscale.split("x")) if args.upscale else None
    print(
        f"{'video':30} {'writer':9} {'size':>9} {'frames':>6} {'fps':>5} {'wall ms/f':>9}"
        f" {'CPU ms/f':>8} {'MB/min':>7}"
    )
    for video in videos:
        for row in measure(video, args.frames, upscale, args.fps):  # type: ignore[arg-type]
            print(
                f"{row['video']:30} {row['writer']:9} {row['size']:>9} {row['frames']:>6} "
                f"{row['fps']:>5.1f} {row['wall_ms']:>9.2f} {row['cpu_ms']:>8.2f} "
                f"{row['mb_per_minute']:>7.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
