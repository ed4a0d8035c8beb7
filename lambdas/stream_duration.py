"""The duration of streamed containers, whose header does not give it, from a few ranged reads
(issue 21, deliverable 5): a fragmented MP4 (an empty ``moov``, the samples in ``moof``
fragments) and a live-recorded WebM/Matroska (no Duration, usually no Cues).

- Fragmented MP4: a ``sidx`` index right after the ``moov`` that covers the whole file gives it
  at once; else the last complete ``moof`` in the file's tail: its ``tfdt`` start plus its
  ``trun`` sample durations, in the video track's ``mdhd`` timescale.
- Matroska/WebM: the last Cluster in the file's tail: its Timestamp plus the latest block's
  relative timestamp, in the Info's TimestampScale.

The tail is read in at most ``len(TAIL_BYTES)`` ranged GETs of growing size (a bounded scan);
None when even the largest holds no complete fragment or cluster: the video runs in one piece.
For a truncated file this is where its data really ends.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

try:
    from . import header_duration
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import header_duration

Read = Callable[[int, int], bytes]  # (offset, length) -> bytes
TAIL_BYTES = (1024 * 1024, 16 * 1024 * 1024)

_CONTAINERS = {b"moov", b"trak", b"mdia", b"mvex", b"moof", b"traf"}
_CLUSTER = b"\x1f\x43\xb6\x75"
_CLUSTER_TIMESTAMP, _SIMPLE_BLOCK, _BLOCK_GROUP, _BLOCK = 0xE7, 0xA3, 0xA0, 0xA1


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the complete boxes in data[start:end]."""
    end = len(data) if end is None else end
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1 and at + 16 <= end:
            size, header = struct.unpack_from(">Q", data, at + 8)[0], 16
        if size < header or at + size > end:
            return
        yield kind, at + header, at + size
        at += size


def _children(data: bytes, start: int, end: int, path: tuple[bytes, ...]) -> bytes | None:
    """The payload of the first box along `path` under data[start:end]."""
    for kind, lo, hi in _boxes(data, start, end):
        if kind == path[0]:
            return data[lo:hi] if len(path) == 1 else _children(data, lo, hi, path[1:])
    return None


def _video_track(moov: bytes) -> tuple[int, int, int] | None:
    """(track id, timescale, trex default sample duration) of the moov's first video track."""
    for kind, lo, hi in _boxes(moov):
        if kind != b"trak":
            continue
        handler = _children(moov, lo, hi, (b"mdia", b"hdlr"))
        mdhd = _children(moov, lo, hi, (b"mdia", b"mdhd"))
        tkhd = _children(moov, lo, hi, (b"tkhd",))
        if not handler or handler[8:12] != b"vide" or not mdhd or not tkhd:
            continue
        wide = mdhd[0] == 1
        timescale = struct.unpack_from(">I", mdhd, 20 if wide else 12)[0]
        track_id = struct.unpack_from(">I", tkhd, 20 if tkhd[0] == 1 else 12)[0]
        default = 0
        for kind2, lo2, hi2 in _boxes(moov):
            if kind2 == b"mvex":
                for kind3, lo3, _hi3 in _boxes(moov, lo2, hi2):
                    trex_id = struct.unpack_from(">I", moov, lo3 + 4)[0]
                    if kind3 == b"trex" and trex_id == track_id:
                        default = struct.unpack_from(">I", moov, lo3 + 16)[0]
        return (track_id, timescale, default) if timescale else None
    return None


def _fragment_end(moof: bytes, track_id: int, trex_default: int) -> int | None:
    """The end time (decode time after its last sample) of the track's run in one moof."""
    for kind, lo, hi in _boxes(moof):
        if kind != b"traf":
            continue
        tfhd = _children(moof, lo, hi, (b"tfhd",))
        tfdt = _children(moof, lo, hi, (b"tfdt",))
        if not tfhd or not tfdt or struct.unpack_from(">I", tfhd, 4)[0] != track_id:
            continue
        flags = int.from_bytes(tfhd[1:4], "big")
        at, default = 8, trex_default
        at += 8 if flags & 0x01 else 0  # base-data-offset
        at += 4 if flags & 0x02 else 0  # sample-description-index
        if flags & 0x08:
            default = struct.unpack_from(">I", tfhd, at)[0]
        start = struct.unpack_from(">Q" if tfdt[0] == 1 else ">I", tfdt, 4)[0]
        total = 0
        for kind2, lo2, hi2 in _boxes(moof, lo, hi):
            if kind2 == b"trun":
                total += _run_duration(moof[lo2:hi2], default)
        return start + total
    return None


