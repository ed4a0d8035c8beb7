"""A tracking job: where its video comes from, where its results go, and the run in between.

Every job, whether a manifest (video in S3, artifacts to an S3 prefix), a raw request body (tracks
in the reply) or the CLI (a local file, artifacts in a folder), is a `JobSource` plus a
`JobOutput`, and `run_job` treats them all alike.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from model_code.analytics.sink import AnalyticsSink
from model_code.analytics.spec import AnalyticsSpec
from model_code.detectors import Detector
from model_code.pipeline import TrackOptions, track_video
from model_code.pricing import job_cost
from model_code.progress import ProgressCallback, S3ProgressWriter, ThrottledProgress
from model_code.report import ReportSink
from model_code.results import (
    ARTIFACTS,
    OPTIONAL_ARTIFACTS,
    SUMMARY_JSON,
    TRACKS_JSONL,
    MotRows,
    Sink,
    SinkFactory,
    StreamFacts,
    file_sinks,
    write_summary,
)
from model_code.segment_results import join_segments
from model_code.storage import artifact_uri, download_to_file, upload_folder
from model_code.summary import build_summary

Summary = dict[str, Any]


@dataclass(frozen=True)
class SinkOptions:
    """What a job's sinks write besides the tracks: see `file_sinks`. The defaults are a long
    video's segment's, whose files only the stitch reads."""

    annotate: bool = False
    analytics: AnalyticsSpec | None = None
    track_frames: str = "sampled"
    preview: bool = False

    @classmethod
    def requested(cls, options: TrackOptions) -> SinkOptions:
        """What the job's options ask for."""
        return cls(
            annotate=options.annotate,
            analytics=options.analytics_spec(),
            track_frames=options.track_frames,
            preview=options.preview,
        )


class JobSource(Protocol):
    """Where a job's video comes from."""

    def fetch(self, folder: Path) -> Path:
        """The video as a local file; anything copied goes into `folder` (which exists)."""
        ...


class JobOutput(Protocol):
    """Where a job's results go."""

    def sinks(self, out_dir: Path, wanted: SinkOptions) -> SinkFactory:
        """The sinks `track_video` feeds (with an analytics sink for `wanted.analytics`); files
        go into `out_dir` (tracks.json with `wanted.track_frames` boxes per track; preview.mp4
        with `wanted.preview`)."""
        ...

    def publish(self, out_dir: Path, summary: Summary) -> Summary:
        """Deliver the results and return the reply: the summary with its `artifacts` filled in."""
        ...

    def progress(self, job_id: str | None) -> ProgressCallback | None:
        """Where the job reports its progress while it runs (None: nowhere)."""
        ...


@dataclass(frozen=True)
class Job:
    job_id: str | None
    source: JobSource
    output: JobOutput
    options: Mapping[str, Any] = field(default_factory=dict)
    attempt: int = 1  # the submitter's attempt number; the container claims each one once
    # A long video's time segment {index, start_s, end_s}: only those frames are tracked.
    segment: Mapping[str, Any] | None = None
    # A long video's parent job: the result prefixes of its segments, in time order, to join.
    stitch: tuple[str, ...] = ()


def local_name(key: str) -> str:
    """A safe local file name that keeps the object's base name, so errors name the upload."""
    base = re.sub(r"[^A-Za-z0-9._ -]", "_", key.rsplit("/", 1)[-1]).strip(" .")
    return base[-120:] or "video"


@dataclass(frozen=True)
class LocalVideo:
    """A video file already on this machine (the CLI)."""

    path: Path

    def fetch(self, folder: Path) -> Path:
        return Path(self.path)


@dataclass(frozen=True)
class RequestBody:
    """A video sent as the request body."""

    body: bytes = field(repr=False)
    suffix: str

    def fetch(self, folder: Path) -> Path:
        path = folder / f"request-body{self.suffix}"
        path.write_bytes(self.body)
        return path


@dataclass(frozen=True)
class S3Video:
    """A video in S3; `version` (an S3 version id or ETag) pins exactly the object uploaded."""

    uri: str
    version: str | None = None

    def fetch(self, folder: Path) -> Path:
        return download_to_file(self.uri, folder / local_name(self.uri), version=self.version)


class FolderOutput:
    """tracks.txt, tracks.jsonl, annotated.mp4 (optional) and summary.json in the out folder;
    the summary names them by local path."""

    def __init__(self, progress: ProgressCallback | None = None) -> None:
        self._written: set[str] = {SUMMARY_JSON}
        self._progress = progress

    def sinks(self, out_dir: Path, wanted: SinkOptions) -> SinkFactory:
        make = file_sinks(
            out_dir,
            wanted.annotate,
            wanted.analytics,
            track_frames=wanted.track_frames,
            preview=wanted.preview,
        )

        def open_sinks(stream: StreamFacts) -> list[Sink]:
            opened = make(stream)
            self._written.update(sink.path.name for sink in opened)
            return opened

        return open_sinks

    def progress(self, job_id: str | None) -> ProgressCallback | None:
        return self._progress

    def location(self, out_dir: Path, name: str) -> str:
        return str(out_dir / name)

    def publish(self, out_dir: Path, summary: Summary) -> Summary:
        artifacts = {
            key: self.location(out_dir, name) if name in self._written else None
            for key, name in ARTIFACTS.items()
        }
        artifacts.update(
            (key, self.location(out_dir, name))
            for key, name in OPTIONAL_ARTIFACTS.items()
            if name in self._written
        )
        published = {**summary, "artifacts": artifacts}
        write_summary(out_dir / SUMMARY_JSON, published)
        return published


