"""yolov4-tiny (our torch module): OpenCV DNN's outputs, the weights check, and real people."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from model_code.detectors import build_detector
from model_code.detectors.base import DetectorError
from model_code.detectors.darknet import Darknet, YoloLayer
from model_code.detectors.darknet_files import WEIGHTS_ENV
from model_code.detectors.letterbox import letterbox
from model_code.detectors.yolov3_tiny import patch_cfg
from model_code.detectors.yolov4_tiny import (
    CFG_FILE,
    FILES,
    NAMES_FILE,
    WEIGHTS_FILE,
    YoloV4TinyDetector,
    find_weights_dir,
    load_yolov4_tiny,
)
from tests.unit.detectors.sample_frames import (
    assert_rows_match_opencv,
    assert_the_walking_person_is_found,
    opencv_darknet_rows,
)

INPUT = (416, 256)


@pytest.fixture(scope="module")
def detector() -> YoloV4TinyDetector:
    return YoloV4TinyDetector()


def opencv_rows(image: np.ndarray) -> np.ndarray:
    """OpenCV DNN's rows for the shipped cfg, with `thresh = 0` so that OpenCV keeps every
    candidate."""
    folder = find_weights_dir()
    cfg = patch_cfg((folder / CFG_FILE).read_text(), fix_mask=False)
    return opencv_darknet_rows(image, cfg, (folder / WEIGHTS_FILE).read_bytes())


def test_module_matches_opencv_dnn_per_anchor(person_frames: list[np.ndarray]) -> None:
    image, _ = letterbox(person_frames[1], INPUT)
    want = opencv_rows(image)
    module = load_yolov4_tiny(find_weights_dir())
    pixels = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    with torch.inference_mode():
        got = module.predict(pixels)[0].numpy()
    assert_rows_match_opencv(got, want)
    confident = want[:, 5:].max(axis=1) > 0.05

    # scale_x_y (1.05) is what puts the centres there: without it they move off OpenCV's
    for layer in module.layers:
        if isinstance(layer, YoloLayer):
            assert layer.scale_xy == pytest.approx(1.05)
            layer.scale_xy = 1.0
    with torch.inference_mode():
        plain = module.predict(pixels)[0].numpy()
    moved = np.abs((plain[:, :2] + plain[:, 2:4]) / 2 - want[:, :2])[confident]
    assert moved.max() > 0.2


def test_route_groups_take_one_channel_slice_of_each_source() -> None:
    cfg = (
        "[net]\nchannels=4\n[maxpool]\nsize=1\nstride=1\n"  # an identity layer to route from
        "[route]\nlayers=-1\ngroups=2\ngroup_id=1\n[route]\nlayers=-1,-2\n"
        "[yolo]\nmask=0\nanchors=1,1\nclasses=1\n"
    )
    pixels = torch.arange(4 * 2 * 3, dtype=torch.float32).view(1, 4, 2, 3)
    (head,) = Darknet(cfg).forward(pixels)
    seen = (pixels / 255.0).flip(1)  # what the layers see: scaled, channels reversed
    torch.testing.assert_close(head, torch.cat([seen[:, 2:], seen], dim=1))


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ("[net]\n[route]\nlayers=-1\ngroups=2\ngroup_id=2\n", "does not split"),
        ("[net]\nchannels=3\n[route]\nlayers=-1\ngroups=2\n", "does not split"),
        ("[net]\n[convolutional]\nfilters=4\ngroups=3\n", "grouped or dilated"),
        ("[net]\n[yolo]\nmask=0\nanchors=1,1\nclasses=1\nnew_coords=1\n", "new_coords"),
    ],
)
def test_unsupported_cfg_options_are_errors(cfg: str, message: str) -> None:
    with pytest.raises(DetectorError, match=message):
        Darknet(cfg)


def test_people_found_on_the_sample(
    detector: YoloV4TinyDetector, person_frames: list[np.ndarray]
) -> None:
    assert_the_walking_person_is_found(detector.detect(person_frames))
    assert detector.class_names[0] == "person" and len(detector.class_names) == 80


def test_weights_that_are_not_the_official_file_are_refused(tmp_path: Path) -> None:
    packaged = find_weights_dir()
    for name in (CFG_FILE, NAMES_FILE):
        (tmp_path / name).symlink_to(packaged / name)
    official = (packaged / WEIGHTS_FILE).read_bytes()
    (tmp_path / WEIGHTS_FILE).write_bytes(official[:-4] + b"\x00\x00\x80\x3f")  # one float off
    with pytest.raises(DetectorError, match="not the official yolov4-tiny weights"):
        build_detector("yolov4-tiny", weights=tmp_path)


def test_weights_dir_argument_env_and_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packaged = find_weights_dir()
    assert packaged.parts[-2:] == ("cfgs", "yolov4_tiny")
    with pytest.raises(DetectorError, match="lacks yolov4-tiny.cfg, yolov4-tiny.weights"):
        build_detector("yolov4-tiny", weights=tmp_path)
    for name in FILES:
        (tmp_path / name).symlink_to(packaged / name)
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    assert find_weights_dir() == tmp_path
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "missing"))
    with pytest.raises(DetectorError, match="MOTFLOW_WEIGHTS_DIR"):
        build_detector("yolov4-tiny")
