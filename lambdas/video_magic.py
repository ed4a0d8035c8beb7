"""Recognise the video containers the engine decodes from an object's first bytes."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

HEAD_BYTES = 16
"""How many leading bytes `detect_container` needs."""

_ISO_BMFF_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"

CONTAINER_NAMES = {
    "iso-bmff": "MP4/MOV",
    "matroska": "Matroska/WebM",
    "avi": "AVI",
}


def detect_container(head: bytes) -> str | None:
    """``"iso-bmff"`` (MP4/MOV), ``"matroska"`` (MKV/WebM), ``"avi"``, or None if none of them."""
    if len(head) >= 8 and head[4:8] in _ISO_BMFF_BOXES:
        return "iso-bmff"
    if head.startswith(_EBML_MAGIC):
        return "matroska"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    return None


def describe_bytes(head: bytes) -> str:
    """A short, user-readable guess at what the bytes are, for rejection messages."""
    if not head:
        return "no data"
    for cut in range(4):  # a multi-byte character may straddle the end of the sample
        try:
            text = head[: len(head) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if text and all(c.isprintable() or c in "\r\n\t" for c in text):
            return f"text ({text[:12]!r})"
        break
    return "other binary data (first bytes " + head[:8].hex(" ") + ")"


# --- MP4/MOV track facts from the box structure (a few small ranged reads) -----------------

MAX_MOOV_BYTES = 16 * 1024 * 1024  # a larger index is left to the container to judge
_MAX_TOP_LEVEL_BOXES = 64
_CONTAINER_BOXES = {b"trak", b"mdia", b"minf", b"stbl"}


@dataclass(frozen=True)
class Mp4Tracks:
    has_index: bool  # a moov box was found
    video_tracks: int = 0
    other_tracks: tuple[str, ...] = ()
    video_samples: int = 0
    fragmented: bool = False  # samples live in moof boxes; moov counts say nothing
    duration_s: float | None = None  # from the movie header (mvhd); None when it has none
    # The moov payload and where the box ends (a fragmented file's fragments follow it).
    moov: bytes = field(default=b"", repr=False, compare=False)
    moov_end: int = 0


def _mvhd_duration(payload: bytes) -> float | None:
    """Seconds from an mvhd payload (version 0: 32-bit times, version 1: 64-bit times)."""
    if len(payload) >= 20 and payload[0] == 0:
        timescale, duration = struct.unpack(">II", payload[12:20])
    elif len(payload) >= 32 and payload[0] == 1:
        timescale, duration = struct.unpack(">IQ", payload[20:32])
    else:
        return None
    if timescale == 0 or duration in (0, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
        return None  # unknown duration (for example a fragmented file's empty moov)
    return duration / timescale


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes in data[start:end]."""
    end = len(data) if end is None else end
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        header = 8
        if size == 1 and at + 16 <= end:
            size, header = struct.unpack(">Q", data[at + 8 : at + 16])[0], 16
        elif size == 0:
            size = end - at
        if size < header:
            return
        yield kind, at + header, min(at + size, end)
        at += size


def _track_facts(moov: bytes) -> Mp4Tracks:
    video = samples = 0
    others: list[str] = []
    fragmented = False
    duration = None
    for kind, start, end in _boxes(moov):
        if kind == b"mvhd":
            duration = _mvhd_duration(moov[start:end])
        if kind == b"mvex":
            fragmented = True
        if kind != b"trak":
            continue
        handler, count = None, 0
        stack = [(b"trak", start, end)]
        while stack:
            parent, lo, hi = stack.pop()
            for child, child_start, child_end in _boxes(moov, lo, hi):
                if child in _CONTAINER_BOXES:
                    stack.append((child, child_start, child_end))
                elif child == b"hdlr" and parent == b"mdia" and child_end - child_start >= 12:
                    # QuickTime also has a data-handler hdlr ("url ", "alis") inside minf.
                    handler = moov[child_start + 8 : child_start + 12]
                elif child in (b"stsz", b"stz2") and child_end - child_start >= 12:
                    # Both keep the sample count 8 bytes into their payload.
                    count = struct.unpack(">I", moov[child_start + 8 : child_start + 12])[0]
        if handler == b"vide":
            video += 1
            samples += count
        elif handler is not None:
            others.append(
                {b"soun": "audio", b"text": "text", b"sbtl": "subtitles"}.get(
                    handler, handler.decode("ascii", "replace")
                )
            )
    return Mp4Tracks(True, video, tuple(others), samples, fragmented, duration)


def mp4_tracks(read: Callable[[int, int], bytes], size: int) -> Mp4Tracks | None:
    """Track facts of an MP4/MOV of `size` bytes; `read(offset, length)` reads a byte range.

    Walks the top-level boxes with 16-byte reads and reads the moov box whole. None when it
    cannot tell cheaply (an oversized index, a malformed box): the container judges then.
    """
    at = 0
    for _ in range(_MAX_TOP_LEVEL_BOXES):
        if at + 8 > size:
            return Mp4Tracks(has_index=False)
        head = read(at, 16)
        if len(head) < 8:
            return Mp4Tracks(has_index=False)
        box_size, kind = struct.unpack(">I4s", head[:8])
        if box_size == 1 and len(head) >= 16:
            box_size = struct.unpack(">Q", head[8:16])[0]
        elif box_size == 0:
            box_size = size - at
        if box_size < 8:
            return None
        if kind == b"moov":
            if at + box_size > size:  # the file ends inside its index
                return Mp4Tracks(has_index=False)
            if box_size > MAX_MOOV_BYTES:
                return None
            moov = read(at, box_size)[8:]
            return replace(_track_facts(moov), moov=moov, moov_end=at + box_size)
        at += box_size
    return None
