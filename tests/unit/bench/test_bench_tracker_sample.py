"""tracker_defaults' sample gate: the sample's two people must each keep one id on their frames."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import tracker_sample as td
from model_code.tracking import TrackerConfig


def _sample(path: Path, squat_frames: range = range(0)) -> Path:
    """A person walking on each sample span, from 3 frames before it (60x160 px; 80x60 px on
    `squat_frames`)."""
    rows = []
    for first, last in td.SAMPLE_SPANS.values():
        for frame in range(first - 3, last + 1):
            x = 100.0 + 2 * (frame - first)
            w, h = (80.0, 60.0) if frame in squat_frames else (60.0, 160.0)
            rows.append(f"{frame},-1,{x},50,{w},{h},0.9,-1,-1,-1\n")
    path.write_text("".join(rows))
    return path


@pytest.fixture
def sample(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "sample-det.txt"
    monkeypatch.setattr(td, "SAMPLE_DETS", path)
    return path


def test_one_id_per_person_on_every_frame_holds(sample) -> None:
    _sample(sample)
    assert td.holds_sample(TrackerConfig())
    assert "id 1 on 100%" in td.sample_check(TrackerConfig())


def test_a_filter_that_drops_some_of_a_persons_frames_fails_the_gate(sample) -> None:
    _sample(sample, squat_frames=range(60, 70))
    assert not td.holds_sample(TrackerConfig(max_aspect_ratio=0.9))
    assert td.holds_sample(TrackerConfig(max_aspect_ratio=1.6))


def test_without_the_cached_sample_the_gate_does_not_rank(sample) -> None:
    assert td.holds_sample(TrackerConfig())
    assert "skipped" in td.sample_check(TrackerConfig())
