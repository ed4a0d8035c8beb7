"""Reading one segment of a video (VideoReader window): exact frames, source numbers and times."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model_code.video import VideoReader

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "people-walking.mp4"


def _frames(**kwargs) -> dict[int, tuple[int, float]]:
    found = {}
    with VideoReader(SAMPLE, **kwargs) as video:
        for number, image in video:
            found[number] = (int(np.asarray(image, dtype=np.int64).sum()), video.time_of(number))
    return found


def test_a_window_yields_the_same_frames_numbers_and_times_as_the_whole_video() -> None:
    whole = _frames()
    part = _frames(window=(12.3, 17.0))  # 10 fps: frames 124..170, not starting on a keyframe
    assert (min(part), max(part), len(part)) == (124, 170, 47)
    assert all(part[number] == whole[number] for number in part)


def test_a_window_keeps_the_stride_grid_of_the_source() -> None:
    numbers = list(_frames(stride=3, window=(5.0, 10.0)))
    assert numbers[0] == 52 and all((n - 1) % 3 == 0 for n in numbers)


def test_a_bad_window_is_refused() -> None:
    with pytest.raises(ValueError, match="window"):
        VideoReader(SAMPLE, window=(5.0, 5.0))
