"""The motflow wheel, built from a copy of the checkout's package sources (no stale build/)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# What the wheel is built from: pyproject.toml's packages, with container/ as motflow.cdk's
# image build context and samples/ for the calibration clip model.tar.gz ships.
WHEEL_SOURCES = (
    "pyproject.toml",
    "LICENSE",
    "motflow",
    "cli",
    "lambdas",
    "local",
    "stacks",
    "model_code",
    "container",
    "requirements",
    "samples",
)


def build_motflow_wheel(work: Path) -> Path:
    """Copy the sources into `work`/src and build the wheel into `work`/dist; its path."""
    source = work / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules")
    for name in WHEEL_SOURCES:
        path = REPO_ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, source / name)
    dist = work / "dist"
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)],
        check=True,
        timeout=120,
    )
    (wheel,) = dist.glob("motflow-*.whl")
    return wheel
