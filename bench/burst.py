"""A burst of short real clips through the whole local stack: `python -m bench.burst [N]`.

Prints jobs per minute, p50/p95 upload-to-terminal seconds, peak RSS of the serving stack
(the model server and its workers), and the lost and double-processed job counts (both must be 0).
Timing figures depend on the machine and its load; rerun on a quiet machine for BENCHMARKS.md.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import psutil

from local.stack import LocalStack, local_stack
from stacks.settings import Settings

DEFAULT_CLIPS = 200
CONCURRENCY = 2


@dataclass(frozen=True)
class BurstReport:
    jobs: int
    succeeded: int
    lost: int  # no terminal state by the deadline
    double_processed: int  # endpoint invocations beyond one per job, or jobs sent twice
    messages_per_job: dict[str, int]
    jobs_per_minute: float
    p50_s: float
    p95_s: float
    peak_rss_mb: float
    # every message's dedup id, per job (a repeat of one message carries the same id)
    dedup_ids_per_job: dict[str, list[str]] = field(default_factory=dict)


def write_clips(folder: Path, count: int, frames: int = 3) -> list[Path]:
    """`count` distinct short H.264 clips (a box at a different place in each)."""
    clips = []
    for index in range(count):
        path = folder / f"clip-{index:04d}.mp4"
        with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
            stream = container.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
            for frame in range(frames):
                image = np.full((64, 96, 3), 40, np.uint8)
                x = (index * 7 + frame * 3) % 80
                image[16:48, x : x + 12] = (0, 200, 0)
                encoded = av.VideoFrame.from_ndarray(image, format="bgr24")
                for packet in stream.encode(encoded):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        clips.append(path)
    return clips


class _PeakRss:
    """Samples the summed RSS of a process tree every 0.5 s on a thread, or the RSS of
    the largest single process whose command line contains `mark` when one is given."""

    def __init__(self, pid: int, mark: str | None = None) -> None:
        self._root = psutil.Process(pid)
        self._mark = mark
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            sizes = []
            for proc in (self._root, *self._root.children(recursive=True)):
                try:
                    if self._mark is None or self._mark in " ".join(proc.cmdline()):
                        sizes.append(proc.memory_info().rss)
                except psutil.Error:
                    continue
            found = max(sizes, default=0) if self._mark else sum(sizes)
            self.peak = max(self.peak, found)


def _messages(
    stack: LocalStack, job_ids: set[str], dedup_ids: dict[str, list[str]] | None = None
) -> dict[str, int]:
    """Messages per job on the notifications queue until it stays empty (deleting them); each
    message's dedup id is appended to `dedup_ids` when given."""
    import json

    sqs = stack.client("sqs")
    url = stack.resources.notifications_queue_url
    seen = dict.fromkeys(job_ids, 0)
    idle = 0
    while idle < 3:
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = reply.get("Messages", [])
        idle = 0 if messages else idle + 1
        for message in messages:
            attributes = json.loads(message["Body"]).get("MessageAttributes", {})
            job_id = attributes.get("job_id", {}).get("Value")
            if job_id in seen:
                seen[job_id] += 1
                if dedup_ids is not None:
                    dedup = attributes.get("dedup_id", {}).get("Value", "?")
                    dedup_ids.setdefault(job_id, []).append(dedup)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return seen


def run_burst(stack: LocalStack, clips: list[Path], timeout_s: float) -> BurstReport:
    """Upload every clip at once, wait for all jobs, and count what was lost or doubled."""
    invocations_before = stack.emulator.completed + stack.emulator.failed
    started = time.monotonic()
    uploaded: dict[str, float] = {}
    prefix = f"{stack.settings.input_prefix}burst-{int(time.time())}/"
    with _PeakRss(stack.model_server.process.popen.pid) as rss:
        for clip in clips:
            _, job_id = stack.upload(clip, f"{prefix}{clip.name}")
            uploaded[job_id] = time.monotonic()
        finished_at: dict[str, float] = {}
        records = stack.wait_terminal(list(uploaded), timeout_s, finished_at, partial=True)
    elapsed = time.monotonic() - started
    dedup_ids: dict[str, list[str]] = {}
    latencies = sorted(finished_at[j] - uploaded[j] for j in finished_at)
    invocations = stack.emulator.completed + stack.emulator.failed - invocations_before
    resent = sum(1 for r in records.values() if int(r.get("invoke_requests", 1)) > 1)
    return BurstReport(
        jobs=len(uploaded),
        succeeded=sum(1 for r in records.values() if r.get("status") == "SUCCEEDED"),
        lost=len(uploaded) - len(records),
        double_processed=max(0, invocations - len(records)) + resent,
        messages_per_job=_messages(stack, set(uploaded), dedup_ids),
        jobs_per_minute=len(records) / elapsed * 60 if elapsed else 0.0,
        p50_s=statistics.median(latencies) if latencies else float("nan"),
        p95_s=latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan"),
        peak_rss_mb=rss.peak / 2**20,
        dedup_ids_per_job=dedup_ids,
    )


def main(argv: list[str] | None = None) -> None:
    args = argv or []
    count = int(args[0]) if args else DEFAULT_CLIPS
    settings = Settings.from_context({"max_concurrent_invocations_per_instance": CONCURRENCY})
    with tempfile.TemporaryDirectory(prefix="motflow-burst-") as folder:
        clips = write_clips(Path(folder), count)
        with local_stack(Path(folder) / "run", settings) as stack:
            report = run_burst(stack, clips, timeout_s=max(600.0, count * 10.0))
    doubled_messages = sum(1 for n in report.messages_per_job.values() if n != 1)
    print(f"clips: {report.jobs} (3 frames, 96x64 H.264), concurrency {CONCURRENCY}")
    print(f"succeeded: {report.succeeded}, lost: {report.lost}, "
          f"double-processed: {report.double_processed}, jobs not told exactly once: "
          f"{doubled_messages}")  # fmt: skip
    print(f"throughput: {report.jobs_per_minute:.1f} jobs/min")
    print(f"upload-to-terminal: p50 {report.p50_s:.1f} s, p95 {report.p95_s:.1f} s")
    print(f"peak RSS of the model server and its workers: {report.peak_rss_mb:.0f} MiB")


if __name__ == "__main__":
    main(sys.argv[1:])
