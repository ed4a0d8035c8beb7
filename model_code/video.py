"""Streamed, strided video decoding with PyAV, and the facts a summary reports about a video.

Every frame is decoded (decoding is cheap next to detection), on FFmpeg's frame threads where
the codec has them (`DEFAULT_THREAD_TYPE`; single-slice H.264 gets no parallelism otherwise);
only the frames the stride keeps are converted to BGR arrays. Memory does not depend on the
video's length: a few frames are held at a time (about one per decoder thread), and the
presentation times of recent frames.

`skip_nonref=True` (opt-in, for stride > 1) also leaves undecoded every non-reference frame that
the stride does not keep. The kept frames are the same; frame numbers then come from
presentation times (a constant frame rate is assumed), not from counting decoded frames, so a
variable-frame-rate or damaged file may be numbered differently: that is why it is not the
default (docs/BENCHMARKS.md, "Decode speed").

Rules (the output contract in docs/ARCHITECTURE.md states them for users):

- **Frame numbers** are 1-based and count the frames in decode order, damaged ones included, so a
  skipped frame does not shift the numbers of the frames after it.
- **Times** are each frame's presentation timestamp, from the first frame (variable frame rate
  safe); a frame without one falls back to ``(n - 1) / fps``.
- **Orientation**: frames are turned as the container's display matrix says (the orientation a
  player shows), so boxes refer to the displayed picture, and width/height are displayed ones.
- **Unusable input** raises `VideoError` with a message naming the problem: no such file, empty,
  not a video container, no video track, a video track without frames, nothing decodable.
- **Partial decode**: damaged packets are skipped, up to `MAX_CONSECUTIVE_BAD` in a row, and
  counted (`frames_skipped`); decoding that ends well before the frame count in the header is
  truncation (`truncated`). Either way the result covers what decoded and `warnings` says so;
  the job succeeds with those warnings in its record and notification.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import av
import av.error
import numpy as np

from model_code.closing import Closing

FALLBACK_FPS = 30.0
MAX_PLAUSIBLE_FPS = 1000.0
# Decoding that ends before this share of the header's frame count counts as truncation.
TRUNCATION_RATIO = 0.9
# Every truncation warning says this (a long video's parent keeps one of its segments' ones).
TRUNCATION_MARK = "probably truncated"
# Damaged packets skipped in a row before the rest of the file is given up on.
MAX_CONSECUTIVE_BAD = 250
# Presentation times kept for frames not yet written (the decode thread runs ahead).
_TIMES_KEPT = 8192
# Container formats the service accepts (FFmpeg demuxer names).
_VIDEO_FORMATS = frozenset({"mov", "mp4", "matroska", "webm", "avi"})
# Decoder names that differ from the codec they decode.
_DECODER_CODECS = {"libdav1d": "av1", "libaom-av1": "av1", "libvpx-vp9": "vp9", "libvpx": "vp8"}
_FORMAT_NAMES = {"png_pipe": "a PNG image", "jpeg_pipe": "a JPEG image", "gif": "a GIF image"}
# FFmpeg threading for the decoder: "AUTO" is frame threads where the codec has them (H.264,
# HEVC: several frames at once), else slice threads; measured in
# docs/BENCHMARKS.md, "Decode speed". "SLICE" was PyAV's default; "NONE" is one thread.
DEFAULT_THREAD_TYPE = "AUTO"
THREAD_TYPES = ("NONE", "SLICE", "FRAME", "AUTO")

_CODEC_NAMES = {
    "avc1": "h264",
    "avc3": "h264",
    "h264": "h264",
    "x264": "h264",
    "hev1": "hevc",
    "hvc1": "hevc",
    "hevc": "hevc",
    "h265": "hevc",
    "mp4v": "mpeg4",
    "fmp4": "mpeg4",
    "xvid": "mpeg4",
    "divx": "mpeg4",
    "dx50": "mpeg4",
    "mp43": "msmpeg4v3",
    "div3": "msmpeg4v3",
    "mjpg": "mjpeg",
    "vp80": "vp8",
    "vp90": "vp9",
    "av01": "av1",
}


class VideoError(ValueError):
    """A video that cannot be used; the message is written for the person who uploaded it."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container header (and the first decoded frame) say about a video."""

    codec: str
    fps: float
    frame_count: int
    width: int
    height: int
    duration_s: float

    def to_dict(self) -> dict:
        """The summary's `video` block."""
        return {
            "codec": self.codec,
            "fps": round(self.fps, 3),
            "frames": self.frame_count,
            "width": self.width,
            "height": self.height,
            "duration_s": round(self.duration_s, 3),
        }


