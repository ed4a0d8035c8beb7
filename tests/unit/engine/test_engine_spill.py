"""SortedSpill (model_code/spill.py): records back in key order across runs and read blocks."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from model_code import spill
from model_code.spill import SortedSpill


def test_records_come_back_sorted_across_runs_and_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spill, "READ_BLOCK", 7)  # most lines span two or more reads
    shuffled = random.Random(3)
    records = [(group, order, f'{{"g":{group},"o":{order},"x":"é"}}') for group in range(9)
               for order in range(1, 40)]  # fmt: skip
    added = records[:]
    shuffled.shuffle(added)
    with SortedSpill(tmp_path, run_rows=25) as spilled:
        for record in added:
            spilled.add(*record)
        assert list(spilled.merged()) == records
        spilled.add(-1, 0, "late")  # adding after a merge still works
        assert next(spilled.merged()) == (-1, 0, "late")
    assert list(tmp_path.iterdir()) == []  # the temporary file was never visible
    with pytest.raises(ValueError, match="closed"):
        spilled.add(1, 1, "x")
