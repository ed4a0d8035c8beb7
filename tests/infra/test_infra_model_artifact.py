"""model.tar.gz: the layout the model server loads, byte-identical across builds."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from model_code.detectors import DETECTOR_NAMES, int8
from stacks.model_artifact import (
    DARKNET_FILES,
    DARKNET_PACKAGES,
    FIXED_MTIME,
    MODEL_CODE_DIR,
    NANODET_FILES,
    ModelArtifactError,
    artifact_entries,
    build_model_artifact,
    nanodet_weights_dir,
)
from stacks.settings import KNOWN_DETECTORS, Settings


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    return build_model_artifact(tmp_path_factory.mktemp("a") / "model.tar.gz", Settings())


def test_two_builds_are_byte_identical(artifact: Path, tmp_path: Path) -> None:
    # A copy of the package with fresh mtimes must not change a single byte.
    code_copy = tmp_path / "model_code"
    shutil.copytree(MODEL_CODE_DIR, code_copy, ignore=shutil.ignore_patterns("__pycache__"))
    for path in code_copy.rglob("*"):
        os.utime(path, (1_900_000_000, 1_900_000_000))
    second = build_model_artifact(tmp_path / "model.tar.gz", Settings(), model_code_dir=code_copy)
    assert sha256(second) == sha256(artifact)


def test_layout_is_what_the_model_server_loads(artifact: Path) -> None:
    with tarfile.open(artifact) as tar:
        names = tar.getnames()
        members = tar.getmembers()
        config = json.loads(tar.extractfile("config.json").read())
        server = tar.extractfile("code/model_code/serving/__main__.py").read()
    assert "code/model_code/__init__.py" in names
    assert "code/model_code/handler.py" in names
    # Only what the endpoint runs: a training-code edit does not change the model.
    assert not [n for n in names if n.startswith("code/model_code/training")]
    for name in NANODET_FILES:  # the default detector's weights ship with their notices
        assert f"weights/{name}" in names
    # the CPU's int8 NanoDet-g finds its calibration clip beside the weights, with its notices
    assert f"weights/{int8.CALIBRATION_FILE}" in names
    assert "weights/calibration-LICENSE-CC-BY-4.0.txt" in names
    assert not [n for n in names if n.startswith("weights/yolov3")]
    assert server == (MODEL_CODE_DIR / "serving" / "__main__.py").read_bytes()
    assert config == Settings().engine_config()
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("/", "..")) or "/../" in n]
    files = [m for m in members if m.isfile()]
    assert [m.name for m in files] == sorted(m.name for m in files)
    for member in members:
        assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")
        assert member.mtime == FIXED_MTIME
        assert member.mode == (0o755 if member.isdir() else 0o644)


def test_gzip_header_carries_no_time_or_name(artifact: Path) -> None:
    header = artifact.read_bytes()[:10]
    assert header[:2] == b"\x1f\x8b"
    assert header[3] & 0x08 == 0  # FNAME flag: no file name stored
    assert header[4:8] == b"\x00\x00\x00\x00"  # MTIME


def test_yolox_weights_replace_the_darknet_files(tmp_path: Path) -> None:
    weights = tmp_path / "yolox_s.onnx"
    weights.write_bytes(b"not really onnx, only packaged")
    settings = Settings(detector="yolox-onnx", weights=str(weights))
    artifact = build_model_artifact(tmp_path / "out" / "model.tar.gz", settings)
    with tarfile.open(artifact) as tar:
        names = tar.getnames()
        config = json.loads(tar.extractfile("config.json").read())
        packaged = tar.extractfile("weights/yolox_s.onnx").read()
    assert packaged == weights.read_bytes()
    assert not [n for n in names if n.startswith("weights/yolov3")]
    assert config["detector"] == "yolox-onnx"
    assert config["weights"] == "weights/yolox_s.onnx"


def test_yolov3_tiny_packs_the_darknet_files(tmp_path: Path) -> None:
    settings = Settings(detector="yolov3-tiny")
    artifact = build_model_artifact(tmp_path / "model.tar.gz", settings)
    with tarfile.open(artifact) as tar:
        names = tar.getnames()
        config = json.loads(tar.extractfile("config.json").read())
    assert all(f"weights/{name}" in names for name in DARKNET_FILES)
    assert not [n for n in names if n.startswith("weights/nanodet")]
    assert (config["detector"], config["weights"]) == ("yolov3-tiny", "weights")


def test_yolov4_tiny_packs_its_darknet_files_and_notice() -> None:
    entries = dict(artifact_entries(Settings(detector="yolov4-tiny")))
    files = DARKNET_PACKAGES["yolov4-tiny"][2]
    assert all(isinstance(entries[f"weights/{name}"], Path) for name in files)
    assert entries["weights/yolov4-tiny.weights"].parts[-3:-1] == ("cfgs", "yolov4_tiny")
    notice = entries["weights/NOTICE"].read_text()
    assert "cf9fbfd0f6d4869b35762f56100f50ed05268084078805f0e7989efe5bb8ca87" in notice
    assert "What is unknown" in notice
    assert not [n for n in entries if n.startswith(("weights/yolov3", "weights/nanodet"))]
    assert json.loads(entries["config.json"])["detector"] == "yolov4-tiny"


def test_settings_know_every_engine_detector() -> None:
    assert KNOWN_DETECTORS == DETECTOR_NAMES


def test_nanodet_notice_travels_with_the_weights(artifact: Path) -> None:
    with tarfile.open(artifact) as tar:
        notice = tar.extractfile("weights/NOTICE").read().decode()
        licence = tar.extractfile("weights/LICENSE-Apache-2.0.txt").read().decode()
    assert "RangiLyu" in notice and "converted" in notice and "Apache License" in notice
    assert "Apache License" in licence and "Version 2.0" in licence


def test_unfetched_nanodet_weights_say_to_run_setup(tmp_path: Path) -> None:
    (tmp_path / "nanodet.json").write_text("{}")
    with pytest.raises(ModelArtifactError, match="lacks nanodet.bin, NOTICE.*make setup"):
        nanodet_weights_dir(tmp_path)


def test_missing_model_server_is_a_clear_error(tmp_path: Path) -> None:
    package = tmp_path / "model_code"
    package.mkdir()
    (package / "__init__.py").write_text("")
    with pytest.raises(ModelArtifactError, match="model server not found"):
        build_model_artifact(tmp_path / "model.tar.gz", Settings(), model_code_dir=package)
