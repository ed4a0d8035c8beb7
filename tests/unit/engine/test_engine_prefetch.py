"""The batch feed: frame order, the bounded queue, errors from the decode thread, early stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from itertools import count

import numpy as np
import pytest

from model_code.detectors import Detections
from model_code.prefetch import BatchFeed, FrameBatch, PreparingDetector, preparation


def image(number: int) -> np.ndarray:
    return np.full((4, 6, 3), number % 256, np.uint8)


class Frames:
    """Numbered frames, counting how many were taken; endless unless `last` is given."""

    def __init__(self, last: int | None = None, fail_at: int | None = None) -> None:
        self.last, self.fail_at, self.taken = last, fail_at, 0

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        for number in count(1) if self.last is None else range(1, self.last + 1):
            if number == self.fail_at:
                raise ValueError(f"frame {number} does not decode")
            self.taken += 1
            yield number, image(number)


def wait_for(condition, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_batches_keep_frame_order_and_carry_what_prepare_made(depth: int) -> None:
    def prepare(images: list[np.ndarray]) -> list[int]:
        return [int(i[0, 0, 0]) for i in images]

    with BatchFeed(Frames(last=23), 4, prepare=prepare, depth=depth) as feed:
        batches = list(feed)
    assert [len(b.numbers) for b in batches] == [4, 4, 4, 4, 4, 3]
    assert [n for b in batches for n in b.numbers] == list(range(1, 24))
    assert all(b.prepared == b.numbers for b in batches)
    assert all(
        int(i[0, 0, 0]) == n for b in batches for n, i in zip(b.numbers, b.images, strict=True)
    )
    assert not feed.running


def test_the_producer_runs_ahead_by_at_most_the_queue() -> None:
    frames, size, depth = Frames(), 3, 2
    with BatchFeed(frames, size, depth=depth) as feed:
        batches = iter(feed)
        next(batches)
        # Queue full (depth batches) plus the batch the producer holds, waiting for room.
        bound = (1 + depth + 1) * size
        assert wait_for(lambda: frames.taken == bound)
        time.sleep(0.3)
        assert frames.taken == bound
        next(batches)
        assert wait_for(lambda: frames.taken == bound + size)
        time.sleep(0.3)
        assert frames.taken == bound + size


@pytest.mark.parametrize("depth", [0, 2])
def test_a_decode_error_reaches_the_consumer_after_the_batches_before_it(depth: int) -> None:
    received: list[list[int]] = []
    feed = BatchFeed(Frames(last=20, fail_at=6), 2, depth=depth)
    with feed, pytest.raises(ValueError, match="frame 6 does not decode"):
        for batch in feed:
            received.append(batch.numbers)
    assert received == [[1, 2], [3, 4]]
    assert not feed.running


def test_a_prepare_error_reaches_the_consumer() -> None:
    def prepare(images: list[np.ndarray]) -> None:
        raise MemoryError("no room for the batch")

    feed = BatchFeed(Frames(last=5), 2, prepare=prepare, depth=2)
    with feed, pytest.raises(MemoryError, match="no room"):
        list(feed)
    assert not feed.running


def test_stopping_early_stops_the_producer() -> None:
    frames = Frames()
    with BatchFeed(frames, 2, depth=2) as feed:
        for batch in feed:
            assert batch.numbers == [1, 2]
            break
    assert not feed.running
    taken = frames.taken
    time.sleep(0.2)
    assert frames.taken == taken <= (1 + 2 + 1) * 2


def test_an_error_in_the_consumer_stops_the_producer() -> None:
    frames = Frames()
    feed = BatchFeed(frames, 2, depth=1)
    with pytest.raises(KeyError), feed:
        for _ in feed:
            raise KeyError("tracker failed")
    assert not feed.running
    assert not any(t.name == "motflow-decode" for t in threading.enumerate())


def test_a_feed_is_iterated_once() -> None:
    with BatchFeed(Frames(last=2), 1) as feed:
        list(feed)
        with pytest.raises(RuntimeError, match="only be iterated once"):
            list(feed)


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="batch size"):
        BatchFeed([], 0)
    with pytest.raises(ValueError, match="queue depth"):
        BatchFeed([], 1, depth=-1)


class Plain:
    name, class_names = "plain", ("person",)

    def detect(self, frames):
        return [Detections.empty() for _ in frames]


class Preparing(Plain):
    def __init__(self) -> None:
        self.prepared_on: set[str] = set()

    def prepare(self, frames):
        self.prepared_on.add(threading.current_thread().name)
        return np.stack(frames)

    def detect_prepared(self, prepared):
        return [Detections.empty() for _ in prepared]


def test_a_detector_with_prepare_preprocesses_on_the_decode_thread() -> None:
    detector = Preparing()
    assert isinstance(detector, PreparingDetector)
    assert not isinstance(Plain(), PreparingDetector)
    prepare, detect = preparation(detector)
    with BatchFeed(Frames(last=5), 2, prepare=prepare, depth=2) as feed:
        found = [detect(batch) for batch in feed]
    assert detector.prepared_on == {"motflow-decode"}
    assert [len(f) for f in found] == [2, 2, 1]


def test_a_detector_without_prepare_gets_the_images() -> None:
    prepare, detect = preparation(Plain())
    assert prepare is None
    batch = FrameBatch([1, 2], [image(1), image(2)])
    assert len(detect(batch)) == 2
