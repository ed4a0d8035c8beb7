"""The tracker's per-track state: one table of numpy columns, one row per track."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum

import numpy as np

# Observations spanned by a track's motion direction (the momentum cost).
DIRECTION_SPAN = 3


class TrackState(IntEnum):
    """A track's life: tentative until confirmed (its id is shown), then tracked or lost."""

    TENTATIVE = 0
    TRACKED = 1
    LOST = 2


STATE_DTYPE = np.int8


@dataclass(slots=True)
class TrackTable:
    """Columns of equal length; `select` and `append` keep them in step.

    `mean` (N, 8) and `cov` (N, 3, 4) are the Kalman state (see `kalman`); `ids` are 0 until a
    track is confirmed; `state` holds `TrackState` values; `hits` counts the frames a track was
    matched on, `first_seen`/`last_seen` are frame numbers; `observed` is the last measured box
    (xyah); `recent_centres` (N, DIRECTION_SPAN, 2) the centres of the last few observations,
    oldest first, and `direction` (N, 2) the unit direction of motion across them.
    """

    mean: np.ndarray
    cov: np.ndarray
    ids: np.ndarray
    state: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    hits: np.ndarray
    first_seen: np.ndarray
    last_seen: np.ndarray
    observed: np.ndarray
    recent_centres: np.ndarray
    direction: np.ndarray

    def __post_init__(self) -> None:
        if len({len(getattr(self, name)) for name in _COLUMNS}) > 1:
            lengths = {name: len(getattr(self, name)) for name in _COLUMNS}
            raise ValueError(f"track table columns differ in length: {lengths}")

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> TrackTable:
        return cls(
            mean=np.zeros((0, 8)),
            cov=np.zeros((0, 3, 4)),
            ids=np.zeros(0, dtype=np.int64),
            state=np.zeros(0, dtype=STATE_DTYPE),
            scores=np.zeros(0),
            labels=np.zeros(0, dtype=np.int64),
            hits=np.zeros(0, dtype=np.int64),
            first_seen=np.zeros(0, dtype=np.int64),
            last_seen=np.zeros(0, dtype=np.int64),
            observed=np.zeros((0, 4)),
            recent_centres=np.zeros((0, DIRECTION_SPAN, 2)),
            direction=np.zeros((0, 2)),
        )

    def select(self, rows: np.ndarray) -> TrackTable:
        """The rows picked by a boolean mask or an index array, as a new table."""
        return TrackTable(**{name: getattr(self, name)[rows] for name in _COLUMNS})

    def append(self, other: TrackTable) -> TrackTable:
        """This table's rows followed by `other`'s, as a new table."""
        return TrackTable(
            **{
                name: np.concatenate([getattr(self, name), getattr(other, name)])
                for name in _COLUMNS
            }
        )

    def has(self, state: TrackState) -> np.ndarray:
        """Boolean mask of the rows in `state`."""
        return self.state == int(state)


_COLUMNS = tuple(f.name for f in fields(TrackTable))
