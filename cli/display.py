"""How job views look: a few aligned lines for people, JSON for scripts, a progress bar."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from model_code.progress import progress_line


def emit_json(data: Any, out: TextIO | None = None) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str), file=out or sys.stdout)


def progress_text(progress: Mapping[str, Any] | None) -> str:
    """The engine's own progress line, so the container's reports read the same everywhere."""
    return progress_line(dict(progress) if progress else None)


def segments_text(segments: Mapping[str, int] | None) -> str:
    """A long video's segments: '3/12 segments done' (and how many failed)."""
    if not segments:
        return ""
    failed = f", {segments['failed']} failed" if segments.get("failed") else ""
    return f"{segments['succeeded']}/{segments['total']} segments done{failed}"


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
        ("segments", segments_text(view.get("segments")) or None),
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


def notification_lines(message: Mapping[str, Any]) -> list[str]:
    """A job's notification as `watch` ends with it: its subject, then its text indented."""
    text = str((message.get("message") or {}).get("text") or "")
    return ["", f"notification  {message.get('subject') or ''}"] + [
        f"  {line}" for line in text.splitlines()
    ]
