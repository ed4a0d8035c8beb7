"""Issue 21 hole 9: a long video cut short, tracked as segments, is warned about like the
single-piece run (where it stopped and why), and a segment the file ends before is not a
failure (it was "contains no decodable video frames" and failed the parent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lambdas.segments import plan
from model_code.detectors import Detections
from model_code.jobs import FolderOutput, Job, LocalVideo, run_job
from model_code.pipeline import TrackOptions
from model_code.results import file_sinks
from model_code.segment_results import join_segments
from model_code.video import TRUNCATION_MARK
from tests.integration.local import video_fixtures as fx

SECONDS, FPS = 30, 10


class _Nothing:
    name = "nothing"
    class_names = ("person",)
    batch_size = 8

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        empty = np.zeros((0, 4)), np.zeros(0), np.zeros(0)
        return [Detections(*empty) for _ in frames]


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("long")
    return fx.encode(folder / "long.mp4", frames=SECONDS * FPS, fps=FPS)


def _segments(video: Path, tmp_path: Path) -> tuple[list[dict], dict]:
    summaries, folders = [], []
    for segment in plan(float(SECONDS), threshold_s=8, overlap_s=2):
        folder = tmp_path / f"segment-{segment.index}"
        job = Job("s", LocalVideo(video), FolderOutput(), segment=segment.to_dict())
        summaries.append(run_job(job, TrackOptions(stride=2), _Nothing(), tmp_path, folder))
        folders.append(folder)
    return summaries, join_segments(folders, file_sinks(tmp_path / "joined", annotate=False))


def _single(video: Path, tmp_path: Path) -> dict:
    job = Job("w", LocalVideo(video), FolderOutput())
    return run_job(job, TrackOptions(stride=2), _Nothing(), tmp_path, tmp_path / "single")


@pytest.mark.parametrize("share", [0.85, 0.6])
def test_a_cut_long_video_warns_once_where_it_stopped(
    whole: Path, tmp_path: Path, share: float
) -> None:
    video = fx.cut(whole, tmp_path / "cut.mp4", share)
    single = _single(video, tmp_path)
    assert any(TRUNCATION_MARK in w for w in single["warnings"])
    _, parent = _segments(video, tmp_path)
    truncation = [w for w in parent["warnings"] if TRUNCATION_MARK in w]
    assert len(truncation) == 1 and "the video ends at" in truncation[0]
    # The parent's frame count is where the file really ends, as the single run counts it.
    assert abs(parent["video"]["frames"] - single["video"]["frames"]) <= 5
    assert parent["video"]["frames"] < 0.9 * SECONDS * FPS
    assert parent["video"]["duration_s"] == pytest.approx(single["video"]["duration_s"], abs=0.6)


def test_a_segment_the_file_ends_before_succeeds_with_a_warning(
    whole: Path, tmp_path: Path
) -> None:
    video = fx.cut(whole, tmp_path / "cut.mp4", 0.6)
    summaries, _ = _segments(video, tmp_path)
    last = summaries[-1]
    assert last["counts"]["frames_processed"] == 0
    (warning,) = last["warnings"]
    assert "before this segment's start at 22.5 s" in warning and TRUNCATION_MARK in warning


def test_a_whole_long_video_in_segments_has_no_warning(whole: Path, tmp_path: Path) -> None:
    _, parent = _segments(whole, tmp_path)
    assert parent["warnings"] == []
    assert parent["video"]["frames"] == SECONDS * FPS
    assert parent["video"]["duration_s"] == pytest.approx(SECONDS)


def test_a_cut_fragmented_mp4_is_warned_about(tmp_path: Path) -> None:
    """Issue 21 hole 9: a fragmented MP4 cut in half succeeded with "1 damaged frame" at most:
    it has no frame count to compare with, but its last box runs past the end of the file."""
    whole = fx.encode(
        tmp_path / "frag.mp4", frames=SECONDS * FPS, muxer={"movflags": "frag_keyframe+empty_moov"}
    )
    assert not [w for w in _single(whole, tmp_path)["warnings"] if TRUNCATION_MARK in w]
    video = fx.cut(whole, tmp_path / "half.mp4", 0.5)
    (warning,) = [w for w in _single(video, tmp_path)["warnings"] if TRUNCATION_MARK in w]
    assert "the file ends inside its last" in warning and "bytes missing" in warning


def test_a_cut_fragmented_mp4_in_segments_is_warned_about_once(tmp_path: Path) -> None:
    """Submit plans a fragmented MP4 by the data it has (its last fragment): the segment that
    reaches the end of the data notices the cut box, and the parent says so once."""
    whole = fx.encode(
        tmp_path / "frag.mp4", frames=SECONDS * FPS, muxer={"movflags": "frag_keyframe+empty_moov"}
    )
    video = fx.cut(whole, tmp_path / "half.mp4", 0.5)
    folders = []
    for segment in plan(13.4, threshold_s=8, overlap_s=2):  # what the tail read measures
        folder = tmp_path / f"segment-{segment.index}"
        job = Job("s", LocalVideo(video), FolderOutput(), segment=segment.to_dict())
        run_job(job, TrackOptions(stride=2), _Nothing(), tmp_path, folder)
        folders.append(folder)
    parent = join_segments(folders, file_sinks(tmp_path / "joined", annotate=False))
    assert len([w for w in parent["warnings"] if TRUNCATION_MARK in w]) == 1