class S3Output(FolderOutput):
    """The folder's files uploaded under an S3 prefix; the summary names their S3 URIs."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def location(self, out_dir: Path, name: str) -> str:
        return artifact_uri(self.prefix, name)

    def progress(self, job_id: str | None) -> ProgressCallback | None:
        return ThrottledProgress(S3ProgressWriter(self.prefix), job_id=job_id)

    def publish(self, out_dir: Path, summary: Summary) -> Summary:
        published = super().publish(out_dir, summary)
        upload_folder(out_dir, self.prefix)
        return published


class InlineOutput:
    """The MOT rows in the reply (`tracks`), no files: for a request body, which is short."""

    def __init__(self) -> None:
        self._rows = MotRows()

    def sinks(self, out_dir: Path, wanted: SinkOptions) -> SinkFactory:
        def open_sinks(stream: StreamFacts) -> list[Sink]:
            if wanted.analytics is None:
                return [self._rows]
            return [self._rows, AnalyticsSink(wanted.analytics, stream, None)]

        return open_sinks

    def publish(self, out_dir: Path, summary: Summary) -> Summary:
        return {**summary, "artifacts": dict.fromkeys(ARTIFACTS), "tracks": self._rows.rows}

    def progress(self, job_id: str | None) -> ProgressCallback | None:
        return None


def run_job(
    job: Job, options: TrackOptions, detector: Detector, work_dir: Path, out_dir: Path
) -> Summary:
    """Fetch the video into `work_dir`, track it into the job's sinks, then build the summary
    once and publish it with the results."""
    if job.stitch:
        return stitch_job(job, options, work_dir, out_dir)
    started = time.perf_counter()
    video = job.source.fetch(work_dir)
    download_s = time.perf_counter() - started
    # A segment's ids are not the user's: the stitch draws the annotated videos and computes
    # the analytics on the stitched ids instead (a crossing in an overlap counts once). Its
    # tracks.json is never read (the stitch joins tracks.jsonl): sampled is enough.
    wanted = SinkOptions() if job.segment else SinkOptions.requested(options)
    sinks, opened = _kept(job.output.sinks(out_dir, wanted))
    window = (job.segment["start_s"], job.segment["end_s"]) if job.segment else None
    progress = job.output.progress(job.job_id)
    run = track_video(video, sinks, options, detector, progress, window)
    if isinstance(progress, ThrottledProgress):
        progress.finish()
    summary = build_summary(run, job_id=job.job_id, download_s=download_s)
    if job.segment:
        summary["segment"] = dict(job.segment)
    _add_analytics(summary, opened)
    return job.output.publish(out_dir, summary)


def _kept(factory: SinkFactory) -> tuple[SinkFactory, list[Sink]]:
    """The factory, and the list that will hold the sinks it opens."""
    opened: list[Sink] = []

    def open_sinks(stream: StreamFacts) -> list[Sink]:
        sinks = list(factory(stream))
        opened.extend(sinks)
        return sinks

    return open_sinks, opened


def _add_analytics(summary: Summary, sinks: list[Sink]) -> None:
    """The analytics figures (if the job had a spec) into the summary, then report.html (for a
    job that writes files), which shows them."""
    for sink in sinks:
        if isinstance(sink, AnalyticsSink):
            summary["analytics"] = sink.figures()
    for sink in sinks:
        if isinstance(sink, ReportSink):
            sink.write_report(summary)


def stitch_job(job: Job, options: TrackOptions, work_dir: Path, out_dir: Path) -> Summary:
    """A long video's parent: fetch each segment's results, join them, publish as one run.
    With `annotate` or `preview`, the source is fetched and decoded once more to draw the
    stitched ids."""
    started = time.perf_counter()
    folders = []
    for index, prefix in enumerate(job.stitch):
        folder = work_dir / f"segment-{index:03d}"
        folder.mkdir(parents=True)
        for name in (TRACKS_JSONL, SUMMARY_JSON):
            download_to_file(artifact_uri(prefix, name), folder / name)
        folders.append(folder)
    video = job.source.fetch(work_dir) if options.annotate or options.preview else None
    sinks, opened = _kept(job.output.sinks(out_dir, SinkOptions.requested(options)))
    facts = join_segments(folders, sinks, video)
    facts["timings"]["stitch_s"] = round(time.perf_counter() - started, 3)
    summary = {"job_id": job.job_id, **facts, "artifacts": {}}
    summary["cost"] = job_cost(facts["timings"].get("total_s", 0.0))
    _add_analytics(summary, opened)
    return job.output.publish(out_dir, summary)
