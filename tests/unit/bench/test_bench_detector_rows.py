"""Per-detector tracker rows: cached det files found or skipped, the held-out window, the table."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from bench import detector_dets
from bench import tracker_accuracy as ta
from model_code.detectors import Detections


def _write_rows(path: Path, rows: list[tuple]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(",".join(str(v) for v in row) + "\n" for row in rows))
    return path


@pytest.fixture
def pets(tmp_path, monkeypatch) -> Path:
    """A tiny PETS gt (one person on frames 1, 397, 398, 400, 795) and an empty det cache."""
    data, cache = tmp_path / "data", tmp_path / "cache"
    gt = [(f, 1, 10.5, 20, 30, 60, 1, -1, -1, -1) for f in (1, 397, 398, 400, 795)]
    _write_rows(data / "MOT15" / "train" / ta.PETS / "gt" / "gt.txt", gt)
    cache.mkdir()
    monkeypatch.setattr(ta, "DATA", data)
    monkeypatch.setattr(ta, "CACHE", cache)
    return cache


def _det(frame: int, score: float = 0.9) -> tuple:
    return (frame, -1, 10, 20, 30, 60, score, -1, -1, -1)


def test_frame_window_keeps_the_window_and_renumbers_it_from_one() -> None:
    rows = np.array([[f, -1, 0, 0, 1, 1, 0.5] for f in (397, 398, 500, 795, 796)], dtype=float)
    cut = ta.frame_window(rows, 398, 795)
    assert cut[:, 0].tolist() == [1, 103, 398]
    assert rows[:, 0].tolist() == [397, 398, 500, 795, 796]  # the input is left alone


def test_each_cached_detector_gets_a_row_and_each_missing_one_a_note(pets) -> None:
    _write_rows(pets / "vtest-yolov3-tiny-det.txt", [_det(1), _det(2, 0.4)])
    rows, skipped = ta.detector_rows(("nanodet-g", "yolov3-tiny", "yolox-onnx"))
    assert [row.name for row in rows] == ["c) PETS09 yolov3-tiny"]
    assert rows[0].detector == rows[0].detections == "yolov3-tiny"
    assert rows[0].sequences[0].frames == 795
    assert rows[0].sequences[0].det_rows[:, 6].tolist() == [0.9, 0.4]
    notes = "\n".join(skipped)
    assert "row c (nanodet-g)" in notes and "--detector nanodet-g`" in notes
    assert "row c (yolox-onnx)" in notes and "--weights" in notes
    assert f"row c ({ta.FINETUNED})" in notes


def test_the_fine_tuned_row_is_cut_to_the_held_out_frames_gt_included(pets) -> None:
    first, last = ta.HELD_OUT
    _write_rows(pets / f"vtest-{ta.FINETUNED}-det.txt", [_det(first - 1), _det(first), _det(400)])
    rows, skipped = ta.detector_rows(())
    assert not skipped
    (row,) = rows
    (seq,) = row.sequences
    assert row.detector not in ("generic", "nanodet-g")  # out of tracker_defaults' tuning set
    assert ta.FINETUNED in row.detections and f"{first}-{last}" in row.detections
    assert seq.frames == last - first + 1
    assert seq.det_rows[:, 0].tolist() == [1, 400 - first + 1]
    gt = np.loadtxt(seq.gt_path, delimiter=",", ndmin=2)
    assert gt[:, 0].tolist() == [1, 400 - first + 1, last - first + 1]
    assert gt[0, 2] == 10.5


def test_the_base_nanodet_g_is_scored_on_the_same_held_out_frames(pets) -> None:
    first, last = ta.HELD_OUT
    _write_rows(pets / f"vtest-{ta.FINETUNED}-det.txt", [_det(first)])
    _write_rows(pets / "vtest-nanodet-g-det.txt", [_det(1), _det(first + 1, 0.7)])
    rows, _ = ta.detector_rows(("nanodet-g",))
    full, tuned, base = rows
    assert full.sequences[0].frames == 795 and len(full.sequences[0].det_rows) == 2
    assert "nanodet-g (gt frames" in base.detections and base.detector != "nanodet-g"
    assert base.sequences[0].det_rows[:, [0, 6]].tolist() == [[2, 0.7]]
    assert base.sequences[0].gt_path == tuned.sequences[0].gt_path
    assert "same detections" not in tuned.detections


def test_a_fine_tuned_file_equal_to_the_base_on_the_held_out_frames_says_so(pets) -> None:
    first = ta.HELD_OUT[0]
    _write_rows(pets / f"vtest-{ta.FINETUNED}-det.txt", [_det(first, 0.7)])
    _write_rows(pets / "vtest-nanodet-g-det.txt", [_det(1), _det(first, 0.7)])
    tuned, base = ta.detector_rows(())[0]
    assert "the same detections as nanodet-g" in tuned.detections
    assert "same detections" not in base.detections


def test_a_fine_tuned_file_without_held_out_frames_is_skipped(pets) -> None:
    _write_rows(pets / f"vtest-{ta.FINETUNED}-det.txt", [_det(1), _det(ta.HELD_OUT[0] - 1)])
    rows, skipped = ta.detector_rows(())
    assert rows == []
    assert skipped and "no detections in frames 398-795" in skipped[0]


def test_without_the_pets_gt_row_c_is_one_note(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(ta, "DATA", tmp_path)
    rows, skipped = ta.detector_rows()
    assert rows == [] and len(skipped) == 1 and "not found" in skipped[0]


def _m(mota: float, idf1: float, hota: float) -> dict:
    return {"mota": mota, "idf1": idf1, "hota": hota, "num_switches": 0}


def test_detector_table_has_a_line_per_metric_with_every_anchor_and_the_margin() -> None:
    anchors = ["authors (bytetracker 0.3.2)", "trackers SORT"]
    row = "c) PETS09 yolov3-tiny"
    results = [
        (row, "ours (yolov3-tiny preset)", _m(0.70, 0.60, 0.50)),
        (row, ta.OURS_EXTERNAL, _m(0.80, 0.60, 0.40)),
        (row, anchors[0], _m(0.75, 0.65, 0.45)),
        (row, anchors[1], _m(0.60, 0.70, 0.30)),
        ("d) not a detector row", ta.OURS_EXTERNAL, _m(0.1, 0.1, 0.1)),
    ]
    table = ta.detector_table(results, anchors, {row: "yolov3-tiny"}).splitlines()
    assert "| authors | SORT |" in table[0]
    assert len(table) == 2 + 3
    mota, idf1, hota = table[2:]
    assert mota.startswith("| yolov3-tiny | MOTA | 80.0 | 70.0 | 75.0 | 60.0 | 75.0 (authors) |")
    assert mota.endswith("| +5.0 / -5.0 |")
    assert "70.0 (SORT)" in idf1 and idf1.endswith("| -10.0 / -10.0 |")
    assert hota.endswith("| -5.0 / +5.0 |")


def test_detector_names_expand_all_and_refuse_unknown_names() -> None:
    assert detector_dets.detector_names(["all", "nanodet-g"]) == list(ta.PROJECT_DETECTORS)
    with pytest.raises(SystemExit, match="unknown detector 'yolov5'"):
        detector_dets.detector_names(["yolov5"])


def test_yolox_without_weights_is_skipped_before_anything_is_built(
    tmp_path, monkeypatch, capsys
) -> None:
    def no_build(*args, **kwargs):
        raise AssertionError("a detector was built")

    monkeypatch.setattr(detector_dets, "build_detector", no_build)
    detector_dets.main(
        ["--detector", "yolox-onnx", "--out", str(tmp_path), str(tmp_path / "v.avi")]
    )
    assert "skipped yolox-onnx: needs --weights" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_weights_or_label_with_several_detectors_is_an_error(tmp_path) -> None:
    with pytest.raises(SystemExit) as exited:
        detector_dets.main(["--detector", "all", "--label", "x", str(tmp_path / "v.avi")])
    assert exited.value.code == 2


class _FrameIndexDetector:
    """One person per frame whose score encodes how many frames it has seen (1-based)."""

    name = "fake"

    def __init__(self) -> None:
        self.seen = 0

    def detect(self, frames: list) -> list[Detections]:
        out = []
        for _ in frames:
            self.seen += 1
            out.append(Detections([[1, 2, 11, 22]], [self.seen / 100], [0]))
        return out


def test_cached_rows_number_frames_from_one_across_batches_and_use_the_label(
    tmp_path, monkeypatch
) -> None:
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 32))
    for _ in range(detector_dets.BATCH + 3):
        writer.write(np.zeros((32, 32, 3), np.uint8))
    writer.release()
    built = {}

    def fake_build(name, **kwargs):
        built.update(name=name, **kwargs)
        return _FrameIndexDetector()

    monkeypatch.setattr(detector_dets, "build_detector", fake_build)
    weights = tmp_path / "model.onnx"
    args = ["--detector", "yolox-onnx", "--weights", str(weights), "--label", "mine"]
    detector_dets.main([*args, "--out", str(tmp_path / "out"), str(video)])
    assert built == {"name": "yolox-onnx", "weights": weights}
    rows = np.loadtxt(tmp_path / "out" / "clip-mine-det.txt", delimiter=",", ndmin=2)
    frames = np.arange(1, detector_dets.BATCH + 4)
    assert rows[:, 0].tolist() == frames.tolist()
    assert rows[:, 6].tolist() == pytest.approx((frames / 100).tolist())
    assert rows[0, 2:6].tolist() == [1, 2, 10, 20]


def test_the_int8_detections_get_a_row_kept_out_of_the_tuning_set(pets) -> None:
    _write_rows(pets / "vtest-nanodet-g-int8-det.txt", [_det(1), _det(3, 0.7)])
    rows, skipped = ta.detector_rows(("nanodet-g",))
    assert [row.name for row in rows] == ["c) PETS09 nanodet-g int8"]
    assert "@" in rows[0].detector  # tracker_defaults tunes on no row with "@" in its detector
    assert rows[0].sequences[0].det_rows[:, 6].tolist() == [0.9, 0.7]
    assert not [note for note in skipped if "(nanodet-g int8)" in note]
    assert [note for note in skipped if "(nanodet-g)" in note]


def test_a_detector_that_runs_int8_on_the_cpu_is_cached_in_fp32_and_in_int8(
    tmp_path, monkeypatch
) -> None:
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 32))
    writer.write(np.zeros((32, 32, 3), np.uint8))
    writer.release()
    built = []

    def fake_build(name, **kwargs):
        built.append((name, kwargs.get("int8")))
        return _FrameIndexDetector()

    monkeypatch.setattr(detector_dets, "build_detector", fake_build)
    detector_dets.main(["--detector", "nanodet-g", "--out", str(tmp_path / "out"), str(video)])
    assert built == [("nanodet-g", False), ("nanodet-g", True)]
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["clip-nanodet-g-det.txt", "clip-nanodet-g-int8-det.txt"]