def codec_name(fourcc: int) -> str:
    """A readable codec name from OpenCV's FOURCC integer (`h264`, `mpeg4`, ...)."""
    if fourcc <= 0:
        return "unknown"
    raw = "".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4))
    tag = raw.strip("\x00 ").lower()
    if not tag or not tag.isprintable():
        return "unknown"
    return _CODEC_NAMES.get(tag, tag)


@dataclass(frozen=True)
class _HeaderFacts:
    """The picture facts `_open` reads from a first frame, from the stream's header instead."""

    width: int
    height: int
    rotation: int = 0


MAX_TOP_LEVEL_BOXES = 1_000_000  # a fragmented MP4 has two per fragment


def _mp4_cut(path: Path) -> tuple[str, int] | None:
    """(box type, bytes missing) when an MP4's last top-level box runs past the end of the file:
    the file was cut (a fragmented MP4 has no frame count to compare against)."""
    size = path.stat().st_size
    at = 0
    with path.open("rb") as handle:
        for _ in range(MAX_TOP_LEVEL_BOXES):
            if at + 8 > size:
                return None
            handle.seek(at)
            head = handle.read(16)
            box_size = int.from_bytes(head[:4], "big")
            if box_size == 1 and len(head) == 16:
                box_size = int.from_bytes(head[8:16], "big")
            elif box_size == 0:
                return None  # "to the end of the file"
            if box_size < 8:
                return None
            if at + box_size > size:
                return head[4:8].decode("latin-1"), at + box_size - size
            at += box_size
    return None


def _container_kind(path: Path) -> str | None:
    """ "an MP4", "a Matroska/WebM file" or "an AVI" from the first bytes, else None."""
    with path.open("rb") as handle:
        head = handle.read(12)
    if len(head) >= 8 and head[4:8] == b"ftyp":
        return "an MP4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "a Matroska/WebM file"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "an AVI"
    return None


