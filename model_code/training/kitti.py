"""KITTI labels -> LabelSet: the object-detection layout NVIDIA TAO/TLT trains from, and the
KITTI tracking layout, which carries track ids.

Detection (TAO's `image_directory_path` / `label_directory_path`): `images/<name>.<ext>` with
`labels/<name>.txt`, one object per line, 15 space-separated fields and an optional score:
`type truncated occluded alpha x1 y1 x2 y2 h w l x y z ry [score]`. Boxes are `x1 y1 x2 y2` in
pixels; the 3-D fields are read (they must be numbers) and not used. The images form one sequence
named after the data folder; they carry no track ids.

Tracking: `label_02/<seq>.txt` with lines `frame track_id type truncated occluded alpha x1 y1 x2
y2 h w l x y z ry [score]` (frame 0-based) and frames `image_02/<seq>/<frame:06d>.png`. Each
sequence file is a sequence; every frame image is kept, unlabelled ones as negatives.

In both, `DontCare` regions are skipped and `type` is kept as the class name (`Pedestrian` then
maps onto COCO's person like any other importer's names, `model.coco_rows`).
"""

from __future__ import annotations

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

DETECTION_DIRS = ("images", "labels")
TRACKING_DIRS = ("image_02", "label_02")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
DONT_CARE = "dontcare"
DETECTION_FIELDS = "type truncated occluded alpha x1 y1 x2 y2 h w l x y z ry [score]"
TRACKING_FIELDS = f"frame track_id {DETECTION_FIELDS}"
_OBJECT_FIELDS = 15  # type .. ry


def is_kitti(folder: Path) -> bool:
    return any(all((folder / d).is_dir() for d in dirs) for dirs in (DETECTION_DIRS, TRACKING_DIRS))


def _object(fields: list[str], where: str, leading: int = 0) -> Box | None:
    """One object from its 15 or 16 fields (`type` .. `ry` [score]) after `leading` others
    (frame and track_id in tracking labels); None for DontCare and boxes with no area."""
    if len(fields) not in (_OBJECT_FIELDS, _OBJECT_FIELDS + 1):
        count = _OBJECT_FIELDS + leading
        expected = TRACKING_FIELDS if leading else DETECTION_FIELDS
        raise LabelError(
            f"{where}: expected {count} or {count + 1} space-separated fields `{expected}`, "
            f"got {len(fields) + leading}"
        )
    label = fields[0]
    try:
        values = [float(v) for v in fields[1:]]
    except ValueError as error:
        raise LabelError(f"{where}: fields after `type` must be numbers ({error})") from error
    if label.lower() == DONT_CARE:
        return None
    x1, y1, x2, y2 = values[3:7]
    if not valid_box(x1, y1, x2 - x1, y2 - y1):
        return None
    return Box(x1, y1, x2 - x1, y2 - y1, label)


def _lines(path: Path) -> list[tuple[str, list[str]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LabelError(f"cannot read {path}: {error}") from error
    return [
        (f"{path}:{number}", line.split())
        for number, line in enumerate(text.splitlines(), 1)
        if line.strip()
    ]


def _images(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}


def load_detection(folder: Path) -> Sequence:
    """`folder/images` + `folder/labels`: one frame per label file."""
    images = _images(folder / "images")
    frames = []
    for label_file in sorted((folder / "labels").glob("*.txt")):
        image = images.get(label_file.stem)
        if image is None:
            raise LabelError(
                f"{label_file}: no image {folder / 'images' / label_file.stem}"
                f".{{{','.join(s[1:] for s in IMAGE_SUFFIXES)}}}"
            )
        boxes = [_object(fields, where) for where, fields in _lines(label_file)]
        frames.append(LabelledFrame(FrameRef(image=image), tuple(b for b in boxes if b)))
    if not frames:
        raise LabelError(f"{folder / 'labels'} holds no KITTI label files (*.txt)")
    return Sequence(folder.name, frames)


def _track_row(where: str, fields: list[str]) -> tuple[int, Box | None]:
    try:
        frame, track = int(fields[0]), int(fields[1])
    except (ValueError, IndexError) as error:
        raise LabelError(
            f"{where}: expected `{TRACKING_FIELDS}` with whole-number frame and track_id ({error})"
        ) from error
    if frame < 0:
        raise LabelError(f"{where}: frame must be 0 or more, got {frame}")
    box = _object(fields[2:], where, leading=2)
    return frame, Box(box.x, box.y, box.w, box.h, box.label, track) if box else None


def load_tracking_sequence(label_file: Path, image_dir: Path) -> Sequence:
    """One `label_02/<seq>.txt` with its frames in `image_02/<seq>/`."""
    if not image_dir.is_dir():
        raise LabelError(f"{label_file}: its frames folder {image_dir} is missing")
    boxes: dict[int, list[Box]] = {}
    for where, fields in _lines(label_file):
        frame, box = _track_row(where, fields)
        if box is not None:
            boxes.setdefault(frame, []).append(box)
    images = {int(stem): path for stem, path in _images(image_dir).items() if stem.isdigit()}
    missing = sorted(set(boxes) - set(images))
    if missing:
        raise LabelError(
            f"{label_file}: labelled frame {missing[0]} has no image "
            f"{image_dir}/{missing[0]:06d}.png"
        )
    frames = [
        LabelledFrame(FrameRef(image=path), tuple(boxes.get(number, ())))
        for number, path in sorted(images.items())
    ]
    return Sequence(label_file.stem, frames)


def load_kitti(folder: Path) -> LabelSet:
    """KITTI tracking sequences when `folder` has `label_02/`, else KITTI detection labels."""
    if all((folder / d).is_dir() for d in TRACKING_DIRS):
        sequences = [
            load_tracking_sequence(f, folder / TRACKING_DIRS[0] / f.stem)
            for f in sorted((folder / TRACKING_DIRS[1]).glob("*.txt"))
        ]
        if not sequences:
            raise LabelError(f"{folder / TRACKING_DIRS[1]} holds no KITTI tracking files (*.txt)")
    elif all((folder / d).is_dir() for d in DETECTION_DIRS):
        sequences = [load_detection(folder)]
    else:
        raise LabelError(
            f"{folder}: expected KITTI images/ + labels/ (detection) or image_02/ + label_02/ "
            "(tracking)"
        )
    return LabelSet(sequences, classes_in(sequences))
