"""Fixtures shared by the detector tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.unit.detectors.sample_frames import PERSON_FRAMES, read_frames


@pytest.fixture(scope="module")
def person_frames(sample_video: Path) -> list[np.ndarray]:
    """Frames of the sample where one person walks away from the camera."""
    return read_frames(sample_video, PERSON_FRAMES)
