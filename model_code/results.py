"""Result sinks: MOT txt, JSONL, the per-track index (tracks.json), the optional annotated H.264
video, in-memory MOT rows; and the summary file.

`track_video` feeds every sink each processed frame in frame order (`write(frame, image, tracks)`)
and closes them at the end. File sinks stream: rows go to disk as frames arrive, nothing
accumulates per frame. Boxes arrive as xyxy in source pixels and are written as `x, y, w, h`,
rounded as `model_code.boxes` says (the same in tracks.txt, tracks.jsonl and inline replies).
"""

from __future__ import annotations

import colorsys
import json
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

import numpy as np

from model_code.boxes import (
    BOX_DECIMALS,
    SCORE_DECIMALS,
    mot_records,
    mot_rows,
    normalized_xywh,
    xyxy_to_xywh,
)
from model_code.closing import Closing
from model_code.spill import SortedSpill

if TYPE_CHECKING:
    from model_code.analytics.spec import AnalyticsSpec

TRACKS_MOT = "tracks.txt"
TRACKS_JSONL = "tracks.jsonl"
TRACKS_JSON = "tracks.json"
SUMMARY_JSON = "summary.json"
ANNOTATED_MP4 = "annotated.mp4"
PREVIEW_MP4 = "preview.mp4"
ANALYTICS_JSON = "analytics.json"
REPORT_HTML = "report.html"
# The summary's `artifacts` keys and the file each names.
ARTIFACTS: dict[str, str] = {
    "tracks_mot": TRACKS_MOT,
    "tracks_jsonl": TRACKS_JSONL,
    "tracks_json": TRACKS_JSON,
    "annotated": ANNOTATED_MP4,
    "summary": SUMMARY_JSON,
}
# Artifacts a summary names only when the job wrote them (analytics: a job with an analytics
# spec; report: every job that writes files, not an inline reply; preview: a job with `preview`).
OPTIONAL_ARTIFACTS: dict[str, str] = {
    "analytics": ANALYTICS_JSON,
    "report": REPORT_HTML,
    "preview": PREVIEW_MP4,
}


class FrameTracks(Protocol):
    """The tracks reported for one frame: ids (M,), xyxy boxes (M, 4), scores, labels."""

    ids: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray


class Sink(Protocol):
    """Where tracked frames go: `write` once per processed frame in order, then `close`."""

    def write(self, frame: int, image: np.ndarray, tracks: FrameTracks) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class StreamFacts:
    """What sinks may need before the first frame arrives."""

    fps: float
    width: int
    height: int
    processed_fps: float
    class_names: Sequence[str]
    # Seconds of a frame from the first one (its presentation timestamp); None: (n - 1) / fps.
    time_of: Callable[[int], float] | None = None
    source: Path | None = None  # the video file, for sinks that copy from it (audio)


SinkFactory = Callable[[StreamFacts], Sequence[Sink]]


def label_name(class_names: Sequence[str] | Mapping[int, str] | None, label: int) -> str:
    """The class name for a COCO id, or the id as text when the detector has no name for it."""
    if class_names is not None:
        try:
            return str(class_names[label])
        except (IndexError, KeyError, TypeError):
            pass
    return str(label)


class _TextWriter(Closing):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._handle: IO[str] | None = self.path.open("w", encoding="utf-8", newline="\n")

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _write(self, text: str) -> None:
        if self._handle is None:
            raise ValueError(f"{self.path.name} is already closed")
        self._handle.write(text)


class MotWriter(_TextWriter):
    """`frame,id,x,y,w,h,score,-1,-1,-1` rows in a file."""

    def write(self, frame: int, image: np.ndarray, tracks: FrameTracks) -> None:
        self._write(mot_rows(frame, tracks.ids, tracks.boxes, tracks.scores))


