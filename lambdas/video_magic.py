"""Recognise the video containers the engine decodes from an object's first bytes."""

from __future__ import annotations

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