def _run_duration(trun: bytes, default: int) -> int:
    flags = int.from_bytes(trun[1:4], "big")
    count = struct.unpack_from(">I", trun, 4)[0]
    at = 8 + (4 if flags & 0x01 else 0) + (4 if flags & 0x04 else 0)
    if not flags & 0x100:
        return count * default
    step = 4 * sum(1 for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit)
    if at + count * step > len(trun):
        return count * default
    return sum(struct.unpack_from(">I", trun, at + i * step)[0] for i in range(count))


def _sidx_duration(sidx: bytes, after: int, size: int) -> float | None:
    """Seconds a sidx covers, when its references reach the end of the file."""
    wide = sidx[0] == 1
    timescale = struct.unpack_from(">I", sidx, 8)[0]
    earliest, first_offset = struct.unpack_from(">QQ" if wide else ">II", sidx, 12)
    at = 12 + (16 if wide else 8)
    count = struct.unpack_from(">H", sidx, at + 2)[0]
    at += 4
    if not timescale or at + 12 * count > len(sidx):
        return None
    sizes = durations = 0
    for index in range(count):
        reference, duration = struct.unpack_from(">II", sidx, at + 12 * index)
        sizes += reference & 0x7FFFFFFF
        durations += duration
    if after + first_offset + sizes < size:
        return None  # one fragment's index, not the file's
    return (earliest + durations) / timescale


def _tails(read: Read, size: int) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) of the file's tail, bigger each time (a bounded scan)."""
    for length in TAIL_BYTES:
        offset = max(0, size - length)
        yield offset, read(offset, size - offset)
        if offset == 0:
            return


def fragmented_mp4_duration_s(read: Read, size: int, moov: bytes, moov_end: int) -> float | None:
    """A fragmented MP4's duration from its index or its last fragment (see the module)."""
    track = _video_track(moov)
    if track is None:
        return None
    track_id, timescale, trex_default = track
    head = read(moov_end, 4096)
    for kind, lo, hi in _boxes(head):
        if kind == b"sidx":
            found = _sidx_duration(head[lo:hi], moov_end + hi, size)
            if found is not None:
                return found
    for _offset, tail in _tails(read, size):
        at = len(tail)
        while (at := tail.rfind(b"moof", 0, at)) >= 4:
            start = at - 4
            box = next(_boxes(tail, start, len(tail)), None)
            if box is not None and box[0] == b"moof":
                end = _fragment_end(tail[box[1] : box[2]], track_id, trex_default)
                if end is not None:
                    return end / timescale
    return None


def _block_timestamp(data: bytes, body: int) -> int | None:
    """A (Simple)Block's timestamp relative to its cluster (a signed 16-bit integer)."""
    track = header_duration.vint(data, body, keep_marker=False)
    if track is None or track[1] + 2 > len(data):
        return None
    return struct.unpack_from(">h", data, track[1])[0]


def _cluster_end(data: bytes, body: int, size: int) -> int | None:
    """The latest block timestamp of the cluster whose body starts at `body` (in ticks)."""
    end = len(data) if size == header_duration.UNKNOWN_SIZE else min(len(data), body + size)
    cluster = latest = None
    for element, child, child_size in header_duration.elements(data, body, end):
        if element == _CLUSTER_TIMESTAMP and 1 <= child_size <= 8 and cluster is None:
            cluster = int.from_bytes(data[child : child + child_size], "big")
        elif element == _SIMPLE_BLOCK:
            stamp = _block_timestamp(data, child)
            latest = stamp if latest is None or stamp is None else max(latest, stamp)
        elif element == _BLOCK_GROUP:
            for inner, inner_body, _ in header_duration.elements(data, child, child + child_size):
                if inner == _BLOCK:
                    stamp = _block_timestamp(data, inner_body)
                    latest = stamp if latest is None or stamp is None else max(latest, stamp)
    if cluster is None:
        return None
    return cluster + max(latest or 0, 0)


def matroska_tail_duration_s(read: Read, size: int, header: bytes) -> float | None:
    """A Matroska/WebM file's duration from its last Cluster (see the module); `header` is
    its first bytes (for the TimestampScale)."""
    scale = header_duration.matroska_timestamp_scale(header)
    for _offset, tail in _tails(read, size):
        at = len(tail)
        while (at := tail.rfind(_CLUSTER, 0, at)) >= 0:
            length = header_duration.vint(tail, at + 4, keep_marker=False)
            if length is not None:
                end = _cluster_end(tail, length[1], length[0])
                if end is not None:
                    return end * scale / 1e9
    return None