class MotRows(Closing):
    """MOT rows `[frame, id, x, y, w, h, score]` kept in memory, for replies that carry them.

    Only for short inputs (a request body): the rows grow with the video.
    """

    def __init__(self) -> None:
        self.rows: list[list[float]] = []

    def write(self, frame: int, image: np.ndarray, tracks: FrameTracks) -> None:
        self.rows.extend(mot_records(frame, tracks.ids, tracks.boxes, tracks.scores))

    def close(self) -> None:
        pass


def time_ms(seconds: float) -> int:
    """Milliseconds from the start of the video, as whole numbers (the migration formats')."""
    return int(round(seconds * 1000.0))


class _FrameSize:
    """The frame size for normalized boxes; (0, 0): unknown, no `box_norm` is written."""

    def __init__(self, frame_size: tuple[int, int] | None) -> None:
        width, height = frame_size or (0, 0)
        self.frame_size = (width, height) if width > 0 and height > 0 else None

    def normalized(self, box: Sequence[float]) -> dict[str, list[float]]:
        if self.frame_size is None:
            return {}
        return {"box_norm": normalized_xywh(box, *self.frame_size)}


class JsonlWriter(_TextWriter, _FrameSize):
    """One JSON object per processed frame: `{"frame", "t", "t_ms", "objects": [...]}`; each
    object's `box` is in pixels and (given the frame size) `box_norm` in fractions of it."""

    def __init__(
        self,
        path: str | Path,
        fps: float,
        class_names: Sequence[str] | Mapping[int, str] | None = None,
        time_of: Callable[[int], float] | None = None,
        frame_size: tuple[int, int] | None = None,
    ) -> None:
        _TextWriter.__init__(self, path)
        _FrameSize.__init__(self, frame_size)
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.fps = fps
        self.class_names = class_names
        self.time_of = time_of or (lambda frame: (frame - 1) / self.fps)

    def write(self, frame: int, image: np.ndarray, tracks: FrameTracks) -> None:
        objects = [
            {
                "id": int(track_id),
                "box": [round(float(v), BOX_DECIMALS) for v in box],
                **self.normalized(box),
                "score": round(float(score), SCORE_DECIMALS),
                "label": label_name(self.class_names, int(label)),
            }
            for track_id, box, score, label in zip(
                tracks.ids, xyxy_to_xywh(tracks.boxes), tracks.scores, tracks.labels, strict=True
            )
        ]
        seconds = self.time_of(frame)
        record = {
            "frame": frame,
            "t": round(seconds, 3),
            "t_ms": time_ms(seconds),
            "objects": objects,
        }
        self._write(json.dumps(record, separators=(",", ":")) + "\n")


# tracks.json `boxes` per track: at most `max_samples` spread along it, or every processed frame.
TRACK_FRAMES = ("sampled", "all")


@dataclass
class _TrackEntry:
    first_frame: int
    last_frame: int = 0
    score_sum: float = 0.0
    observations: int = 0
    step: int = 1
    labels: dict[str, int] | None = None
    samples: list[dict[str, Any]] | None = None


