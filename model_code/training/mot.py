"""MOTChallenge sequences (`SEQ/gt/gt.txt`, frames in `SEQ/img1/` or a video in `SEQ/`) -> LabelSet.

gt.txt rows are `frame,id,x,y,w,h,considered,...`. Rows with `considered` 0 are skipped. Classes:
with `gt/labels.txt` (CVAT's MOT export) column 8 is a 1-based line of that file; otherwise a
9-column MOT16/17 row keeps only class 1 (pedestrian) as "person", and a 10-column MOT15 row
(world coordinates, no class) is a person.
"""

from __future__ import annotations

import configparser
from pathlib import Path

from model_code.training.labels import (
    Box,
    FrameRef,
    LabelError,
    LabelledFrame,
    LabelSet,
    Sequence,
    classes_in,
    valid_box,
)
from model_code.video import VideoReader

GT_FILE = Path("gt") / "gt.txt"
LABELS_FILE = Path("gt") / "labels.txt"
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
MOT_PEDESTRIAN = 1
PERSON = "person"


def is_sequence(folder: Path) -> bool:
    return (folder / GT_FILE).is_file()


def load_mot(folder: Path, video: Path | None = None) -> LabelSet:
    """One sequence folder, or a folder of sequence folders."""
    if is_sequence(folder):
        sequences = [load_sequence(folder, video)]
    else:
        sequences = [load_sequence(s) for s in sorted(folder.iterdir()) if is_sequence(s)]
    if not sequences:
        raise LabelError(f"{folder} holds no MOTChallenge sequence (no */gt/gt.txt)")
    return LabelSet(sequences, classes_in(sequences))


def _seqinfo(folder: Path) -> configparser.SectionProxy | None:
    path = folder / "seqinfo.ini"
    if not path.is_file():
        return None
    parser = configparser.ConfigParser()
    parser.read(path)
    return parser["Sequence"] if parser.has_section("Sequence") else None


def _frame_refs(folder: Path, video: Path | None, last_gt_frame: int) -> dict[int, FrameRef]:
    info = _seqinfo(folder)
    images = folder / (info.get("imDir", "img1") if info else "img1")
    if video is None and images.is_dir():
        files = sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        by_number = {int(p.stem): p for p in files if p.stem.isdigit()}
        return {n: FrameRef(image=p) for n, p in by_number.items()}
    if video is None:
        videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
        if len(videos) != 1:
            raise LabelError(
                f"{folder}: frames not found; put them in img1/ (000001.jpg, ...) or put exactly "
                f"one video beside gt/ (found {len(videos)})"
            )
        video = videos[0]
    with VideoReader(video) as reader:
        count = reader.info.frame_count or last_gt_frame
    return {n: FrameRef(video=video, number=n) for n in range(1, count + 1)}


def _class_names(folder: Path) -> list[str] | None:
    path = folder / LABELS_FILE
    if not path.is_file():
        return None
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _label(row: list[str], names: list[str] | None, where: str) -> str | None:
    if names is not None:
        index = int(float(row[7]))
        if not 1 <= index <= len(names):
            raise LabelError(f"{where}: class {index} is not a line of {LABELS_FILE}")
        return names[index - 1]
    if len(row) == 9:
        return PERSON if int(float(row[7])) in (MOT_PEDESTRIAN, -1) else None
    return PERSON


def load_sequence(folder: Path, video: Path | None = None) -> Sequence:
    """One sequence; every frame with pixels is kept (unlabelled frames are negatives)."""
    names = _class_names(folder)
    boxes: dict[int, list[Box]] = {}
    gt = folder / GT_FILE
    for number, line in enumerate(gt.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = [c.strip() for c in line.split(",")]
        where = f"{gt}:{number}"
        try:
            frame, track = int(float(row[0])), int(float(row[1]))
            x, y, w, h = (float(v) for v in row[2:6])
            considered = len(row) < 7 or float(row[6]) != 0
        except (ValueError, IndexError) as error:
            raise LabelError(f"{where}: not a MOTChallenge row ({error})") from error
        label = _label(row, names, where) if considered else None
        if label is not None and valid_box(x, y, w, h):
            boxes.setdefault(frame, []).append(Box(x, y, w, h, label, track))
    refs = _frame_refs(folder, video, max(boxes, default=1))
    frames = [LabelledFrame(ref, tuple(boxes.get(n, ()))) for n, ref in sorted(refs.items())]
    return Sequence(folder.name, frames)
