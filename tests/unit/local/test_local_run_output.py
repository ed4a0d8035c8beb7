"""What `python -m local run` prints about each job's tracks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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


def test_runs_started_in_the_same_second_get_their_own_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21: two `python -m local run` in one second both used `<second>/ml/model`."""
    import datetime as real

    import local.__main__ as entry

    class Frozen(real.datetime):
        @classmethod
        def now(cls, tz: real.tzinfo | None = None) -> Frozen:
            return cls(2026, 12, 7, 21, 0, 0, tzinfo=tz)

    monkeypatch.setattr(entry, "datetime", Frozen)
    first, second = entry.new_run_dir(tmp_path), entry.new_run_dir(tmp_path)
    assert first != second and first.is_dir() and second.is_dir()
    assert first.name.startswith("20261207-210000-") and not any(first.iterdir())
    (first / "ml" / "model").mkdir(parents=True)
    (second / "ml" / "model").mkdir(parents=True)  # FileExistsError with one shared folder
