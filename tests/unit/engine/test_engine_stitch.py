"""Stitching segment tracks into video-wide ids (model_code/stitch.py) on synthetic tracks."""

from __future__ import annotations

import numpy as np

from model_code.stitch import stitch


def _walker(track_id: int, frames: range, x0: float, y: float, speed: float = 3.0) -> list:
    return [[f, track_id, x0 + speed * f, y, 40.0, 80.0, 0.9] for f in frames]


def _split(objects: list[tuple[int, float, float]], spans: list[range], ids_from: int) -> list:
    """Each segment sees every object under its own local ids (offset per segment)."""
    segments = []
    for index, span in enumerate(spans):
        rows = []
        for number, (_, x0, y) in enumerate(objects):
            rows += _walker(ids_from * (index + 1) + number, span, x0, y)
        segments.append(rows)
    return segments


SPANS = [range(1, 61), range(51, 111), range(101, 161), range(151, 201)]


def test_continuing_tracks_keep_one_id_across_every_border() -> None:
    objects = [(1, 0.0, 10.0), (2, 0.0, 200.0), (3, 100.0, 400.0)]
    result = stitch(_split(objects, SPANS, ids_from=100))
    assert sorted(np.unique(result.rows[:, 1]).astype(int)) == [1, 2, 3]
    assert result.border_switches == 0
    assert [border["matched"] for border in result.borders] == [3, 3, 3]
    # every source frame appears once per object: no duplicated overlap rows
    assert len(result.rows) == 3 * 200
    assert len(np.unique(result.rows[:, :2], axis=0)) == len(result.rows)


def test_an_object_that_starts_after_the_border_gets_a_fresh_id() -> None:
    first = _walker(7, range(1, 61), 0.0, 10.0)
    second = _walker(3, range(51, 111), 0.0, 10.0) + _walker(4, range(80, 111), 0.0, 500.0)
    result = stitch([first, second])
    ids = {int(row[1]) for row in result.rows if row[0] > 80 and row[3] == 500.0}
    assert ids == {2}
    continuing = {int(row[1]) for row in result.rows if row[3] == 10.0}
    assert continuing == {1}


def test_far_apart_tracks_are_not_joined_and_a_lost_overlap_counts_as_a_switch() -> None:
    first = _walker(1, range(1, 61), 0.0, 10.0)
    elsewhere = _walker(1, range(51, 111), 0.0, 600.0)
    assert stitch([first, elsewhere]).border_switches == 0
    assert len(np.unique(stitch([first, elsewhere]).rows[:, 1])) == 2
    # the same object, but the next segment only picks it up on the last overlap frame
    late = _walker(5, range(60, 111), 0.0, 10.0)
    result = stitch([first, late], spans=[(1, 60), (51, 110)])
    assert result.border_switches == 1
    assert len(np.unique(result.rows[:, 1])) == 2


def test_two_crossing_objects_are_assigned_by_overlap_not_by_local_id_order() -> None:
    first = _walker(1, range(1, 61), 0.0, 10.0) + _walker(2, range(1, 61), 0.0, 300.0)
    second = _walker(2, range(51, 111), 0.0, 10.0) + _walker(1, range(51, 111), 0.0, 300.0)
    rows = stitch([first, second]).rows
    for y in (10.0, 300.0):
        assert len({int(row[1]) for row in rows if row[3] == y}) == 1


def test_no_segments_and_empty_segments() -> None:
    assert stitch([]).rows.shape == (0, 7)
    result = stitch([[], _walker(9, range(1, 11), 0.0, 0.0)])
    assert np.unique(result.rows[:, 1]).tolist() == [1.0]


def test_a_continuation_confirmed_late_in_the_overlap_is_joined_without_a_gap() -> None:
    """The next segment's tracker confirms the object 8 frames into a 10-frame overlap (after the
    middle): same id, and every frame keeps exactly one box (the previous segment's until then)."""
    first = _walker(1, range(1, 61), 0.0, 10.0)
    late = _walker(5, range(58, 111), 0.0, 10.0)
    result = stitch([first, late], spans=[(1, 60), (51, 110)])
    assert np.unique(result.rows[:, 1]).tolist() == [1.0]
    assert result.rows[:, 0].tolist() == list(range(1, 111))
    assert result.border_switches == 0


def test_a_one_frame_overlap_still_joins_a_continuing_track() -> None:
    """At 1 fps a 1 s overlap shares a single frame; that frame is all the evidence there is."""
    first = _walker(1, range(1, 11), 0.0, 10.0)
    second = _walker(8, range(10, 21), 0.0, 10.0)
    result = stitch([first, second], spans=[(1, 10), (10, 20)])
    assert np.unique(result.rows[:, 1]).tolist() == [1.0]
    assert result.rows[:, 0].tolist() == list(range(1, 21))
