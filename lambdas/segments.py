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

# The most segments one upload becomes: bounds the fan-out (endpoint requests, records) and the
# parent record, which lists them all (tests/unit/lambdas/test_lambda_segments.py shows a parent
# with this many fits DynamoDB's item limit with room to spare).
MAX_SEGMENTS = 512
# A header duration is believed only at this average bitrate or more (128 bit/s): below it the
# file is too small to hold that much video, so the header is wrong (a 3-frame, 1.6 KB MP4 that
# claims a day). A static 64x48 H.264 clip at 2 fps, about the least video there is, takes
# 94 bytes/s. Such a video is not split; the engine reads its real length.
MIN_BYTES_PER_S = 16


def believable(duration_s: float | None, size_bytes: int) -> bool:
    """Whether a header's `duration_s` fits a file of `size_bytes` (see MIN_BYTES_PER_S)."""
    return (
        duration_s is not None
        and math.isfinite(duration_s)
        and duration_s > 0
        and size_bytes >= duration_s * MIN_BYTES_PER_S
    )


def count(duration_s: float, threshold_s: int) -> int:
    """How many segments `plan` makes of a video of `duration_s` (1: not split)."""
    return max(1, math.ceil(duration_s / threshold_s))


def too_long(duration_s: float, threshold_s: int) -> str | None:
    """Why a video this long is not taken (more than MAX_SEGMENTS segments), or None."""
    if count(duration_s, threshold_s) <= MAX_SEGMENTS:
        return None
    hours = MAX_SEGMENTS * threshold_s / 3600
    return (
        f"it is {duration_s / 3600:.1f} h long, over the {hours:g} h this deployment takes"
        f" ({MAX_SEGMENTS} segments of {threshold_s} s); split it and upload the parts"
    )


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
    pieces = count(duration_s, threshold_s)
    if pieces > MAX_SEGMENTS:
        raise ValueError(f"{pieces} segments, over {MAX_SEGMENTS} (check `too_long` first)")
    length = duration_s / pieces
    return [
        Segment(
            index=index,
            start_s=round(index * length, 6),
            end_s=round(min(duration_s, (index + 1) * length + overlap_s), 6),
        )
        for index in range(pieces)
    ]


def segment_job_id(parent_id: str, index: int) -> str:
    """The job id of a parent's segment: deterministic, so a replayed upload finds it."""
    return f"{parent_id}-s{index:03d}"
