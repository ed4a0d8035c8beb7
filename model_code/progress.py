"""Job progress: frames done, frames total, fps and ETA, reported at most every few seconds.

`track_video` calls a `ProgressCallback` after every batch with the last source frame number it
processed and the frame count the file declares. `ThrottledProgress` turns those calls into
progress reports no more often than its interval (the first at once, so a job shows RUNNING as
soon as frames flow) and hands each to a publisher: `S3ProgressWriter` puts
``progress.json`` under the job's results prefix, the one place the container role already writes.
A failing publisher never fails the job: reporting stops after a few errors.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

from model_code.storage import parse_s3_uri, s3_client

PROGRESS_JSON = "progress.json"
DEFAULT_INTERVAL_S = 5.0
_MAX_PUBLISH_ERRORS = 3

ProgressCallback = Callable[[int, int], None]
log = logging.getLogger("motflow.progress")


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ThrottledProgress:
    """A `ProgressCallback` that publishes a report at most every `interval_s` seconds."""

    def __init__(
        self,
        publish: Callable[[dict[str, Any]], None],
        *,
        job_id: str | None,
        interval_s: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._publish = publish
        self._clock = clock
        self.job_id = job_id
        self.interval_s = interval_s
        self.started = clock()
        self.started_at = _utc_now()
        self._last: float | None = None
        self._errors = 0
        self._seen: tuple[int, int] | None = None
        self.reports = 0

    def finish(self) -> None:
        """The last report, whatever the interval: ``DONE`` at 100 %, so the file left beside the
        results no longer says RUNNING at the last throttled figure. Nothing if none was sent."""
        if self.reports == 0 or self._seen is None:
            return
        frame, frames_total = self._seen
        report = self.report(frame, max(frames_total, frame), self._clock())
        self.publish({**report, "state": "DONE", "percent": 100.0, "eta_s": 0.0})

    def __call__(self, frame: int, frames_total: int) -> None:
        self._seen = (frame, frames_total)
        now = self._clock()
        if self._last is not None and now - self._last < self.interval_s:
            return
        self._last = now
        self.publish(self.report(frame, frames_total, now))

    def report(self, frame: int, frames_total: int, now: float) -> dict[str, Any]:
        elapsed = max(now - self.started, 1e-6)
        fps = frame / elapsed
        total = frames_total if frames_total and frames_total >= frame else None
        eta = (total - frame) / fps if total and fps > 0 else None
        return {
            "job_id": self.job_id,
            "state": "RUNNING",
            "frame": frame,
            "frames_total": total,
            "percent": round(100.0 * frame / total, 1) if total else None,
            "fps": round(fps, 2),
            "elapsed_s": round(elapsed, 1),
            "eta_s": round(eta, 1) if eta is not None else None,
            "started_at": self.started_at,
            "updated_at": _utc_now(),
        }

    def publish(self, report: dict[str, Any]) -> None:
        if self._errors >= _MAX_PUBLISH_ERRORS:
            return
        try:
            self._publish(report)
            self.reports += 1
        except Exception as error:  # progress is best effort; the job goes on
            self._errors += 1
            log.warning("could not publish progress (%d): %s", self._errors, error)


def progress_line(report: dict[str, Any] | None, width: int = 24) -> str:
    """``[#####-----]  41%  123/300 frames  12.3 fps  ETA 14 s`` (parts left out when unknown)."""
    if not report:
        return ""
    frame, total = report.get("frame") or 0, report.get("frames_total")
    parts = []
    if total:
        done = min(max(frame / total, 0.0), 1.0)
        filled = int(round(done * width))
        parts.append(f"[{'#' * filled}{'-' * (width - filled)}] {done * 100:3.0f}%")
        parts.append(f"{frame}/{total} frames")
    else:
        parts.append(f"frame {frame}")
    if report.get("fps") is not None:
        parts.append(f"{float(report['fps']):.1f} fps")
    if report.get("eta_s") is not None:
        parts.append(f"ETA {_duration(float(report['eta_s']))}")
    return "  ".join(parts)


def _duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 90:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class TerminalBar:
    """Draws each report over the previous one on a terminal stream; `close` ends the line."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.drawn = False

    def __call__(self, report: dict[str, Any]) -> None:
        self.stream.write(f"\r\033[K{progress_line(report)}")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.drawn = False


class S3ProgressWriter:
    """Puts each report as ``<results prefix>progress.json``."""

    def __init__(self, prefix_uri: str, client: Any = None) -> None:
        target = parse_s3_uri(prefix_uri, prefix=True)
        self.bucket, self.key = target.bucket, target.key + PROGRESS_JSON
        self._client = client

    def __call__(self, report: dict[str, Any]) -> None:
        if self._client is None:
            self._client = s3_client()
        self._client.put_object(
            Bucket=self.bucket,
            Key=self.key,
            Body=json.dumps(report).encode("utf-8"),
            ContentType="application/json",
        )


def read_progress(client: Any, bucket: str, results_prefix: str) -> dict[str, Any] | None:
    """The last report `S3ProgressWriter` put under a job's results prefix (``results/<job>/``);
    None when there is none yet or it is not a JSON object. Other S3 errors are raised."""
    try:
        body = client.get_object(Bucket=bucket, Key=results_prefix + PROGRESS_JSON)["Body"].read()
    except client.exceptions.NoSuchKey:
        return None
    try:
        report = json.loads(body)
    except ValueError:
        return None
    return report if isinstance(report, dict) else None
