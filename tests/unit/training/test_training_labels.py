"""Label importers: each format, written by the test, reads back to the same boxes and frames."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_code.training.frames import load_samples
from model_code.training.importers import (
    cut_sequence,
    detect_format,
    load_labels,
    split_by_sequence,
)
from model_code.training.labels import LabelError
from tests.unit.training.scenes import LABEL, WRITERS, make_scene

FORMAT_OF = {
    "groundtruth": "groundtruth",
    "groundtruth-detection": "groundtruth",
    "coco": "coco",
    "mot": "mot",
    "mot-video": "mot",
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_every_format_reads_back_the_written_boxes(tmp_path, writer):
    scene = make_scene(sequences=2, frames=4)
    WRITERS[writer](tmp_path, scene)
    assert detect_format(tmp_path) == FORMAT_OF[writer]
    labels = load_labels(tmp_path)
    assert labels.classes == (LABEL,)
    assert sorted(s.name for s in labels.sequences) == ["seq1", "seq2"]
    for sequence, (name, frames) in zip(labels.sequences, scene.items(), strict=True):
        assert len(sequence.frames) == len(frames), name
        for got, want in zip(sequence.frames, frames, strict=True):
            boxes = sorted((b.x, b.y, b.w, b.h) for b in got.boxes)
            assert boxes == sorted(tuple(map(float, b[:4])) for b in want.boxes)
            tracks = {b.track_id for b in got.boxes}
            assert len(tracks) == 2 and None not in tracks


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_pixels_match_the_written_frames(tmp_path, writer):
    scene = make_scene(sequences=2, frames=3)
    WRITERS[writer](tmp_path, scene)
    samples = load_samples(load_labels(tmp_path), max_side=80)
    assert len(samples) == 6
    first = scene["seq1"][0]
    sample = samples[0]
    assert sample.image.shape == (64, 80, 3)  # 160x128 shrunk to a long side of 80
    x, y, w, h, _ = first.boxes[0]
    assert [x / 2, y / 2, (x + w) / 2, (y + h) / 2] in sample.boxes.tolist()
    # The object's fill colour survives decoding (lossy codecs included).
    cx, cy = int(x / 2 + w / 4), int(y / 2 + h / 4)
    assert np.abs(sample.image[cy, cx].astype(int) - (30, 200, 240)).max() < 40


def test_split_keeps_whole_sequences_apart(tmp_path):
    WRITERS["mot"](tmp_path, make_scene(sequences=5, frames=2))
    train, val = split_by_sequence(load_labels(tmp_path), val_fraction=0.2)
    assert [s.name for s in val.sequences] == ["seq5"]
    assert {s.name for s in train.sequences} == {"seq1", "seq2", "seq3", "seq4"}
    named_train, named_val = split_by_sequence(load_labels(tmp_path), val_sequences=("seq2",))
    assert [s.name for s in named_val.sequences] == ["seq2"]
    assert len(named_train.sequences) == 4


def test_one_sequence_cannot_be_split_but_can_be_cut(tmp_path):
    WRITERS["mot"](tmp_path, make_scene(sequences=1, frames=6))
    labels = load_labels(tmp_path)
    with pytest.raises(LabelError, match="only one labelled sequence"):
        split_by_sequence(labels)
    train, val = split_by_sequence(cut_sequence(labels, "seq1", 0.5))
    assert [len(s.frames) for s in train.sequences + val.sequences] == [3, 3]


def test_groundtruth_without_local_copy_names_the_uri(tmp_path):
    WRITERS["groundtruth"](tmp_path, make_scene(sequences=1, frames=2))
    for label_file in tmp_path.rglob("SeqLabel.json"):
        label_file.unlink()
    with pytest.raises(LabelError, match=r"s3://labels-bucket/.*SeqLabel.json has no local copy"):
        load_labels(tmp_path)


def test_groundtruth_detection_job_without_object_ids_has_boxes_but_no_tracks(tmp_path):
    from tests.unit.training.scenes import write_groundtruth

    scene = make_scene(sequences=1, frames=3)
    write_groundtruth(tmp_path, scene, task="detection", object_ids=False)
    manifest = json.loads((tmp_path / "output.manifest").read_text().splitlines()[0])
    assert manifest["Widgets-ref-metadata"]["type"] == "groundtruth/video-object-detection"
    labels = load_labels(tmp_path)
    frames = labels.sequences[0].frames
    assert [len(f.boxes) for f in frames] == [len(f.boxes) for f in scene["seq1"]]
    assert {b.track_id for f in frames for b in f.boxes} == {None}


def test_groundtruth_seq_label_without_annotations_names_both_keys(tmp_path):
    from tests.unit.training.scenes import write_groundtruth

    write_groundtruth(tmp_path, make_scene(sequences=1, frames=2))
    for label_file in tmp_path.rglob("SeqLabel.json"):
        label_file.write_text(json.dumps({"annotations": []}))
    with pytest.raises(LabelError, match="tracking-annotations.*detection-annotations"):
        load_labels(tmp_path)


def test_groundtruth_rejects_other_task_types(tmp_path):
    line = {"source-ref": "s3://b/x.jpg", "L": 0, "L-metadata": {"type": "groundtruth/image"}}
    (tmp_path / "output.manifest").write_text(json.dumps(line) + "\n")
    with pytest.raises(LabelError, match="video frame labelling job"):
        load_labels(tmp_path)


def test_empty_folder_says_what_it_expected(tmp_path):
    with pytest.raises(LabelError, match="no labels found"):
        load_labels(tmp_path)


def test_mot_without_labels_file_keeps_pedestrians_only(tmp_path):
    WRITERS["mot"](tmp_path, make_scene(sequences=1, frames=2))
    (tmp_path / "seq1" / "gt" / "labels.txt").unlink()
    gt = tmp_path / "seq1" / "gt" / "gt.txt"
    rows = gt.read_text().splitlines()
    rows.append("2,50,10,10,40,60,1,3,1.0")  # class 3 (car) in MOT17 numbering: skipped
    rows.append("2,51,10,10,40,60,1,-1,-1,-1")  # MOT15 row: world coordinates, a person
    gt.write_text("\n".join(rows) + "\n")
    labels = load_labels(tmp_path)
    assert labels.classes == ("person",)
    assert {b.track_id for b in labels.sequences[0].frames[1].boxes} == {1, 2, 51}
