"""A video's duration from the first bytes of a Matroska/WebM or AVI file (MP4/MOV: the
``mvhd`` box, video_magic.mp4_tracks). submit reads ``HEADER_BYTES`` with one ranged GET, so a
long video can be planned as segments without downloading it. None when the header does not
say (a live-recorded WebM without Duration, an AVI without a main header): such a video runs in
one piece, as before.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator

HEADER_BYTES = 64 * 1024

# Matroska element ids (with their length-marker bits, as written in the file).
_SEGMENT, _INFO, _TIMESTAMP_SCALE, _DURATION = 0x18538067, 0x1549A966, 0x2AD7B1, 0x4489
_EBML_HEADER = 0x1A45DFA3
_DEFAULT_TIMESTAMP_SCALE_NS = 1_000_000
UNKNOWN_SIZE = -1


def vint(data: bytes, at: int, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at `at`: (value, next offset); None past the end."""
    if at >= len(data) or data[at] == 0:
        return None
    length = 8 - data[at].bit_length() + 1
    if at + length > len(data):
        return None
    value = int.from_bytes(data[at : at + length], "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
        if value == (1 << (7 * length)) - 1:
            return UNKNOWN_SIZE, at + length  # "unknown size" (a live stream's Segment)
    return value, at + length


def elements(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(element id, body offset, body size) of the elements in data[start:end]."""
    at = start
    while at < end:
        element = vint(data, at, keep_marker=True)
        size = vint(data, element[1], keep_marker=False) if element else None
        if element is None or size is None:
            return
        body = size[1]
        yield element[0], body, size[0]
        if size[0] == UNKNOWN_SIZE:
            return
        at = body + size[0]


def matroska_duration_s(data: bytes) -> float | None:
    """Segment > Info > Duration x TimestampScale, from a Matroska/WebM file's first bytes."""
    for element, body, size in elements(data, 0, len(data)):
        if element == _EBML_HEADER:
            continue
        if element != _SEGMENT:
            return None
        segment_end = len(data) if size == UNKNOWN_SIZE else min(len(data), body + size)
        for child, child_body, child_size in elements(data, body, segment_end):
            if child == _INFO and child_size != UNKNOWN_SIZE:
                return _info_duration(data[child_body : child_body + child_size])
        return None
    return None


def matroska_timestamp_scale(data: bytes) -> int:
    """Segment > Info > TimestampScale (nanoseconds per tick) from a file's first bytes."""
    for element, body, size in elements(data, 0, len(data)):
        if element == _EBML_HEADER:
            continue
        if element != _SEGMENT:
            break
        segment_end = len(data) if size == UNKNOWN_SIZE else min(len(data), body + size)
        for child, child_body, child_size in elements(data, body, segment_end):
            if child == _INFO and child_size != UNKNOWN_SIZE:
                info = data[child_body : child_body + child_size]
                for item, item_body, item_size in elements(info, 0, len(info)):
                    if item == _TIMESTAMP_SCALE and 1 <= item_size <= 8:
                        return int.from_bytes(info[item_body : item_body + item_size], "big")
        break
    return _DEFAULT_TIMESTAMP_SCALE_NS


def _info_duration(info: bytes) -> float | None:
    scale, duration = _DEFAULT_TIMESTAMP_SCALE_NS, None
    for element, body, size in elements(info, 0, len(info)):
        value = info[body : body + size]
        if element == _TIMESTAMP_SCALE and 1 <= size <= 8:
            scale = int.from_bytes(value, "big")
        elif element == _DURATION and size in (4, 8):
            duration = struct.unpack(">f" if size == 4 else ">d", value)[0]
    if duration is None or not math.isfinite(duration) or duration <= 0:
        return None
    return duration * scale / 1e9


def avi_duration_s(data: bytes) -> float | None:
    """dwMicroSecPerFrame x dwTotalFrames from the AVI main header (``avih``); an OpenDML
    (over 1 GB) file counts all its frames in ``dmlh``, the main header only its first part."""
    at = data.find(b"avih")
    if at < 0 or at + 8 + 20 > len(data):
        return None
    micro_per_frame, _rate, _granularity, _flags, frames = struct.unpack_from("<5I", data, at + 8)
    extended = data.find(b"dmlh")
    if extended >= 0 and extended + 12 <= len(data):
        frames = max(frames, struct.unpack_from("<I", data, extended + 8)[0])
    if micro_per_frame == 0 or frames == 0:
        return None
    return micro_per_frame * frames / 1e6


def header_duration_s(container: str, data: bytes) -> float | None:
    """The duration the header of a ``"matroska"`` or ``"avi"`` file states, else None."""
    if container == "matroska":
        return matroska_duration_s(data)
    if container == "avi":
        return avi_duration_s(data)
    return None
