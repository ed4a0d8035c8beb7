"""Reads a labelled data folder in any supported format, and splits it by sequence.

Formats, found in this order when `fmt` is None:
- `groundtruth`: a `*.manifest` file (a Ground Truth video labelling job's output manifest);
- `coco`: a `*.json` file with COCO's `images`, `annotations` and `categories`;
- `mot`: MOTChallenge sequence folders (`SEQ/gt/gt.txt` with `img1/` or a video);
- `kitti`: KITTI labels, `images/` + `labels/` (object detection, as NVIDIA TAO/TLT reads them)
  or `image_02/` + `label_02/` (tracking, with track ids); see `kitti.py`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from model_code.training.coco import is_coco, load_coco
from model_code.training.groundtruth import load_groundtruth
from model_code.training.kitti import is_kitti, load_kitti
from model_code.training.labels import LabelError, LabelSet, Sequence
from model_code.training.mot import is_sequence, load_mot

FORMATS = ("groundtruth", "coco", "mot", "kitti")


def _coco_files(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            if is_coco(json.loads(path.read_text(encoding="utf-8"))):
                found.append(path)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
    return found


def detect_format(folder: Path) -> str:
    if sorted(folder.glob("*.manifest")):
        return "groundtruth"
    if _coco_files(folder):
        return "coco"
    if is_sequence(folder) or any(is_sequence(p) for p in folder.iterdir() if p.is_dir()):
        return "mot"
    if is_kitti(folder):
        return "kitti"
    raise LabelError(
        f"{folder}: no labels found; expected a Ground Truth output manifest (*.manifest), "
        "a COCO JSON file, MOTChallenge sequence folders (SEQ/gt/gt.txt), or KITTI labels "
        "(images/ + labels/, or image_02/ + label_02/)"
    )


def load_labels(folder: str | Path, fmt: str | None = None) -> LabelSet:
    """Every sequence in `folder`, in the given or detected format."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LabelError(f"data folder not found: {folder}")
    fmt = fmt or detect_format(folder)
    if fmt == "groundtruth":
        manifests = sorted(folder.glob("*.manifest"))
        parts = [load_groundtruth(m, folder) for m in manifests]
    elif fmt == "coco":
        parts = [load_coco(p) for p in _coco_files(folder)]
    elif fmt == "mot":
        parts = [load_mot(folder)]
    elif fmt == "kitti":
        parts = [load_kitti(folder)]
    else:
        raise LabelError(f"unknown label format {fmt!r}; valid: {', '.join(FORMATS)}")
    sequences = [s for part in parts for s in part.sequences]
    classes: dict[str, None] = {}
    for part in parts:
        classes.update(dict.fromkeys(part.classes))
    labels = LabelSet(sequences, tuple(classes))
    if labels.box_count == 0:
        raise LabelError(f"{folder}: the {fmt} labels hold no boxes")
    return labels


def split_by_sequence(
    labels: LabelSet, val_fraction: float = 0.2, val_sequences: tuple[str, ...] = ()
) -> tuple[LabelSet, LabelSet]:
    """(train, validation), whole sequences on each side, never frames of one on both.

    `val_sequences` names them; otherwise the last `val_fraction` of the sorted sequence names
    (at least one). A single sequence cannot be split: the caller splits its video instead.
    """
    names = sorted(s.name for s in labels.sequences)
    if val_sequences:
        unknown = sorted(set(val_sequences) - set(names))
        if unknown:
            raise LabelError(f"unknown validation sequence(s) {', '.join(unknown)}")
        val = set(val_sequences)
    else:
        if len(names) < 2:
            raise LabelError(
                f"only one labelled sequence ({names[0] if names else 'none'}): validation needs "
                "a sequence of its own; label a second clip, or cut the video in two"
            )
        count = min(len(names) - 1, max(1, math.ceil(len(names) * val_fraction)))
        val = set(names[-count:])
    train = [n for n in names if n not in val]
    if not train:
        raise LabelError("every sequence is in validation; leave at least one for training")
    return labels.select(train), labels.select(val)


def cut_sequence(labels: LabelSet, name: str, at: float) -> LabelSet:
    """Sequence `name` cut in two at fraction `at` of its frames: `name-a` and `name-b`."""
    out = []
    for sequence in labels.sequences:
        if sequence.name != name:
            out.append(sequence)
            continue
        cut = int(len(sequence.frames) * at)
        out += [
            Sequence(f"{name}-a", sequence.frames[:cut]),
            Sequence(f"{name}-b", sequence.frames[cut:]),
        ]
    return LabelSet(out, labels.classes)