class TrackIndexWriter(Closing, _FrameSize):
    """tracks.json: one entry per track (id, label, first/last frame and time, in seconds and
    milliseconds, duration, mean score, boxes along its path, in pixels and, given the frame size,
    normalized), written on close.

    With `track_frames="sampled"` each track keeps at most `max_samples` boxes, thinned to every
    other one (and the sampling step doubled) whenever it fills up: memory grows with the number
    of tracks, not frames. With `"all"` every observation (with its score) goes to a sorted spill
    file (`model_code.spill`) and is streamed into the file, track by track, on close; the
    document then says ``"track_frames": "all"``.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        class_names: Sequence[str] | Mapping[int, str] | None = None,
        max_samples: int = 32,
        time_of: Callable[[int], float] | None = None,
        frame_size: tuple[int, int] | None = None,
        track_frames: str = "sampled",
    ) -> None:
        _FrameSize.__init__(self, frame_size)
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if max_samples < 2:
            raise ValueError(f"max_samples must be at least 2, got {max_samples}")
        if track_frames not in TRACK_FRAMES:
            raise ValueError(f"track_frames must be one of {TRACK_FRAMES}, got {track_frames!r}")
        self.path = Path(path)
        self.fps = fps
        self.class_names = class_names
        self.max_samples = max_samples
        # Seconds of a source frame from the first one; the default assumes a constant rate.
        self.time_of = time_of or (lambda frame: (frame - 1) / self.fps)
        self._tracks: dict[int, _TrackEntry] = {}
        self._spill = SortedSpill(self.path.parent) if track_frames == "all" else None
        self._closed = False

    def _box(self, frame: int, box: Sequence[float]) -> dict[str, Any]:
        seconds = self.time_of(frame)
        return {
            "frame": frame,
            "t": round(seconds, 3),
            "t_ms": time_ms(seconds),
            "box": [round(float(v), 2) for v in box],
            **self.normalized(box),
        }

    def write(self, frame: int, image: np.ndarray, tracks: FrameTracks) -> None:
        for track_id, box, score, label in zip(
            tracks.ids, xyxy_to_xywh(tracks.boxes), tracks.scores, tracks.labels, strict=True
        ):
            entry = self._tracks.setdefault(
                int(track_id), _TrackEntry(first_frame=frame, labels={}, samples=[])
            )
            assert entry.labels is not None and entry.samples is not None
            name = label_name(self.class_names, int(label))
            entry.labels[name] = entry.labels.get(name, 0) + 1
            if self._spill is not None:
                record = {**self._box(frame, box), "score": round(float(score), SCORE_DECIMALS)}
                self._spill.add(int(track_id), frame, json.dumps(record, separators=(",", ":")))
            elif entry.observations % entry.step == 0:
                if len(entry.samples) >= self.max_samples:
                    entry.samples = entry.samples[::2]
                    entry.step *= 2
                entry.samples.append(self._box(frame, box))
            entry.last_frame = frame
            entry.score_sum += float(score)
            entry.observations += 1

    def _fields(self, track_id: int, entry: _TrackEntry) -> dict[str, Any]:
        """A track's entry without its `boxes`."""
        assert entry.labels is not None
        first_s, last_s = self.time_of(entry.first_frame), self.time_of(entry.last_frame)
        first_t, last_t = round(first_s, 3), round(last_s, 3)
        return {
            "id": track_id,
            "label": max(entry.labels.items(), key=lambda item: (item[1], item[0]))[0],
            "first_frame": entry.first_frame,
            "last_frame": entry.last_frame,
            "first_t": first_t,
            "last_t": last_t,
            "first_ms": time_ms(first_s),
            "last_ms": time_ms(last_s),
            "duration_s": round(last_t - first_t, 3),
            "observations": entry.observations,
            "mean_score": round(entry.score_sum / entry.observations, 4),
        }

    def entries(self) -> list[dict[str, Any]]:
        """The sampled entries (`track_frames="sampled"`; "all" streams them on close)."""
        if self._spill is not None:
            raise ValueError('entries() holds sampled boxes only; "all" is written on close')
        return [
            {**self._fields(track_id, entry), "boxes": entry.samples}
            for track_id, entry in sorted(self._tracks.items())
        ]

    def _write_every_frame(self, spill: SortedSpill) -> None:
        with self.path.open("w", encoding="utf-8", newline="\n") as out:
            out.write(f'{{"fps":{json.dumps(round(self.fps, 6))},"track_frames":"all","tracks":[')
            current = None
            for track_id, _, text in spill.merged():
                if track_id != current:
                    if current is not None:
                        out.write("]},")
                    head = json.dumps(self._fields(track_id, self._tracks[track_id]), **_COMPACT)
                    out.write(head[:-1] + ',"boxes":[')
                    current = track_id
                else:
                    out.write(",")
                out.write(text)
            out.write("]}]}\n" if current is not None else "]}\n")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._spill is not None:
            try:
                self._write_every_frame(self._spill)
            finally:
                self._spill.close()
            return
        document = {"fps": round(self.fps, 6), "tracks": self.entries()}
        self.path.write_text(json.dumps(document, **_COMPACT) + "\n", encoding="utf-8")


