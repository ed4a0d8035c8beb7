"""Where a darknet detector's files are: a weights argument, $MOTFLOW_WEIGHTS_DIR, or the data
folder of the pip package that ships them (installed `--no-deps`, never imported)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from model_code.detectors.base import DetectorError

WEIGHTS_ENV = "MOTFLOW_WEIGHTS_DIR"


def find_darknet_dir(
    weights_dir: str | os.PathLike[str] | None,
    *,
    detector: str,
    files: Sequence[str],
    packaged: Callable[[], Path | None],
    package: str,
    install: str,
) -> Path:
    """The folder holding `files`: the argument, then $MOTFLOW_WEIGHTS_DIR, then `packaged()`
    (the `package`'s data folder, None when it is not installed; `install` says how)."""
    if weights_dir is not None:
        return checked_darknet_dir(Path(weights_dir), "the weights argument", detector, files)
    if os.environ.get(WEIGHTS_ENV):
        folder = Path(os.environ[WEIGHTS_ENV])
        return checked_darknet_dir(folder, f"${WEIGHTS_ENV}", detector, files)
    folder = packaged()
    if folder is None:
        raise DetectorError(
            f"no {detector} weights: pass a weights folder, set ${WEIGHTS_ENV}, or {install}"
        )
    return checked_darknet_dir(folder, f"the {package} package data", detector, files)


def checked_darknet_dir(folder: Path, origin: str, detector: str, files: Sequence[str]) -> Path:
    """`folder`, if it holds every one of `files`; else a DetectorError naming what lacks."""
    if not folder.is_dir():
        raise DetectorError(f"{detector} weights folder {folder} (from {origin}) does not exist")
    missing = [name for name in files if not (folder / name).is_file()]
    if missing:
        raise DetectorError(
            f"{detector} weights folder {folder} (from {origin}) lacks {', '.join(missing)}"
        )
    return folder


def read_class_names(path: Path) -> tuple[str, ...]:
    """A darknet names file: one class name per non-blank line, in label order."""
    return tuple(name.strip() for name in path.read_text().splitlines() if name.strip())
