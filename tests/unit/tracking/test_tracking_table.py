"""TrackTable: columns kept in step by select and append."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from model_code.tracking import TrackState, TrackTable
from model_code.tracking.table import DIRECTION_SPAN


def table(ids: list[int], state: TrackState = TrackState.TRACKED) -> TrackTable:
    n = len(ids)
    base = TrackTable.empty()
    return TrackTable(
        mean=np.arange(n * 8, dtype=float).reshape(n, 8),
        cov=np.ones((n, 3, 4)),
        ids=np.array(ids, dtype=np.int64),
        state=np.full(n, state, dtype=base.state.dtype),
        scores=np.linspace(0.5, 0.9, n),
        labels=np.zeros(n, dtype=np.int64),
        hits=np.ones(n, dtype=np.int64),
        first_seen=np.arange(n, dtype=np.int64),
        last_seen=np.arange(n, dtype=np.int64),
        observed=np.zeros((n, 4)),
        recent_centres=np.zeros((n, DIRECTION_SPAN, 2)),
        direction=np.zeros((n, 2)),
    )


def test_empty_table_has_every_column_with_no_rows():
    empty = TrackTable.empty()
    assert len(empty) == 0
    assert empty.mean.shape == (0, 8) and empty.cov.shape == (0, 3, 4)
    assert empty.state.dtype == np.int8


def test_select_by_mask_and_by_index_keeps_rows_together():
    tracks = table([1, 2, 3])
    by_mask = tracks.select(np.array([True, False, True]))
    assert by_mask.ids.tolist() == [1, 3]
    np.testing.assert_array_equal(by_mask.mean, tracks.mean[[0, 2]])
    by_index = tracks.select(np.array([2, 0]))
    assert by_index.ids.tolist() == [3, 1]
    np.testing.assert_array_equal(by_index.scores, tracks.scores[[2, 0]])


def test_append_concatenates_every_column():
    joined = table([1, 2]).append(table([7], TrackState.TENTATIVE))
    assert len(joined) == 3
    assert joined.ids.tolist() == [1, 2, 7]
    assert joined.state.tolist() == [TrackState.TRACKED, TrackState.TRACKED, TrackState.TENTATIVE]
    assert joined.has(TrackState.TENTATIVE).tolist() == [False, False, True]
    assert joined.recent_centres.shape == (3, DIRECTION_SPAN, 2)


def test_columns_of_different_lengths_are_refused():
    tracks = table([1, 2])
    with pytest.raises(ValueError, match="differ in length"):
        replace(tracks, ids=np.zeros(3, dtype=np.int64))
