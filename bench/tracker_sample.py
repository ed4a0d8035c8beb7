"""The sample-video check of tracker_defaults: the two people of samples/people-walking.mp4.

NanoDet-g's cached detections of the sample (10 fps, `python -m bench.detector_dets`) are tracked
with a config; per person (the woman on frames 30-140, the man on 200-290) the id that holds most
of their frames and its share, and the ids in all. `holds_sample` is the gate tracker_defaults
ranks candidates by: one id per person, each on at least `SAMPLE_BAR` of their frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_code.track_dets import read_detection_rows, track_detection_rows
from model_code.tracking import TrackerConfig

SAMPLE_DETS = (
    Path(__file__).resolve().parents[1] / ".cache" / "bench" / "people-walking-nanodet-g-det.txt"
)
SAMPLE_FPS = 10.0
SAMPLE_SPANS = {"woman": (30, 140), "man": (200, 290)}
# The share of each sample person's frames one id must hold (the defaults before the output
# filter's axes held 99% and 100%): a filter tuned on the benchmark rows must not drop them.
SAMPLE_BAR = 0.99


@dataclass(frozen=True)
class SamplePerson:
    first: int
    last: int
    top_id: int | None  # the id that holds the most of the person's frames
    share: float  # the share of the person's frames it holds


def sample_people(config: TrackerConfig) -> tuple[dict[str, SamplePerson], int] | None:
    """Per person of the sample, the id holding most of their frames, and the ids in all;
    None without the cached sample detections."""
    if not SAMPLE_DETS.is_file():
        return None
    tracks, _ = track_detection_rows(read_detection_rows(SAMPLE_DETS), SAMPLE_FPS, config)
    people = {}
    for person, (first, last) in SAMPLE_SPANS.items():
        span = tracks[(tracks[:, 0] >= first) & (tracks[:, 0] <= last)]
        ids, counts = np.unique(span[:, 1].astype(int), return_counts=True)
        top = int(counts.argmax()) if len(counts) else -1
        people[person] = SamplePerson(
            first,
            last,
            int(ids[top]) if len(ids) else None,
            counts[top] / (last - first + 1) if len(counts) else 0.0,
        )
    return people, len(np.unique(tracks[:, 1])) if len(tracks) else 0


def holds_sample(config: TrackerConfig) -> bool:
    """Each sample person held by one id on at least `SAMPLE_BAR` of their frames, one id each;
    True without the cached sample detections."""
    found = sample_people(config)
    if found is None:
        return True
    people, total = found
    return total == len(people) and all(p.share >= SAMPLE_BAR for p in people.values())


def sample_check(config: TrackerConfig) -> str:
    """One line: per person the share of their frames held by one id, and the ids in all."""
    found = sample_people(config)
    if found is None:
        return f"sample check skipped: {SAMPLE_DETS} not found (python -m bench.detector_dets)"
    people, total = found
    parts = [
        f"{person} frames {p.first}-{p.last}: id {p.top_id or '-'} on {p.share:.0%}"
        for person, p in people.items()
    ]
    return "sample (defaults): " + "; ".join(parts) + f"; {total} ids in all"