_COMPACT: dict[str, Any] = {"separators": (",", ":")}


def write_summary(path: str | Path, summary: Mapping[str, Any]) -> Path:
    path = Path(path)
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return path


def id_colour(track_id: int) -> tuple[int, int, int]:
    """A stable, well-spread BGR colour for a track id (golden-ratio hue steps)."""
    hue = (track_id * 0.618033988749895) % 1.0
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return int(blue * 255), int(green * 255), int(red * 255)


TRAIL_POINTS = 12  # processed frames of a track's path drawn behind it in annotated.mp4


def draw_tracks(
    image: np.ndarray,
    ids: np.ndarray,
    boxes_xyxy: np.ndarray,
    tags: Sequence[str] | None = None,
    trails: Mapping[int, Sequence[tuple[int, int]]] | None = None,
) -> np.ndarray:
    """Boxes and tags (by default the id; the annotated video's say `id class score`) drawn in
    place on a BGR image, each track's trail (its recent bottom-centre points) behind it."""
    import cv2

    boxes = np.asarray(boxes_xyxy).reshape(-1, 4)
    for index, (track_id, box) in enumerate(zip(ids, boxes, strict=True)):
        colour = id_colour(int(track_id))
        points = (trails or {}).get(int(track_id)) or ()
        if len(points) > 1:
            cv2.polylines(
                image, [np.array(points, np.int32).reshape(-1, 1, 2)], False, colour, 2, cv2.LINE_AA
            )
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, 2)
        tag = tags[index] if tags is not None else str(int(track_id))
        (tw, th), baseline = cv2.getTextSize(tag, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        top = max(y1 - th - baseline - 2, 0)
        cv2.rectangle(image, (x1, top), (x1 + tw + 4, top + th + baseline + 2), colour, -1)
        cv2.putText(
            image,
            tag,
            (x1 + 2, top + th + 1),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    return image


# Audio codecs an mp4 holds as they are; others are left out (the video is what matters).
MP4_AUDIO_CODECS = frozenset({"aac", "mp3", "ac3", "eac3", "alac"})


class AnnotatedVideoWriter(Closing):
    """H.264 (libx264, yuv420p) mp4 of the processed frames with boxes drawn, each tagged
    `id class score` and trailed by its last `TRAIL_POINTS` bottom-centre points, at the
    processed frame rate (the source's, divided by the stride; fractional rates kept exactly up
    to a denominator of 1001), with the source's first audio stream copied when mp4 can hold it.

    yuv420p needs even dimensions of at least 2, so an odd or 1-pixel side is padded with black
    (a 641x359 or 1x64 video is annotated too; no source pixel is dropped).
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: float,
        audio_from: str | Path | None = None,
        class_names: Sequence[str] | Mapping[int, str] | None = None,
        crf: int = 23,
    ) -> None:
        import av

        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.path = Path(path)
        if width < 1 or height < 1:
            raise ValueError(f"frame size {width}x{height} has no pixels")
        self.width, self.height = max(2, width + width % 2), max(2, height + height % 2)
        self.frames = 0
        self.class_names = class_names
        # Recent points per track; a track unseen for TRAIL_POINTS frames is forgotten.
        self._trails: dict[int, deque[tuple[int, int]]] = {}
        self._seen: dict[int, int] = {}
        rate = Fraction(fps).limit_denominator(1001)
        self._container = av.open(str(self.path), "w")
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.width, self._stream.height = self.width, self.height
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"preset": "veryfast", "crf": str(crf)}
        self._av = av
        self._audio_source, self._audio = self._audio_stream(audio_from)

    def _audio_stream(self, source: str | Path | None) -> tuple[Any, Any]:
        """(the opened source, the output audio stream), or (None, None) without usable audio."""
        if source is None:
            return None, None
        try:
            reader = self._av.open(str(source))
        except (OSError, ValueError, self._av.FFmpegError):
            return None, None
        audio = next(iter(reader.streams.audio), None)
        if audio is None or audio.codec_context.name not in MP4_AUDIO_CODECS:
            reader.close()
            return None, None
        return reader, self._container.add_stream_from_template(audio)

    def _copy_audio(self) -> None:
        reader, self._audio_source = self._audio_source, None
        try:
            source = reader.streams.audio[0]
            for packet in reader.demux(source):
                if packet.dts is None:
                    continue
                packet.stream = self._audio
                self._container.mux(packet)
        finally:
            reader.close()

    def write(self, frame: int, image: np.ndarray, tracks: FrameTracks) -> None:
        """Encode one frame; the boxes may be drawn onto `image` itself."""
        canvas = np.zeros((self.height, self.width, 3), np.uint8)
        canvas[: image.shape[0], : image.shape[1]] = image[: self.height, : self.width]
        boxes = np.asarray(tracks.boxes).reshape(-1, 4)
        for track_id, box in zip(tracks.ids, boxes, strict=True):
            trail = self._trails.setdefault(int(track_id), deque(maxlen=TRAIL_POINTS))
            trail.append((int(round((box[0] + box[2]) / 2)), int(round(box[3]))))
            self._seen[int(track_id)] = self.frames
        for track_id in [t for t, last in self._seen.items() if self.frames - last > TRAIL_POINTS]:
            del self._trails[track_id], self._seen[track_id]
        tags = [
            f"{int(i)} {label_name(self.class_names, int(label))} {float(score):.2f}"
            for i, label, score in zip(tracks.ids, tracks.labels, tracks.scores, strict=True)
        ]
        draw_tracks(canvas, tracks.ids, boxes, tags, self._trails)
        frame = self._av.VideoFrame.from_ndarray(canvas, format="bgr24")
        frame.pts = self.frames
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        if self._container is None:
            return
        for packet in self._stream.encode():
            self._container.mux(packet)
        if self._audio_source is not None:
            self._copy_audio()
        self._container.close()
        self._container = None


def file_sinks(
    out_dir: Path,
    annotate: bool,
    analytics: AnalyticsSpec | None = None,
    *,
    track_frames: str = "sampled",
    preview: bool = False,
) -> SinkFactory:
    """Sinks writing tracks.txt, tracks.jsonl, tracks.json (with `track_frames` boxes per
    track), (with `annotate`) annotated.mp4, (with `preview`) preview.mp4, (with an `analytics`
    spec) analytics.json and, once the summary exists, report.html in `out_dir` (see
    `model_code.report`)."""

    def open_sinks(stream: StreamFacts) -> list[Sink]:
        from model_code.preview import PreviewVideoWriter
        from model_code.report import ReportSink

        out_dir.mkdir(parents=True, exist_ok=True)
        sinks: list[Sink] = [
            MotWriter(out_dir / TRACKS_MOT),
            JsonlWriter(
                out_dir / TRACKS_JSONL,
                stream.fps,
                stream.class_names,
                stream.time_of,
                frame_size=(stream.width, stream.height),
            ),
            TrackIndexWriter(
                out_dir / TRACKS_JSON,
                stream.fps,
                stream.class_names,
                time_of=stream.time_of,
                frame_size=(stream.width, stream.height),
                track_frames=track_frames,
            ),
        ]
        if annotate:
            sinks.append(
                AnnotatedVideoWriter(
                    out_dir / ANNOTATED_MP4,
                    stream.width,
                    stream.height,
                    stream.processed_fps,
                    audio_from=stream.source,
                    class_names=stream.class_names,
                )
            )
        if preview:
            sinks.append(
                PreviewVideoWriter(
                    out_dir / PREVIEW_MP4,
                    stream.width,
                    stream.height,
                    stream.processed_fps,
                    audio_from=stream.source,
                    class_names=stream.class_names,
                )
            )
        if analytics is not None:
            from model_code.analytics.sink import AnalyticsSink

            sinks.append(AnalyticsSink(analytics, stream, out_dir / ANALYTICS_JSON))
        sinks.append(ReportSink(out_dir / REPORT_HTML, stream, annotated=annotate, preview=preview))
        return sinks

    return open_sinks
