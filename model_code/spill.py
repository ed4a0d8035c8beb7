"""Text records sorted by an integer key pair, with memory bounded whatever their number.

`SortedSpill` collects `(group, order, text)` records in a buffer of at most `run_rows`; a full
buffer is sorted and appended to one temporary file as a run. `merged()` merges the runs back in
key order, reading each run in blocks, so memory holds one buffer while writing and one block
per run while reading. The tracks.json writer uses it to lay every frame of every track out
track by track (model_code/results.py).
"""

from __future__ import annotations

import heapq
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from model_code.closing import Closing

RUN_ROWS = 20_000  # records sorted in memory at a time (a few MB of short JSON texts)
READ_BLOCK = 64 * 1024  # bytes read from a run at a time while merging


class SortedSpill(Closing):
    """Records `(group, order, text)` returned by `merged()` sorted by (group, order).

    `text` must not contain a newline; keys are integers.
    """

    def __init__(self, directory: str | Path | None = None, run_rows: int = RUN_ROWS) -> None:
        if run_rows < 1:
            raise ValueError(f"run_rows must be at least 1, got {run_rows}")
        self.run_rows = run_rows
        self._buffer: list[tuple[int, int, str]] = []
        # Held open across calls; `close()` closes it.
        self._file: IO[bytes] | None = tempfile.TemporaryFile(  # noqa: SIM115
            "w+b", dir=directory, prefix="motflow-spill-"
        )
        self._runs: list[tuple[int, int]] = []  # byte ranges [start, end) of the sorted runs
        self._size = 0

    def add(self, group: int, order: int, text: str) -> None:
        if self._file is None:
            raise ValueError("the spill is already closed")
        self._buffer.append((group, order, text))
        if len(self._buffer) >= self.run_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer or self._file is None:
            return
        self._buffer.sort()
        data = "".join(f"{g} {o} {t}\n" for g, o, t in self._buffer).encode("utf-8")
        self._file.seek(self._size)
        self._file.write(data)
        self._file.flush()
        self._runs.append((self._size, self._size + len(data)))
        self._size += len(data)
        self._buffer = []

    def merged(self) -> Iterator[tuple[int, int, str]]:
        """Every record added so far, in (group, order) order."""
        if self._file is None:
            raise ValueError("the spill is already closed")
        self._flush()
        descriptor = self._file.fileno()
        yield from heapq.merge(*(_run(descriptor, start, end) for start, end in self._runs))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._buffer = []


def _run(descriptor: int, start: int, end: int) -> Iterator[tuple[int, int, str]]:
    """The records of one run, read by position (runs share the file, so no seek is shared)."""
    rest = b""
    position = start
    while position < end:
        block = os.pread(descriptor, min(READ_BLOCK, end - position), position)
        if not block:
            break
        position += len(block)
        lines = (rest + block).split(b"\n")
        rest = lines.pop()
        for line in lines:
            group, order, text = line.decode("utf-8").split(" ", 2)
            yield int(group), int(order), text
