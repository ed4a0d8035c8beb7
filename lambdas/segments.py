"""Long videos: split a video longer than a threshold into time segments with an overlap.

Each segment is its own job (its own manifest and async invocation, so the endpoint's queue and
autoscaling spread them over instances); the parent job follows its segments. A segment's
``end_s`` includes the overlap, so consecutive segments share ``overlap_s`` seconds of frames on
which the tracks are matched (model_code/stitch.py).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Segment:
    index: int
    start_s: float
    end_s: float  # includes the overlap into the next segment (the last one ends at the end)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan(duration_s: float | None, threshold_s: int, overlap_s: int) -> list[Segment]:
    """The segments of a video (empty: run it in one piece).

    Videos up to `threshold_s` long, and videos whose duration the header does not tell, stay
    one job. Longer ones get ``ceil(duration / threshold)`` equal segments.
    """
    if duration_s is None or not math.isfinite(duration_s) or duration_s <= threshold_s:
        return []
    count = math.ceil(duration_s / threshold_s)
    length = duration_s / count
    return [
        Segment(
            index=index,
            start_s=round(index * length, 6),
            end_s=round(min(duration_s, (index + 1) * length + overlap_s), 6),
        )
        for index in range(count)
    ]


def segment_job_id(parent_id: str, index: int) -> str:
    """The job id of a parent's segment: deterministic, so a replayed upload finds it."""
    return f"{parent_id}-s{index:03d}"
