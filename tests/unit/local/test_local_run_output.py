"""What `python -m local run` prints about each job's tracks."""

from __future__ import annotations

import json
from pathlib import Path

from local.__main__ import _track_overview


def test_overview_names_every_track_with_its_frame_span(tmp_path: Path) -> None:
    path = tmp_path / "tracks.json"
    tracks = [
        {"id": 1, "label": "person", "first_frame": 27, "last_frame": 156},
        {"id": 2, "label": "person", "first_frame": 192, "last_frame": 300},
    ]
    path.write_text(json.dumps({"fps": 10.0, "tracks": tracks}))
    assert _track_overview(path) == (
        "2 track(s): id 1 person frames 27-156; id 2 person frames 192-300"
    )


def test_overview_of_an_empty_result_says_so(tmp_path: Path) -> None:
    path = tmp_path / "tracks.json"
    path.write_text(json.dumps({"fps": 10.0, "tracks": []}))
    assert _track_overview(path) == "no tracks"
