"""Streamed, strided video decoding with OpenCV, and the facts a summary reports about a video.

Kept frames are decoded to arrays; the frames in between are only `grab()`bed. Memory does not
depend on the video's length: one frame is held at a time.

Truncation policy: a file that cannot be opened, or whose first frame does not decode, raises
`VideoError`. A file whose first frames decode but whose decoding stops well before the frame
count in its header (an interrupted upload, a file cut short) is processed as far as it goes, and
`VideoReader.warnings` says where it stopped; the pipeline copies that into the summary.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from model_code.closing import Closing

FALLBACK_FPS = 30.0
MAX_PLAUSIBLE_FPS = 1000.0
# Decoding that ends before this share of the header's frame count counts as truncation.
TRUNCATION_RATIO = 0.9

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


def _looks_like_mp4(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(12)
    return len(head) >= 8 and head[4:8] == b"ftyp"


class VideoReader(Closing):
    """`with VideoReader(path, stride=3) as video:` then `for frame_number, bgr in video:`.

    Frame numbers are 1-based source frame numbers: stride 3 yields frames 1, 4, 7, ...
    """

    def __init__(self, path: str | Path, stride: int = 1) -> None:
        if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
            raise ValueError(f"stride must be a whole number >= 1, got {stride!r}")
        self.path = Path(path)
        self.stride = stride
        self.warnings: list[str] = []
        self.frames_read = 0
        # Set once iteration has ended well before the header's frame count.
        self.truncated = False
        self._capture: cv2.VideoCapture | None = None
        self._first_frame: np.ndarray | None = None
        self.info = self._open()

    def _open(self) -> VideoInfo:
        name = self.path.name
        if not self.path.exists():
            raise VideoError(f"video file not found: {self.path}")
        if not self.path.is_file():
            raise VideoError(f"not a file: {self.path}")
        if self.path.stat().st_size == 0:
            raise VideoError(f"the video file '{name}' is empty (0 bytes)")
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            if _looks_like_mp4(self.path):
                raise VideoError(
                    f"'{name}' starts like an MP4 but cannot be opened: the file is probably "
                    "truncated (for example an incomplete upload) or damaged"
                )
            raise VideoError(
                f"'{name}' is not a video this service can read (unknown or damaged format)"
            )
        ok, first = capture.read()
        if not ok or first is None:
            capture.release()
            raise VideoError(f"'{name}' contains no decodable video frames")
        self._capture = capture
        self._first_frame = first

        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        if not math.isfinite(fps) or fps <= 0.0 or fps > MAX_PLAUSIBLE_FPS:
            self.warnings.append(
                f"the video reports an unusable frame rate ({fps:g} fps); "
                f"timestamps assume {FALLBACK_FPS:g} fps"
            )
            fps = FALLBACK_FPS
        frame_count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        frame_count = max(frame_count, 0)
        height, width = first.shape[:2]
        return VideoInfo(
            codec=codec_name(int(capture.get(cv2.CAP_PROP_FOURCC) or 0)),
            fps=fps,
            frame_count=frame_count,
            width=int(width),
            height=int(height),
            duration_s=frame_count / fps if frame_count else 0.0,
        )

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        capture = self._capture
        if capture is None:
            raise VideoError(f"'{self.path.name}' is closed or was already read")
        first, self._first_frame = self._first_frame, None
        if first is None:
            raise VideoError(f"'{self.path.name}' can only be iterated once")
        self.frames_read = 1
        yield 1, first
        del first
        frame_number = 1
        while True:
            frame_number += 1
            if (frame_number - 1) % self.stride == 0:
                ok, frame = capture.read()
                if not ok or frame is None:
                    break
                self.frames_read = frame_number
                yield frame_number, frame
            else:
                if not capture.grab():
                    break
                self.frames_read = frame_number
        self._note_truncation()
        self.close()

    def _note_truncation(self) -> None:
        expected = self.info.frame_count
        if expected and self.frames_read < TRUNCATION_RATIO * expected:
            self.truncated = True
            self.warnings.append(
                f"decoding stopped at frame {self.frames_read} of the {expected} the file "
                "declares; the video is probably truncated, results cover the decoded part only"
            )

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
