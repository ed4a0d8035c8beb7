"""yolov3-tiny (our torch module): the cfg mask fix, weight lookup, and real person detections."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from model_code.detectors import build_detector
from model_code.detectors.base import DetectorError
from model_code.detectors.darknet_files import WEIGHTS_ENV
from model_code.detectors.yolov3_tiny import (
    CFG_FILE,
    NAMES_FILE,
    WEIGHTS_FILE,
    YoloV3TinyDetector,
    find_weights_dir,
    patch_cfg,
    yolo_masks,
)
from tests.unit.detectors.sample_frames import assert_the_walking_person_is_found


@pytest.fixture(scope="module")
def detector() -> YoloV3TinyDetector:
    return YoloV3TinyDetector()


def test_shipped_cfg_has_the_wrong_mask_and_loading_fixes_it(
    detector: YoloV3TinyDetector,
) -> None:
    shipped = (find_weights_dir() / CFG_FILE).read_text()
    assert yolo_masks(shipped) == [(3, 4, 5), (0, 1, 2)]
    assert yolo_masks(patch_cfg(shipped)) == [(3, 4, 5), (1, 2, 3)]
    assert detector.yolo_masks == [(3, 4, 5), (1, 2, 3)]
    assert yolo_masks(patch_cfg(shipped, fix_mask=False)) == [(3, 4, 5), (0, 1, 2)]
    # the installed file itself is never edited
    assert yolo_masks((find_weights_dir() / CFG_FILE).read_text())[1] == (0, 1, 2)


def test_patch_keeps_everything_else_and_lets_all_candidates_through() -> None:
    shipped = (find_weights_dir() / CFG_FILE).read_text()
    patched = patch_cfg(shipped)
    assert patched.count("thresh = 0\n") == 2
    removed = [line for line in shipped.splitlines() if line not in patched.splitlines()]
    assert [line.replace(" ", "") for line in removed] == ["mask=0,1,2"]


def test_person_found_at_full_size(
    detector: YoloV3TinyDetector, person_frames: list[np.ndarray]
) -> None:
    results = detector.detect(person_frames)
    assert_the_walking_person_is_found(results)
    for dets in results:
        assert dets.boxes.dtype == np.float32 and dets.scores.dtype == np.float32
        assert (dets.boxes >= 0).all() and (dets.boxes[:, [0, 2]] <= 768).all()


def test_mask_fix_restores_box_size_for_small_people(person_frames: list[np.ndarray]) -> None:
    """At a quarter size the person is found by the second [yolo] layer, the one the fix
    changes; the unpatched cfg gives boxes about half as tall."""
    small = [cv2.resize(f, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
             for f in person_frames]  # fmt: skip
    fixed = YoloV3TinyDetector().detect(small)
    unfixed = YoloV3TinyDetector(fix_mask=False).detect(small)
    for good, bad in zip(fixed, unfixed, strict=True):
        assert len(good) >= 1 and len(bad) >= 1
        good_box = good.boxes[good.scores.argmax()]
        bad_box = bad.boxes[bad.scores.argmax()]
        good_height = good_box[3] - good_box[1]
        assert 70 < good_height <= 108  # the person is about 95 of the 108 rows
        assert bad_box[3] - bad_box[1] < 0.6 * good_height


def test_frames_of_different_sizes_in_one_call(
    detector: YoloV3TinyDetector, person_frames: list[np.ndarray]
) -> None:
    frame = person_frames[0]
    half = cv2.resize(frame, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    full, small, blank = detector.detect([frame, half, np.zeros((64, 96, 3), np.uint8)])
    assert len(blank) == 0
    best_full = full.boxes[full.scores.argmax()]
    best_small = small.boxes[small.scores.argmax()]
    # the same person in source pixels of each frame: the half frame's box is half as big
    np.testing.assert_allclose(best_small * 2, best_full, atol=40)
    assert detector.detect([]) == []


def test_score_threshold_and_low_scores_kept(person_frames: list[np.ndarray]) -> None:
    everything = YoloV3TinyDetector(classes=None, score_threshold=0.1).detect(person_frames)
    strict = YoloV3TinyDetector(classes=None, score_threshold=0.6).detect(person_frames)
    for loose, tight in zip(everything, strict, strict=True):
        assert (loose.scores >= 0.1).all() and (tight.scores >= 0.6).all()
        assert len(loose) >= len(tight)
    assert any((d.scores < 0.6).any() for d in everything)


def test_weights_dir_argument_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    packaged = find_weights_dir()
    for name in (CFG_FILE, WEIGHTS_FILE, NAMES_FILE):
        (tmp_path / name).symlink_to(packaged / name)
    assert find_weights_dir(tmp_path) == tmp_path
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    assert find_weights_dir() == tmp_path
    assert build_detector("yolov3-tiny").weights_dir == tmp_path  # type: ignore[attr-defined]


def test_bad_weights_dirs_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DetectorError, match="does not exist"):
        build_detector("yolov3-tiny", weights=tmp_path / "nowhere")
    with pytest.raises(
        DetectorError, match="lacks yolov3-tiny.cfg, yolov3-tiny.weights, coco.names"
    ):
        build_detector("yolov3-tiny", weights=tmp_path)
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "missing"))
    with pytest.raises(DetectorError, match="MOTFLOW_WEIGHTS_DIR"):
        build_detector("yolov3-tiny")


def test_corrupt_weights_are_a_detector_error(tmp_path: Path) -> None:
    packaged = find_weights_dir()
    for name in (CFG_FILE, NAMES_FILE):
        (tmp_path / name).symlink_to(packaged / name)
    (tmp_path / WEIGHTS_FILE).write_bytes(b"\x00" * 100)
    with pytest.raises(DetectorError, match="truncated"):
        build_detector("yolov3-tiny", weights=tmp_path)


def test_batched_frames_match_one_at_a_time(
    detector: YoloV3TinyDetector, person_frames: list[np.ndarray]
) -> None:
    batched = detector.detect(person_frames[:2])
    single = [detector.detect([frame])[0] for frame in person_frames[:2]]
    for a, b in zip(batched, single, strict=True):
        assert len(a) == len(b)
        np.testing.assert_allclose(a.boxes, b.boxes, atol=0.5)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-3)
