"""Tracker `update()` time per frame: ours against the two anchors, on the same inputs in one run.

Inputs: PETS09-S2L1 (SORT's Faster R-CNN det.txt, about 5 people a frame, 10 fps) and a synthetic
crowd of about 45 people (seeded; noisy boxes, low-score and missed detections, false positives).
Each tracker gets its input already converted to its own types, so only `update` is timed; each
sequence is run `REPEATS` times on a fresh tracker and the fastest run is reported (the machine is
shared, so the minimum is the least disturbed figure).

`MOTFLOW_BENCH_CLOCK=cpu` times with the process's CPU time instead of the wall clock, for a
machine too loaded for wall-clock figures.

Run: `.venv/bin/python -m bench tracker_speed` (or `make bench`).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench import peers
from model_code.boxes import xywh_to_xyxy
from model_code.tracking import ByteTracker

REPEATS = 3
CLOCK = time.process_time if os.environ.get("MOTFLOW_BENCH_CLOCK") == "cpu" else time.perf_counter

FrameInput = tuple[np.ndarray, np.ndarray]


@dataclass
class SpeedPeer:
    name: str
    prepare: Callable[[np.ndarray, np.ndarray], Any]
    make: Callable[[float], Callable[[Any], Any]]


def pets_frames() -> list[FrameInput] | None:
    from bench.tracker_accuracy import DATA, sort_rows

    if not (DATA / "sort" / "data" / "train" / "PETS09-S2L1").is_dir():
        return None
    rows = sort_rows("PETS09-S2L1")
    frames = rows[:, 0].astype(np.int64)
    out = []
    for frame in range(1, int(frames.max()) + 1):
        block = rows[frames == frame]
        out.append((xywh_to_xyxy(block[:, 2:6]), block[:, 6].copy()))
    return out


def crowd_frames(objects: int = 45, frames: int = 600, seed: int = 0) -> list[FrameInput]:
    """People walking across a 1920x1080 view; each frame ~10% missed, ~15% low-score, 3 ghosts."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(60, 160, objects)
    pos = np.column_stack([rng.uniform(0, 1920, objects), rng.uniform(0, 1080, objects)])
    vel = rng.normal(0, 3, (objects, 2))
    out = []
    for _ in range(frames):
        pos += vel
        pos %= (1920, 1080)
        h = size
        w = 0.4 * size
        noise = rng.normal(0, 2, (objects, 4))
        boxes = np.column_stack([pos[:, 0], pos[:, 1], pos[:, 0] + w, pos[:, 1] + h]) + noise
        scores = rng.uniform(0.65, 0.98, objects)
        low = rng.random(objects) < 0.15
        scores[low] = rng.uniform(0.1, 0.55, low.sum())
        seen = rng.random(objects) > 0.1
        ghosts = np.column_stack([rng.uniform(0, 1800, 3), rng.uniform(0, 950, 3)])
        ghosts = np.column_stack([ghosts, ghosts + rng.uniform(40, 120, (3, 2))])
        out.append(
            (
                np.vstack([boxes[seen], ghosts]),
                np.concatenate([scores[seen], rng.uniform(0.1, 0.7, 3)]),
            )
        )
    return out


def ours() -> SpeedPeer:
    def make(fps: float):
        tracker = ByteTracker(frame_rate=fps)
        return lambda frame: tracker.update(frame[0], frame[1])

    return SpeedPeer("ours", lambda boxes, scores: (boxes, scores), make)


def authors() -> SpeedPeer:
    import bytetracker  # noqa: F401  (ImportError when the peer is missing)

    def make(fps: float):
        tracker = peers.authors_tracker(fps)
        return lambda dets: tracker.update(dets, None)

    return SpeedPeer("authors (bytetracker 0.3.2)", peers.authors_input, make)


def roboflow() -> SpeedPeer:
    import trackers  # noqa: F401  (ImportError when the peer is missing)

    def make(fps: float):
        return peers.roboflow_tracker(fps).update

    return SpeedPeer("trackers 2.6.1", peers.roboflow_input, make)


def ms_per_frame(peer: SpeedPeer, frames: list[FrameInput], fps: float) -> float:
    inputs = [peer.prepare(boxes, scores) for boxes, scores in frames]
    best = float("inf")
    for _ in range(REPEATS):
        update = peer.make(fps)
        elapsed = 0.0
        for native in inputs:
            tick = CLOCK()
            update(native)
            elapsed += CLOCK() - tick
        best = min(best, elapsed)
    return 1000.0 * best / len(inputs)


def main() -> list[tuple[str, str, float]]:
    peers = [ours()]
    for factory in (authors, roboflow):
        try:
            peers.append(factory())
        except ImportError as exc:
            print(f"skipped {factory.__name__}: {exc} (install with `make bench`)", file=sys.stderr)
    scenes = []
    pets = pets_frames()
    if pets is None:
        print("skipped PETS09-S2L1: shared data not found", file=sys.stderr)
    else:
        scenes.append(("PETS09-S2L1 SORT dets (~5/frame)", pets, 10.0))
    scenes.append(("synthetic crowd (~45/frame)", crowd_frames(), 30.0))
    results = []
    print(f"{'scene':<34} {'tracker':<28} {'update ms/frame':>15}")
    for scene, frames, fps in scenes:
        for peer in peers:
            ms = ms_per_frame(peer, frames, fps)
            results.append((scene, peer.name, ms))
            print(f"{scene:<34} {peer.name:<28} {ms:15.3f}", flush=True)
    return results


if __name__ == "__main__":
    main()
