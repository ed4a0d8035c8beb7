"""Joining segment result folders into single-piece artifacts (model_code/segment_results.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from model_code.jobs import FolderOutput, Job, LocalVideo, stitch_job
from model_code.pipeline import TrackOptions
from model_code.results import file_sinks
from model_code.segment_results import join_segments
from tests.schemas import validate


def _segment(folder: Path, frames: range, local_id: int, last_read: int) -> Path:
    folder.mkdir()
    lines = []
    for frame in frames:
        box = [10.0 + frame, 20.0, 30.0, 60.0]
        objects = [{"id": local_id, "box": box, "score": 0.9, "label": "person"}]
        lines.append(json.dumps({"frame": frame, "t": (frame - 1) / 10, "objects": objects}))
    (folder / "tracks.jsonl").write_text("\n".join(lines) + "\n")
    summary = {
        "video": {"fps": 10.0, "width": 64, "height": 48, "duration_s": last_read / 10},
        "options": {"stride": 1},
        "counts": {"frames_decoded": last_read},
        "timings": {"detect_s": 1.5, "total_s": 2.0},
        "warnings": [],
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_two_segments_join_into_one_track_with_every_frame_once(tmp_path: Path) -> None:
    first = _segment(tmp_path / "a", range(1, 31), 4, 30)
    second = _segment(tmp_path / "b", range(21, 51), 1, 50)
    facts = join_segments([first, second], file_sinks(tmp_path / "out", annotate=False))
    rows = [line.split(",") for line in (tmp_path / "out" / "tracks.txt").read_text().split()]
    assert [int(r[0]) for r in rows] == list(range(1, 51))
    assert {r[1] for r in rows} == {"1"}
    index = json.loads((tmp_path / "out" / "tracks.json").read_text())
    assert [(t["id"], t["first_frame"], t["last_frame"]) for t in index["tracks"]] == [(1, 1, 50)]
    jsonl = (tmp_path / "out" / "tracks.jsonl").read_text().splitlines()
    assert json.loads(jsonl[-1])["t"] == 4.9
    assert facts["counts"] == {
        "frames_processed": 50,
        "frames_decoded": 50,
        "tracks": 1,
        "detections": 50,
    }
    assert facts["timings"]["total_s"] == 4.0
    assert facts["segments"]["count"] == 2 and facts["segments"]["border_switches"] == 0


def test_joined_segments_give_every_frame_of_a_track_in_tracks_json(tmp_path: Path) -> None:
    """track_frames=all on the stitched path: one box per joined frame, as tracks.jsonl has it."""
    first = _segment(tmp_path / "a", range(1, 31), 4, 30)
    second = _segment(tmp_path / "b", range(21, 51), 1, 50)
    join_segments([first, second], file_sinks(tmp_path / "out", False, track_frames="all"))
    index = validate(
        json.loads((tmp_path / "out" / "tracks.json").read_text()), "tracks.schema.json"
    )
    assert index["track_frames"] == "all"
    (track,) = index["tracks"]
    assert [box["frame"] for box in track["boxes"]] == list(range(1, 51))
    jsonl = [json.loads(line) for line in (tmp_path / "out" / "tracks.jsonl").open()]
    assert [box["box"] for box in track["boxes"]] == [r["objects"][0]["box"] for r in jsonl]
    assert {box["score"] for box in track["boxes"]} == {0.9}


def test_the_stitch_job_passes_track_frames_to_the_joined_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index, (frames, last) in enumerate(((range(1, 31), 30), (range(21, 51), 50))):
        _segment(tmp_path / f"segment-{index}", frames, 3, last)
    monkeypatch.setattr(
        "model_code.jobs.download_to_file",
        lambda uri, path, **_: Path(
            shutil.copy(tmp_path / uri.replace("s3://segments/", "segment-"), path)
        ),
    )
    parent = Job(
        "parent",
        LocalVideo(tmp_path / "unused.mp4"),
        FolderOutput(),
        stitch=("s3://segments/0/", "s3://segments/1/"),
    )
    options = TrackOptions.from_dict({"track_frames": "all"})
    summary = stitch_job(parent, options, tmp_path / "work", tmp_path / "joined")
    index = json.loads(Path(summary["artifacts"]["tracks_json"]).read_text())
    assert index["track_frames"] == "all"
    assert len(index["tracks"][0]["boxes"]) == summary["counts"]["detections"] == 50
