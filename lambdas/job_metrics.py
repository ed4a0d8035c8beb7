"""Job-outcome metrics in CloudWatch's embedded metric format (EMF): one JSON line on stdout per
job that reaches an outcome, which CloudWatch Logs turns into metrics, no API call needed.

Namespace `Motflow`, dimension `JobsTable` (one stack's jobs), metrics:
- `Jobs` (count) by `Outcome` (SUCCEEDED, FAILED, REJECTED), from complete, sweeper and submit;
- `VideoSeconds` and `CostUsd` per succeeded job (the summary's video duration and cost).
The dashboard (stacks/constructs/monitoring.py) graphs them.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

METRICS_FILE_ENV = "MOTFLOW_METRICS_FILE"
NAMESPACE = "Motflow"
TABLE_DIMENSION = "JobsTable"


def emf_record(
    table: str, outcome: str, video_s: float | None = None, cost_usd: float | None = None
) -> dict[str, Any]:
    """The EMF object for one job's outcome (video seconds and cost only when known)."""
    directives: list[dict[str, Any]] = [
        {
            "Namespace": NAMESPACE,
            "Dimensions": [[TABLE_DIMENSION, "Outcome"]],
            "Metrics": [{"Name": "Jobs", "Unit": "Count"}],
        }
    ]
    record: dict[str, Any] = {TABLE_DIMENSION: table, "Outcome": outcome, "Jobs": 1}
    extra = []
    if video_s is not None:
        record["VideoSeconds"] = float(video_s)
        extra.append({"Name": "VideoSeconds", "Unit": "Seconds"})
    if cost_usd is not None:
        record["CostUsd"] = float(cost_usd)
        extra.append({"Name": "CostUsd", "Unit": "None"})
    if extra:
        directives.append(
            {"Namespace": NAMESPACE, "Dimensions": [[TABLE_DIMENSION]], "Metrics": extra}
        )
    record["_aws"] = {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": directives}
    return record


def emit(
    table: str, outcome: str, video_s: float | None = None, cost_usd: float | None = None
) -> None:
    """Print the EMF line (stdout is the function's log stream; not a `logging` call, so the
    line stays the bare EMF object CloudWatch expects). Where ``MOTFLOW_METRICS_FILE`` is set
    (the local stack, whose handlers share a process with the CLI's output) the line is
    appended to that file instead."""
    line = json.dumps(emf_record(table, outcome, video_s, cost_usd)) + "\n"
    path = os.environ.get(METRICS_FILE_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(line)
        return
    sys.stdout.write(line)
    sys.stdout.flush()


def summary_figures(summary: dict[str, Any]) -> tuple[float | None, float | None]:
    """(video seconds, cost in USD) of a job summary, None where it has none."""
    video = summary.get("video") if isinstance(summary.get("video"), dict) else {}
    cost = summary.get("cost") if isinstance(summary.get("cost"), dict) else {}
    duration, usd = video.get("duration_s"), cost.get("usd")
    return (
        float(duration) if isinstance(duration, int | float) else None,
        float(usd) if isinstance(usd, int | float) else None,
    )
