"""Videos and non-videos for the bad-input matrix, written on the fly with PyAV and OpenCV.

Every clip is a few frames of a moving box on a dark background, small enough that the whole
matrix runs through one local stack in a few minutes. Nothing here is committed as a binary.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


def _frame(index: int, width: int, height: int) -> np.ndarray:
    image = np.full((height, width, 3), 30, np.uint8)
    x = (index * max(1, width // 20)) % max(1, width)
    cv2.rectangle(image, (x, height // 4), (x + width // 6, 3 * height // 4), (0, 200, 0), -1)
    return image


def encode(
    path: Path,
    *,
    codec: str = "libx264",
    size: tuple[int, int] = (96, 64),
    frames: int = 6,
    fps: int | Fraction = 10,
    pix_fmt: str = "yuv420p",
    faststart: bool = True,
    gaps_ms: list[int] | None = None,
    audio: bool = False,
    muxer: dict[str, str] | None = None,
) -> Path:
    """A clip in `path`'s container; `gaps_ms` gives variable frame timing (ms between frames);
    `muxer` replaces the muxer options (``{"movflags": "frag_keyframe+empty_moov"}`` for a
    fragmented MP4, ``{"live": "1"}`` for a live WebM)."""
    width, height = size
    options = {"movflags": "faststart"} if faststart and path.suffix in (".mp4", ".mov") else {}
    options = options if muxer is None else muxer
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if gaps_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        sound = container.add_stream("aac", rate=48000) if audio else None
        pts = 0
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(_frame(index, width, height), format="bgr24")
            frame = frame.reformat(format=pix_fmt)
            if gaps_ms is not None:
                frame.pts, frame.time_base = pts, Fraction(1, 1000)
                pts += gaps_ms[index % len(gaps_ms)]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if sound is not None:
            write_silence(container, sound)
    return path


def write_silence(container: av.container.OutputContainer, sound: av.AudioStream) -> None:
    """Five frames of mono silence on `sound` (an aac or opus stream at 48 kHz)."""
    samples = 960 if sound.codec_context.name in ("libopus", "opus") else 1024
    for index in range(5):
        chunk = av.AudioFrame.from_ndarray(
            np.zeros((1, samples), np.float32), format="fltp", layout="mono"
        )
        chunk.sample_rate, chunk.pts = 48000, index * samples
        for packet in sound.encode(chunk):
            container.mux(packet)
    for packet in sound.encode():
        container.mux(packet)


def audio_only(path: Path) -> Path:
    """Audio and nothing else: aac in MP4/MOV, opus in WebM/Matroska."""
    codec = "libopus" if path.suffix in (".webm", ".mkv") else "aac"
    with av.open(str(path), "w") as container:
        write_silence(container, container.add_stream(codec, rate=48000))
    return path


def no_video_frames(path: Path) -> Path:
    """An mp4 whose video track exists and has zero samples (FFmpeg's muxer would drop an
    empty track, so a 2-frame clip's sample count is set to 0 in its ``stsz`` box)."""
    encode(path, size=(64, 48), frames=2, audio=True)
    path.write_bytes(zero_video_samples(path.read_bytes()))
    return path


def zero_video_samples(data: bytes) -> bytes:
    """`data` (an mp4) with the sample count of its video track's ``stsz`` box set to 0."""
    out = bytearray(data)
    at = 0
    while (at := out.find(b"trak", at + 1)) > 0:
        size = struct.unpack(">I", out[at - 4 : at])[0]
        trak = bytes(out[at - 4 : at - 4 + size])
        handler = trak.find(b"hdlr")
        if trak[handler + 12 : handler + 16] != b"vide":  # version/flags, pre-defined, type
            continue
        stsz = at - 4 + trak.index(b"stsz")
        out[stsz + 12 : stsz + 16] = struct.pack(">I", 0)  # type, version/flags, sample size
        return bytes(out)
    raise ValueError("no video track found")


def rotated(path: Path) -> Path:
    """A landscape clip whose display matrix turns it to portrait (as phones record)."""
    encode(path, size=(96, 64), frames=4)
    data = bytearray(path.read_bytes())
    box = data.index(b"tkhd")
    matrix_at = box + 4 + 4 + 4 + 4 + 4 + 4 + 4 + 8 + 2 + 2 + 2 + 2
    one = 1 << 16
    data[matrix_at : matrix_at + 36] = struct.pack(">9i", 0, one, 0, -one, 0, 0, 0, 0, 1 << 30)
    path.write_bytes(bytes(data))
    return path


def garbage_mid_stream(path: Path) -> Path:
    encode(path, size=(160, 96), frames=60, faststart=True)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    span = min(4000, len(data) // 6)
    noise = np.random.default_rng(3).integers(0, 256, span, np.uint8)
    data[middle : middle + span] = noise.tobytes()
    path.write_bytes(bytes(data))
    return path


def cut(source: Path, path: Path, share: float) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * share)])
    return path


def image(path: Path, extension: str) -> Path:
    path.write_bytes(cv2.imencode(extension, _frame(0, 32, 24))[1].tobytes())
    return path


Maker = Callable[[Path], Path]
