"""How job views look: a few aligned lines for people, JSON for scripts, a progress bar."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

BAR_WIDTH = 24


def emit_json(data: Any, out: TextIO | None = None) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str), file=out or sys.stdout)


def progress_text(progress: Mapping[str, Any] | None) -> str:
    """``[#####-----]  41%  123/300 frames  12.3 fps  ETA 14 s`` (parts left out when unknown)."""
    if not progress:
        return ""
    frame, total = progress.get("frame") or 0, progress.get("frames_total")
    parts = []
    if total:
        done = min(max(frame / total, 0.0), 1.0)
        filled = int(round(done * BAR_WIDTH))
        parts.append(f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done * 100:3.0f}%")
        parts.append(f"{frame}/{total} frames")
    else:
        parts.append(f"frame {frame}")
    if progress.get("fps") is not None:
        parts.append(f"{float(progress['fps']):.1f} fps")
    if progress.get("eta_s") is not None:
        parts.append(f"ETA {_seconds(float(progress['eta_s']))}")
    return "  ".join(parts)


def _seconds(value: float) -> str:
    value = max(value, 0.0)
    if value < 90:
        return f"{value:.0f} s"
    minutes, seconds = divmod(int(value), 60)
    if minutes < 90:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _options_text(options: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={_value_text(value)}" for name, value in sorted(options.items()))


def _value_text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def status_lines(view: Mapping[str, Any]) -> list[str]:
    status = view["status"]
    if view.get("progress"):
        status = f"{status}  {progress_text(view['progress'])}"
    rows: list[tuple[str, Any]] = [
        ("job", view["job_id"]),
        ("status", status),
        ("reason", view.get("reason")),
        ("video", view.get("video")),
        ("tag", view.get("tag")),
        ("options", _options_text(view.get("options") or {}) or None),
        ("retry of", view.get("retry_of")),
        ("created", view.get("created_at")),
        ("completed", view.get("completed_at")),
    ]
    counts = view.get("counts") or {}
    if counts:
        rows.append(
            (
                "counts",
                f"{counts.get('tracks', '?')} tracks, {counts.get('detections', '?')} boxes,"
                f" {counts.get('frames_processed', '?')} frames processed",
            )
        )
    total = (view.get("timings") or {}).get("total_s")
    if total is not None:
        rows.append(("took", f"{float(total):.1f} s in the container"))
    rows.extend(("warning", warning) for warning in view.get("warnings") or [])
    rows.extend((name, uri) for name, uri in sorted((view.get("outputs") or {}).items()))
    width = max(len(name) for name, value in rows if value not in (None, ""))
    return [f"{name:<{width}}  {value}" for name, value in rows if value not in (None, "")]


def list_lines(views: list[Mapping[str, Any]]) -> list[str]:
    if not views:
        return ["no jobs"]
    lines = []
    for view in views:
        detail = progress_text(view.get("progress")) or (view.get("reason") or "")
        if view.get("tag"):
            detail = f"[{view['tag']}] {detail}".strip()
        lines.append(
            f"{view['job_id']:<49}  {view['status']:<9}  {str(view.get('created_at') or ''):<24}"
            f"  {detail}".rstrip()
        )
    return lines
