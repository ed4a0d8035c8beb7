"""SageMaker Ground Truth video frame object tracking and object detection output -> LabelSet.

The output manifest has one JSON line per sequence (AWS docs, "Video Frame Object Tracking
Output" and "Video Frame Object Detection Output"): `source-ref` is the input sequence file
(`prefix`, `frames` [{frame-no, frame}]), `<attribute>-ref` is that sequence's `SeqLabel.json`,
and `<attribute>-ref-metadata` holds the `class-map` and `type`
"groundtruth/video-object-tracking" or "groundtruth/video-object-detection". SeqLabel.json lists,
per annotated frame, `frame-no`, `frame` and `annotations` of {left, top, width, height,
class-id, object-id}: under `tracking-annotations` for a tracking job and under
`detection-annotations` for a detection job, whose boxes may carry no object-id (they then have
no track id: they train the detector but are not scored as tracks).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from model_code.training.labels import (
    Box,
    FrameRef,
    LabelError,
    LabelledFrame,
    LabelSet,
    Sequence,
    classes_in,
    read_label_json,
    valid_box,
)
from model_code.training.local_paths import resolve

TASK_TYPES = ("groundtruth/video-object-tracking", "groundtruth/video-object-detection")
# The SeqLabel.json key holding the frames, per task type's output.
ANNOTATION_KEYS = ("tracking-annotations", "detection-annotations")
METADATA_SUFFIX = "-ref-metadata"


def _label_attribute(line: dict[str, Any], where: str) -> str:
    names = [k[: -len(METADATA_SUFFIX)] for k in line if k.endswith(METADATA_SUFFIX)]
    tracked = [n for n in names if line[n + METADATA_SUFFIX].get("type") in TASK_TYPES]
    if len(tracked) != 1 or f"{tracked[0]}-ref" not in line:
        raise LabelError(
            f"{where}: expected one '<attribute>-ref' with metadata type "
            f"{' or '.join(TASK_TYPES)}; is this a video frame labelling job's output manifest?"
        )
    return tracked[0]


def load_groundtruth(manifest: Path, root: Path | None = None) -> LabelSet:
    """Read an output manifest; S3 references are found under `root` (default: its folder)."""
    root = root or manifest.parent
    try:
        lines = [ln for ln in manifest.read_text(encoding="utf-8").splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as error:
        raise LabelError(f"cannot read {manifest}: {error}") from error
    sequences = []
    for number, text in enumerate(lines, 1):
        where = f"{manifest}:{number}"
        try:
            line = json.loads(text)
        except json.JSONDecodeError as error:
            raise LabelError(f"{where} is not a JSON line: {error}") from error
        attribute = _label_attribute(line, where)
        class_map = line[attribute + METADATA_SUFFIX].get("class-map") or {}
        seq_file = resolve(line["source-ref"], root, named_in=manifest)
        seq_label = resolve(line[f"{attribute}-ref"], root, named_in=manifest)
        sequences.append(_sequence(seq_file, seq_label, class_map, root))
    return LabelSet(sequences, classes_in(sequences))


def _sequence(seq_file: Path, seq_label: Path, class_map: dict[str, str], root: Path) -> Sequence:
    source = read_label_json(seq_file)
    prefix = str(source.get("prefix", "")).rstrip("/")
    frame_names = {str(f["frame"]) for f in source.get("frames", [])}
    content = read_label_json(seq_label)
    found = [key for key in ANNOTATION_KEYS if isinstance(content, dict) and key in content]
    labels = content[found[0]] if found else None
    if not isinstance(labels, list):
        raise LabelError(
            f"{seq_label} has no {' or '.join(repr(k) for k in ANNOTATION_KEYS)} list "
            "(a video frame object tracking or object detection job's SeqLabel.json)"
        )
    object_ids: dict[str, int] = {}
    frames = []
    for entry in labels:
        name = str(entry["frame"])
        if frame_names and name not in frame_names:
            raise LabelError(f"{seq_label}: frame {name} is not in the sequence file {seq_file}")
        image = resolve(f"{prefix}/{name}" if prefix else name, root, named_in=seq_file)
        boxes = []
        for box in entry.get("annotations", []):
            class_id = str(box["class-id"])
            if class_id not in class_map:
                raise LabelError(f"{seq_label}: class-id {class_id} is not in the class-map")
            x, y, w, h = (float(box[k]) for k in ("left", "top", "width", "height"))
            if not valid_box(x, y, w, h):
                continue
            object_id = str(box.get("object-id", box.get("object-name", "")))
            track = object_ids.setdefault(object_id, len(object_ids) + 1) if object_id else None
            boxes.append(Box(x, y, w, h, class_map[class_id], track))
        frames.append(LabelledFrame(FrameRef(image=image), tuple(boxes)))
    return Sequence(seq_file.stem, frames)