class VideoReader(Closing):
    """`with VideoReader(path, stride=3) as video:` then `for frame_number, bgr in video:`.

    Frame numbers are 1-based source frame numbers: stride 3 yields frames 1, 4, 7, ...
    After iteration, `info` holds what was decoded (frame count, duration from timestamps).
    `window=(start_s, end_s)` reads only the frames presented in [start_s, end_s) of the source
    (a segment of a long video): a keyframe seek, then decoding up to the exact first frame; the
    frame numbers and times stay those of the whole source.
    `thread_type` is FFmpeg's decoder threading (`THREAD_TYPES`); `skip_nonref` leaves the
    non-reference frames the stride drops undecoded (see the module notes; opt-in).
    """

    def __init__(
        self,
        path: str | Path,
        stride: int = 1,
        window: tuple[float, float] | None = None,
        *,
        thread_type: str = DEFAULT_THREAD_TYPE,
        skip_nonref: bool = False,
    ) -> None:
        if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
            raise ValueError(f"stride must be a whole number >= 1, got {stride!r}")
        if thread_type.upper() not in THREAD_TYPES:
            raise ValueError(f"thread_type must be one of {THREAD_TYPES}, got {thread_type!r}")
        self.thread_type = thread_type.upper()
        # Numbering by presentation time, so skipping changes no frame's number.
        self.skip_nonref = bool(skip_nonref) and stride > 1
        if window is not None and not 0 <= window[0] < window[1]:
            raise ValueError(f"window must be (start_s, end_s) with 0 <= start < end, got {window}")
        self.path = Path(path)
        self.stride = stride
        self.window = window
        self.warnings: list[str] = []
        self.frames_read = 0  # frames decoded or skipped as damaged: the last frame number
        self.frames_decoded = 0
        self.frames_skipped = 0
        self.truncated = False
        self._header_frames = 0
        self._times: OrderedDict[int, float] = OrderedDict()
        self._container: av.container.InputContainer | None = None
        self._frames: Iterator[av.VideoFrame | None] | None = None
        self._first: av.VideoFrame | None = None
        self._first_pts: float | None = None
        self._last_pts: float | None = None
        self._rotation = 0
        self._stream_start = 0.0
        self._window_fps = FALLBACK_FPS
        self._last_packet_number = 0
        # A window run: the last source frame the file had (inside the window or before it),
        # whether the file ended before the window did, and a frame from before the window
        # (the facts of a window the file ends before; nothing in the window is tracked then).
        self._window_last_number = 0
        self._window_cut = False
        self._before_window: av.VideoFrame | None = None
        self._empty_window = False
        self.info = self._open()

    def _open(self) -> VideoInfo:
        name = self.path.name
        if not self.path.exists():
            raise VideoError(f"video file not found: {self.path}")
        if not self.path.is_file():
            raise VideoError(f"not a file: {self.path}")
        if self.path.stat().st_size == 0:
            raise VideoError(f"the video file '{name}' is empty (0 bytes)")
        try:
            container = av.open(str(self.path))
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError):
            kind = _container_kind(self.path)
            if kind:
                raise VideoError(
                    f"'{name}' starts like {kind} but cannot be opened: the file is probably "
                    "truncated (for example an incomplete upload) or damaged"
                ) from None
            raise VideoError(
                f"'{name}' is not a video this service can read (unknown or damaged format)"
            ) from None
        self._container = container
        formats = set(container.format.name.split(","))
        if not formats & _VIDEO_FORMATS:
            what = _FORMAT_NAMES.get(container.format.name, f"'{container.format.name}' data")
            self.close()
            raise VideoError(
                f"'{name}' is {what}, not a video (accepted: MP4/MOV, Matroska/WebM, AVI)"
            )
        if not container.streams.video:
            kinds = sorted({stream.type for stream in container.streams})
            self.close()
            holds = f"only {' and '.join(kinds)}" if kinds else "no audio or video at all"
            raise VideoError(f"'{name}' has no video track (it holds {holds})")
        stream = container.streams.video[0]
        stream.thread_type = self.thread_type
        self._header_frames = max(int(stream.frames or 0), 0)
        self._time_base = stream.time_base
        fps = float(stream.average_rate or stream.guessed_rate or 0.0)
        usable_fps = math.isfinite(fps) and 0.0 < fps <= MAX_PLAUSIBLE_FPS
        if self.skip_nonref:
            self._stream_start = (
                float(stream.start_time * stream.time_base) if stream.start_time else 0.0
            )
            self._first_pts = self._stream_start
            self._window_fps = fps if usable_fps else FALLBACK_FPS
        self._frames = self._decode(container, stream)
        if self.window is not None:
            self._frames = self._within(
                self._frames, container, stream, fps if usable_fps else FALLBACK_FPS
            )
        first = next(self._frames, None)
        if first is None and self._window_cut and self._window_last_number > 0:
            # The file ends before this window starts (a truncated long video's last segment):
            # nothing to track, which is not a failure; `_finish` says where the video ended.
            # Its facts come from a frame before the window, else from the stream's header.
            first = self._before_window or _HeaderFacts(
                stream.codec_context.width, stream.codec_context.height
            )
            self._empty_window = True
        if first is None:
            self.close()
            if self._header_frames == 0 and self.frames_skipped == 0:
                raise VideoError(f"'{name}' has a video track with no frames")
            raise VideoError(f"'{name}' contains no decodable video frames")
        self._first = first
        self._rotation = int(round(getattr(first, "rotation", 0) or 0)) % 360
        if not usable_fps:
            self.warnings.append(
                f"the video reports an unusable frame rate ({fps:g} fps); "
                f"timestamps assume {FALLBACK_FPS:g} fps"
            )
            fps = FALLBACK_FPS
        width, height = int(first.width), int(first.height)
        if self._rotation in (90, 270):
            width, height = height, width
        duration = 0.0
        if container.duration:
            duration = container.duration / av.time_base
        elif self._header_frames:
            duration = self._header_frames / fps
        return VideoInfo(
            codec=_DECODER_CODECS.get(stream.codec_context.name, stream.codec_context.name)
            or "unknown",
            fps=fps,
            frame_count=self._header_frames,
            width=width,
            height=height,
            duration_s=duration,
        )

    def _decode(
        self, container: av.container.InputContainer, stream: av.VideoStream
    ) -> Iterator[av.VideoFrame]:
        """Frames in presentation order; damaged packets are counted and skipped (bounded)."""
        bad_in_a_row = 0
        packets = container.demux(stream)
        codec = stream.codec_context
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.error.FFmpegError:  # the container itself is damaged from here on
                self.frames_skipped += 1
                return
            if self.skip_nonref:
                # Set per packet (frame threads copy it at submission): a frame the stride keeps
                # is always decoded; any other is skipped when nothing refers to it.
                codec.skip_frame = "DEFAULT" if self._kept_packet(packet) else "NONREF"
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                self.frames_skipped += 1
                bad_in_a_row += 1
                if bad_in_a_row > MAX_CONSECUTIVE_BAD:
                    self.warnings.append(
                        f"decoding gave up after {MAX_CONSECUTIVE_BAD} damaged frames in a row"
                    )
                    return
                continue
            for frame in frames:
                bad_in_a_row = 0
                yield frame

    def _within(
        self,
        frames: Iterator[av.VideoFrame],
        container: av.container.InputContainer,
        stream: av.VideoStream,
        fps: float,
    ) -> Iterator[av.VideoFrame]:
        """The frames of the window: seek to the keyframe at or before its start, decode and
        drop the frames before it, stop at its end. Times count from the stream's start."""
        assert self.window is not None
        start_s, end_s = self.window
        self._stream_start = (
            float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        )
        self._first_pts = self._stream_start
        first_number, end_number = round(start_s * fps) + 1, round(end_s * fps) + 1
        self._window_fps = fps
        if start_s > 0:
            target = int((start_s + self._stream_start) / stream.time_base)
            container.seek(target, stream=stream, backward=True, any_frame=False)
        for frame in frames:
            if frame.pts is None:
                continue
            number = self._number_of(frame)
            if number >= end_number:
                return
            self._window_last_number = max(self._window_last_number, number)
            if number < first_number:
                self._before_window = frame
                continue
            self._before_window = None  # its image is not needed once the window has frames
            yield frame
        self._window_cut = True  # the file ended before the window did
        if self._window_last_number == 0:
            # The seek landed past the file's end (a truncated file's index still lists the
            # rest): find where it ends from its packets alone, without decoding them.
            self._window_last_number = self._last_packet_number_from_start(container, stream)

    def _last_packet_number_from_start(
        self, container: av.container.InputContainer, stream: av.VideoStream
    ) -> int:
        last = 0
        try:
            container.seek(0, stream=stream, backward=True, any_frame=False)
            for packet in container.demux(stream):
                if packet.pts is not None:
                    last = max(last, self._number_of(packet))
        except av.error.FFmpegError:
            pass  # the damaged end: what was read so far is where the file ends
        return last

    def _number_of(self, frame: av.VideoFrame | av.Packet) -> int:
        """The source frame number of a frame, from its presentation time (constant rate)."""
        seconds = float(frame.pts * self._time_base) - self._stream_start
        return round(seconds * self._window_fps) + 1

    def _kept_packet(self, packet: av.Packet) -> bool:
        """Whether the frame in `packet` is one the stride keeps (True when it cannot tell)."""
        if packet.pts is None:
            return True
        number = self._number_of(packet)
        self._last_packet_number = max(self._last_packet_number, number)
        return (number - 1) % self.stride == 0

    @property
    def _numbered_by_time(self) -> bool:
        return self.window is not None or self.skip_nonref

    def time_of(self, frame_number: int) -> float:
        """Seconds from the first frame to `frame_number` (its presentation timestamp)."""
        found = self._times.get(frame_number)
        if found is not None:
            return found
        return (frame_number - 1) / self.info.fps

    def _note_time(self, number: int, frame: av.VideoFrame) -> None:
        seconds = float(frame.pts * self._time_base) if frame.pts is not None else None
        if seconds is None:
            return
        if self._first_pts is None:
            self._first_pts = seconds
        self._last_pts = seconds
        self._times[number] = round(seconds - self._first_pts, 6)
        while len(self._times) > _TIMES_KEPT:
            self._times.popitem(last=False)

    def _image(self, frame: av.VideoFrame) -> np.ndarray:
        image = frame.to_ndarray(format="bgr24")
        if self._rotation:
            # The display matrix turns the picture counter-clockwise by `rotation` degrees.
            image = np.ascontiguousarray(np.rot90(image, k=self._rotation // 90))
        return image

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        frames = self._frames
        first, self._first = self._first, None
        if frames is None or first is None:
            raise VideoError(f"'{self.path.name}' can only be iterated once")
        if self._empty_window:
            self.frames_read = self._window_last_number
            self._finish()
            self.close()
            return
        number = 0
        frame: av.VideoFrame | None = first
        while frame is not None:
            if self._numbered_by_time and frame.pts is not None:
                number = self._number_of(frame)
            elif self._numbered_by_time:
                number += 1
            else:
                number = self.frames_decoded + self.frames_skipped + 1
            self.frames_decoded += 1
            self.frames_read = number
            self._note_time(number, frame)
            if (number - 1) % self.stride == 0:
                yield number, self._image(frame)
            frame = next(frames, None)
        if not self._numbered_by_time:
            self.frames_read = self.frames_decoded + self.frames_skipped
        elif self.skip_nonref:  # the last frames may be skipped ones
            self.frames_read = max(self.frames_read, self._last_packet_number)
        self._finish()
        self.close()

    def _finish(self) -> None:
        """Decoded facts into `info`; warnings for skipped frames and truncation."""
        duration = self.info.duration_s
        if self._last_pts is not None and self._first_pts is not None:
            step = 1.0 / self.info.fps
            duration = max(self._last_pts - self._first_pts + step, 0.0)
        elif self._empty_window:  # the file ends before the window: its duration is that end
            duration = self._window_last_number / self._window_fps
        # Skipped non-reference frames are frames of the video all the same.
        frames = self.frames_read if self.skip_nonref else self.frames_decoded
        self.info = replace(self.info, frame_count=frames, duration_s=duration)
        expected = self._header_frames
        if self.frames_skipped:
            self.warnings.append(
                f"{self.frames_skipped} damaged frame(s) could not be decoded and were skipped;"
                f" results cover the {self.frames_decoded} frames that decoded"
            )
        if self.window is None and expected and self.frames_read < TRUNCATION_RATIO * expected:
            self.truncated = True
            self.warnings.append(
                f"decoding stopped at frame {self.frames_read} of the {expected} the file "
                "declares; the video is probably truncated, results cover the decoded part only"
            )
        if self.window is not None and self._window_cut:
            self._window_truncation()
        # A fragmented MP4 declares no frame count: a cut one is known by its box structure, in
        # a single-piece run or in the segment whose window reaches the end of the data.
        whole = (self.window is None or self._window_cut) and not self.truncated
        cut = _mp4_cut(self.path) if whole and _container_kind(self.path) == "an MP4" else None
        if cut is not None:
            self.truncated = True
            self.warnings.append(
                f"the file ends inside its last '{cut[0]}' box ({cut[1]} bytes missing); the"
                f" video is {TRUNCATION_MARK}, results cover the decoded part only"
            )

    def _window_truncation(self) -> None:
        """A window the file ends inside of, or before: a truncation warning (where and why),
        when less than TRUNCATION_RATIO of the window's frames were there."""
        assert self.window is not None
        start_s, end_s = self.window
        first_number = round(start_s * self._window_fps) + 1
        wanted = round(end_s * self._window_fps) + 1 - first_number
        last = self._window_last_number
        present = max(0, last - first_number + 1)
        if wanted <= 0 or present >= TRUNCATION_RATIO * wanted:
            return
        self.truncated = True
        ended = (last - 1) / self._window_fps if last else 0.0
        where = (
            f"before this segment's start at {start_s:g} s"
            if present == 0
            else f"inside this segment ({start_s:g}-{end_s:g} s)"
        )
        self.warnings.append(
            f"the video ends at {ended:.1f} s (frame {last}), {where}, although its header"
            " says it is longer; the file is probably truncated, results cover the decoded"
            " part only"
        )

    def close(self) -> None:
        self._frames = None
        if self._container is not None:
            self._container.close()
            self._container = None
