"""KITTI importer: detection (TAO/TLT layout) and tracking labels written by the test read back."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from model_code.training import train as training
from model_code.training.frames import load_samples
from model_code.training.importers import detect_format, load_labels
from model_code.training.labels import LabelError
from model_code.training.model import coco_rows
from tests.unit.training.scenes import make_sequence
from tests.unit.training.scripted_training import train_with_validations

ZEROS_3D = "1.70 0.60 0.80 1.00 1.50 10.00 0.00"  # h w l x y z ry: read, not used


def _kitti_object(kind: str, x: float, y: float, w: float, h: float) -> str:
    return f"{kind} 0.00 0 -1.50 {x:.2f} {y:.2f} {x + w:.2f} {y + h:.2f} {ZEROS_3D}"


def write_detection(root: Path, frames: int = 3) -> list:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    scene = make_sequence(0, frames)
    for t, frame in enumerate(scene):
        cv2.imwrite(str(root / "images" / f"{t:06d}.jpg"), frame.image)
        lines = [_kitti_object("Pedestrian", x, y, w, h) for x, y, w, h, _ in frame.boxes]
        lines[0] += " 0.93"  # an optional score column
        lines.append(_kitti_object("DontCare", 0, 0, 40, 40))
        (root / "labels" / f"{t:06d}.txt").write_text("\n".join(lines) + "\n")
    return scene


def write_tracking(root: Path, frames: int = 4) -> list:
    images = root / "image_02" / "0003"
    images.mkdir(parents=True)
    (root / "label_02").mkdir()
    scene = make_sequence(1, frames)
    lines = []
    for t, frame in enumerate(scene):
        cv2.imwrite(str(images / f"{t:06d}.png"), frame.image)
        if t == frames - 1:
            continue  # the last frame has no labels: a negative
        lines += [f"{t} {k} " + _kitti_object("Pedestrian", x, y, w, h) for x, y, w, h, k in
                  frame.boxes]  # fmt: skip
        lines.append(f"{t} -1 " + _kitti_object("DontCare", 0, 0, 40, 40))
    (root / "label_02" / "0003.txt").write_text("\n".join(lines) + "\n")
    return scene


def _xywh(boxes) -> list[tuple[float, ...]]:
    return sorted((b.x, b.y, b.w, b.h) for b in boxes)


def test_kitti_detection_reads_boxes_without_tracks_and_skips_dontcare(tmp_path):
    scene = write_detection(tmp_path)
    assert detect_format(tmp_path) == "kitti"
    labels = load_labels(tmp_path)
    assert labels.classes == ("Pedestrian",)
    assert coco_rows(labels.classes) == [0]  # COCO's person row, as for the other importers
    (sequence,) = labels.sequences
    assert len(sequence.frames) == len(scene)
    for got, want in zip(sequence.frames, scene, strict=True):
        assert _xywh(got.boxes) == sorted(tuple(map(float, b[:4])) for b in want.boxes)
        assert {b.track_id for b in got.boxes} == {None}
    samples = load_samples(labels, max_side=160)
    x, y, w, h, _ = scene[0].boxes[0]
    assert [x, y, x + w, y + h] in samples[0].boxes.tolist()
    assert (samples[0].track_ids == -1).all()


def test_kitti_tracking_reads_track_ids_and_keeps_unlabelled_frames(tmp_path):
    scene = write_tracking(tmp_path)
    assert detect_format(tmp_path) == "kitti"
    labels = load_labels(tmp_path)
    (sequence,) = labels.sequences
    assert sequence.name == "0003"
    assert len(sequence.frames) == len(scene)
    assert sequence.frames[-1].boxes == ()
    for got, want in zip(sequence.frames[:-1], scene[:-1], strict=True):
        assert sorted((b.x, b.y, b.w, b.h, b.track_id) for b in got.boxes) == sorted(
            (float(x), float(y), float(w), float(h), k) for x, y, w, h, k in want.boxes
        )


@pytest.mark.parametrize(
    ("layout", "line", "message"),
    [
        ("detection", "Pedestrian 0 0 -1 10 10 50", r"000000\.txt:2: expected 15 or 16 .*got 7"),
        ("detection", _kitti_object("Pedestrian", 1, 2, 30, 40).replace("0.00", "n/a", 1),
         r"000000\.txt:2: fields after `type` must be numbers"),
        ("tracking", "x 1 " + _kitti_object("Pedestrian", 1, 2, 30, 40),
         r"0003\.txt:2: expected `frame track_id type"),
        ("tracking", "0 1 Pedestrian 0 0", r"0003\.txt:2: expected 17 or 18 .*got 5"),
    ],
)  # fmt: skip
def test_malformed_kitti_lines_name_file_line_and_expectation(tmp_path, layout, line, message):
    if layout == "detection":
        write_detection(tmp_path, frames=1)
        path = tmp_path / "labels" / "000000.txt"
    else:
        write_tracking(tmp_path, frames=2)
        path = tmp_path / "label_02" / "0003.txt"
    first = path.read_text().splitlines()[0]
    path.write_text(f"{first}\n{line}\n")
    with pytest.raises(LabelError, match=message) as caught:
        load_labels(tmp_path)
    assert "\n" not in str(caught.value)


def test_kitti_label_without_image_is_named(tmp_path):
    write_detection(tmp_path, frames=2)
    (tmp_path / "images" / "000001.jpg").unlink()
    with pytest.raises(LabelError, match=r"000001\.txt: no image .*images/000001"):
        load_labels(tmp_path)


def test_detection_only_labels_select_by_map_and_say_so(monkeypatch):
    validations = [
        training.Validation(1.0, 0.90, 0.8, None),
        training.Validation(0.9, 0.93, 0.8, None),
    ]
    result, lines = train_with_validations(monkeypatch, validations)
    assert result.selected_by == "map50" and result.best_epoch == 1
    assert any("no track ids" in line and "mAP@0.5" in line for line in lines)
