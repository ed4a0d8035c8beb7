"""The summary: what one tracking run did, built once by whoever ran it (CLI or handler).

It carries facts about the run only; the job's state (QUEUED, SUCCEEDED, ...) belongs to the
jobs table that the Lambdas keep. See docs/ARCHITECTURE.md for the fields.
"""

from __future__ import annotations

from typing import Any

from model_code import __version__
from model_code.pipeline import TrackingRun
from model_code.pricing import job_cost


def build_summary(
    run: TrackingRun, *, job_id: str | None, download_s: float = 0.0
) -> dict[str, Any]:
    """The summary of `run`; `artifacts` is left for the job's output to fill in."""
    timings = {"download_s": round(download_s, 3)}
    timings.update({stage: round(seconds, 3) for stage, seconds in run.timings.items()})
    timings["total_s"] = round(download_s + run.seconds, 3)
    return {
        "job_id": job_id,
        "video": run.video,
        "options": run.options.to_dict(),
        "counts": {
            "frames_processed": run.frames_processed,
            "frames_decoded": run.frames_decoded,
            "tracks": run.tracks,
            "detections": run.detections,
        },
        "timings": timings,
        "runtime": run.runtime,
        "artifacts": {},
        "versions": {"motflow": __version__, "detector": run.detector, "tracker": "bytetrack"},
        "warnings": list(run.warnings),
        "cost": job_cost(timings["total_s"]),
    }
