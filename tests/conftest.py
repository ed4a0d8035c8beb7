"""Suite-wide configuration: tool state stays in the checkout; shared data is optional."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.wheel import build_motflow_wheel

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

os.environ.setdefault("JSII_RUNTIME_PACKAGE_CACHE_ROOT", str(REPO_ROOT / ".cache" / "jsii"))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
os.environ.setdefault("CDK_HOME", str(REPO_ROOT / ".cache" / "cdk"))
os.environ.setdefault("XDG_CACHE_HOME", str(REPO_ROOT / ".cache" / "xdg"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The evaluation data beside the checkout; tests needing it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared evaluation data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_video() -> Path:
    return REPO_ROOT / "samples" / "people-walking.mp4"


@pytest.fixture(scope="session")
def motflow_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The motflow wheel, built once for the session by the tests that install it."""
    return build_motflow_wheel(tmp_path_factory.mktemp("motflow-wheel"))
