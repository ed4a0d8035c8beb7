"""COCO detection JSON (`images`, `annotations`, `categories`) -> LabelSet.

COCO has no sequences. Images with a `video_id` (the COCO-VID / TAO extension) form one sequence
per video, ordered by `frame_id`; other images are grouped by the folder of their `file_name`.
`iscrowd` boxes are skipped; `instance_id` or `track_id`, when present, becomes the track id.
"""

from __future__ import annotations

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

REQUIRED_KEYS = ("images", "annotations", "categories")


def is_coco(data: Any) -> bool:
    return isinstance(data, dict) and all(k in data for k in REQUIRED_KEYS)


def load_coco(path: Path, images_dir: Path | None = None) -> LabelSet:
    data = read_label_json(path)
    if not is_coco(data):
        raise LabelError(f"{path} is not COCO: it needs the keys {', '.join(REQUIRED_KEYS)}")
    categories = {c["id"]: str(c["name"]) for c in data["categories"]}
    boxes: dict[Any, list[Box]] = {}
    for ann in data["annotations"]:
        if ann.get("iscrowd"):
            continue
        if ann["category_id"] not in categories:
            raise LabelError(f"{path}: annotation {ann.get('id')} has an unknown category_id")
        x, y, w, h = (float(v) for v in ann["bbox"])
        if valid_box(x, y, w, h):
            track = ann.get("instance_id", ann.get("track_id"))
            box = Box(x, y, w, h, categories[ann["category_id"]], track)
            boxes.setdefault(ann["image_id"], []).append(box)
    videos = {v["id"]: str(v.get("name", v["id"])) for v in data.get("videos", [])}
    root = images_dir or path.parent
    grouped: dict[str, list[tuple[Any, LabelledFrame]]] = {}
    for image in data["images"]:
        file_name = str(image["file_name"])
        if "video_id" in image:
            sequence = videos.get(image["video_id"], str(image["video_id"]))
            order: Any = image.get("frame_id", image["id"])
        else:
            sequence = Path(file_name).parent.as_posix() or "images"
            order = file_name
        local = resolve(file_name, root, named_in=path)
        frame = LabelledFrame(FrameRef(image=local), tuple(boxes.get(image["id"], ())))
        grouped.setdefault(sequence.replace("/", "_") or "images", []).append((order, frame))
    sequences = [
        Sequence(name, [f for _, f in sorted(items, key=lambda item: item[0])])
        for name, items in sorted(grouped.items())
    ]
    return LabelSet(sequences, classes_in(sequences))
