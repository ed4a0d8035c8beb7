"""Decode speed of `model_code.video.VideoReader`, each change against what it replaced.

`python -m bench.decode_speed [--seconds 4] [--rounds 3] [--clip PATH] [--json OUT]` reads:
- a generated 1080p30 H.264 clip of realistic bitrate (about 8 Mbit/s, libx264 High with
  B-frames): a textured panning background, moving figures and fresh film grain on every frame,
  cached under .cache/bench/ (see `write_realistic_clip`);
- the PETS09-S2L1 video (`../shared/data/PETS09-S2L1/vtest.avi`, 768x576 MS-MPEG4v3), when
  present (skipped otherwise).

Variants, alternated round by round in one process (medians reported):
- threads: stride 1 with FFmpeg threading NONE, SLICE (PyAV's default, what ran before), FRAME
  and AUTO;
- conversion: stride 3 converting every frame to BGR and dropping two in three (what a reader
  that converts before sampling does) against converting only the kept frames;
- skip_frame: stride 3 without and with `skip_nonref` (non-reference frames the stride drops are
  not decoded; opt-in).
fps is source frames gone through per wall-clock second; CPU ms is process CPU time (all
threads) per source frame, the figure that matters when two jobs share an instance's vCPUs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model_code.video import DEFAULT_THREAD_TYPE, VideoReader

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "bench"
PETS = REPO.parent / "shared" / "data" / "PETS09-S2L1" / "vtest.avi"
WIDTH, HEIGHT, FPS = 1920, 1080, 30
BITRATE = 8_000_000
STRIDE = 3


def _smooth_texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Blotchy colour texture with fine detail: low-frequency blobs plus high-frequency noise."""
    import cv2

    coarse = rng.integers(40, 220, (height // 48 + 1, width // 48 + 1, 3), dtype=np.uint8)
    blobs = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    detail = rng.integers(-25, 26, (height, width, 3), dtype=np.int16)
    detail = cv2.GaussianBlur(detail.astype(np.float32), (3, 3), 0).astype(np.int16)
    return np.clip(blobs + detail, 0, 255).astype(np.uint8)


def write_realistic_clip(
    path: Path, seconds: float = 4.0, width: int = WIDTH, height: int = HEIGHT, fps: int = FPS
) -> Path:
    """A camera-like H.264 clip: a textured scene panning 3 px/frame, 12 figures walking at
    different speeds, and fresh Gaussian grain (sigma 6) on every frame; libx264 at `BITRATE`
    with its default GOP and B-frames. Deterministic (seeded)."""
    import av
    import cv2

    rng = np.random.default_rng(19)
    frames = max(1, round(seconds * fps))
    pan = 3
    scene = _smooth_texture(rng, height, width + pan * frames + 1)
    figures = [
        (
            rng.integers(0, width),  # x at frame 0
            rng.integers(height // 4, height - 300),  # y
            rng.uniform(-6, 6),  # px per frame
            int(rng.integers(60, 140)),  # width
            tuple(int(c) for c in rng.integers(0, 256, 3)),  # colour
        )
        for _ in range(12)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.mp4")
    with av.open(str(partial), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = BITRATE
        stream.options = {"preset": "veryfast", "profile": "high"}
        for i in range(frames):
            image = np.ascontiguousarray(scene[:, pan * i : pan * i + width])
            for x0, y, speed, w, colour in figures:
                x = int(x0 + speed * i) % width
                cv2.ellipse(image, (x + w // 2, y + 25), (w // 4, 25), 0, 0, 360, colour, -1)
                cv2.rectangle(image, (x, y + 50), (x + w // 2, y + 50 + 2 * w), colour, -1)
                cv2.rectangle(image, (x + w // 2, y + 50), (x + w, y + 50 + 2 * w), colour, -1)
            grain = rng.normal(0.0, 6.0, (height, width, 1)).astype(np.float32)
            image = np.clip(image + grain, 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    partial.replace(path)
    return path


def cached_clip(seconds: float) -> Path:
    path = CACHE / f"decode-{WIDTH}x{HEIGHT}p{FPS}-{BITRATE // 1000}k-{seconds:g}s.mp4"
    return path if path.is_file() else write_realistic_clip(path, seconds)


def clip_facts(path: Path) -> dict[str, Any]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.demux(stream) if _.size)
        duration = frames / float(stream.average_rate or FPS)
        return {
            "file": str(path),
            "codec": stream.codec_context.name,
            "size": f"{stream.width}x{stream.height}",
            "fps": float(stream.average_rate or 0),
            "frames": frames,
            "mbit_s": round(path.stat().st_size * 8 / duration / 1e6, 2),
        }


@dataclass(frozen=True)
class Variant:
    change: str  # which change this row measures
    name: str  # before / after label
    read: Callable[[Path], int]  # reads the video, returns the source frames gone through


def _reader(stride: int, **options: Any) -> Callable[[Path], int]:
    def read(path: Path) -> int:
        with VideoReader(path, stride=stride, **options) as video:
            for _ in video:
                pass
            return video.frames_read

    return read


def _convert_all_then_sample(path: Path) -> int:
    """Every frame converted to BGR, two in three dropped: conversion before sampling."""
    with VideoReader(path, stride=1) as video:
        kept = sum(1 for number, _ in video if (number - 1) % STRIDE == 0)
        assert kept
        return video.frames_read


VARIANTS = (
    Variant("threads (stride 1)", "NONE", _reader(1, thread_type="NONE")),
    Variant("threads (stride 1)", "SLICE (before)", _reader(1, thread_type="SLICE")),
    Variant("threads (stride 1)", "FRAME", _reader(1, thread_type="FRAME")),
    Variant("threads (stride 1)", "AUTO", _reader(1, thread_type="AUTO")),
    Variant(f"conversion (stride {STRIDE})", "convert all (before)", _convert_all_then_sample),
    Variant(f"conversion (stride {STRIDE})", "convert kept", _reader(STRIDE)),
    Variant(f"skip_frame (stride {STRIDE})", "off (default)", _reader(STRIDE)),
    Variant(f"skip_frame (stride {STRIDE})", "NONREF (opt-in)", _reader(STRIDE, skip_nonref=True)),
)


def measure(path: Path, rounds: int) -> list[dict[str, Any]]:
    """Each variant `rounds` times, alternating; median fps and CPU ms per source frame."""
    walls: dict[int, list[float]] = {i: [] for i in range(len(VARIANTS))}
    cpus: dict[int, list[float]] = {i: [] for i in range(len(VARIANTS))}
    frames: dict[int, int] = {}
    VARIANTS[0].read(path)  # warm the page cache and the libraries
    for _ in range(rounds):
        for i, variant in enumerate(VARIANTS):
            wall, cpu = time.perf_counter(), time.process_time()
            frames[i] = variant.read(path)
            walls[i].append(time.perf_counter() - wall)
            cpus[i].append(time.process_time() - cpu)
    rows = []
    for i, variant in enumerate(VARIANTS):
        wall, cpu = statistics.median(walls[i]), statistics.median(cpus[i])
        rows.append({
            "change": variant.change,
            "variant": variant.name,
            "frames": frames[i],
            "fps": round(frames[i] / wall, 1),
            "cpu_ms_per_frame": round(1000 * cpu / frames[i], 2),
        })  # fmt: skip
    return rows


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    print(f"{'change':<22}{'variant':<22}{'frames':>7}{'fps':>9}{'CPU ms/frame':>14}")
    for row in rows:
        print(f"{row['change']:<22}{row['variant']:<22}{row['frames']:>7}{row['fps']:>9.1f}"
              f"{row['cpu_ms_per_frame']:>14.2f}")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.decode_speed", description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the 1080p clip")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clip", type=Path, help="read this video instead of the generated one")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(list(argv or []))
    if args.rounds < 1 or args.seconds <= 0:
        parser.error("--rounds must be 1 or more and --seconds positive")
    import os

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"VideoReader default thread_type: {DEFAULT_THREAD_TYPE}; {cpus} CPUs usable; "
          f"{args.rounds} alternating rounds, medians")  # fmt: skip
    results: dict[str, Any] = {"cpus": cpus, "rounds": args.rounds, "videos": []}
    videos = [args.clip or cached_clip(args.seconds)]
    if PETS.is_file():
        videos.append(PETS)
    else:
        print(f"(PETS video not found at {PETS}: skipped)")
    for video in videos:
        facts = clip_facts(video)
        rows = measure(video, args.rounds)
        print_table(
            f"{video.name}: {facts['size']} {facts['codec']} {facts['fps']:g} fps, "
            f"{facts['frames']} frames, {facts['mbit_s']} Mbit/s",
            rows,
        )
        results["videos"].append({**facts, "rows": rows})
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
