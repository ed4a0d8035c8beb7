"""Frames grouped into batches, optionally decoded and preprocessed ahead on a thread.

With `depth=0` the batches are made on the caller's thread as it asks for them. With `depth>0` a
producer thread decodes, groups and preprocesses frames and hands finished batches over a queue
holding at most `depth` of them, so memory is bounded by the queue, not by the video. The one
producer and the FIFO queue keep batches in frame order. An error in the producer reaches the
consumer as the same exception, after the batches made before it; closing the feed (also on an
early `break` or an error in the consumer) stops the producer and waits for it.

A detector opts into preprocessing on the producer thread by providing `prepare` and
`detect_prepared` (see `PreparingDetector`); any other detector gets its frames as they are.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from model_code.closing import Closing
from model_code.detectors import Detections, Detector

# How often a producer blocked on a full queue checks whether the consumer has gone.
_POLL_S = 0.05

Prepare = Callable[[list[np.ndarray]], Any]


@runtime_checkable
class PreparingDetector(Protocol):
    """A detector whose CPU preprocessing (letterbox, normalise, stack) can run on the decode
    thread. `prepare` must not touch state that `detect_prepared` changes: the two run at once.
    """

    def prepare(self, frames: Sequence[np.ndarray]) -> Any: ...

    def detect_prepared(self, prepared: Any) -> list[Detections]: ...


@dataclass(frozen=True)
class FrameBatch:
    """Consecutive kept frames: 1-based source frame numbers, BGR images, and what the
    detector's `prepare` made of them (None when the detector has no `prepare`)."""

    numbers: list[int]
    images: list[np.ndarray]
    prepared: Any = None


def preparation(
    detector: Detector,
) -> tuple[Prepare | None, Callable[[FrameBatch], list[Detections]]]:
    """The detector's preprocess step (for the producer) and its detect step (for the consumer)."""
    if isinstance(detector, PreparingDetector):
        return detector.prepare, lambda batch: detector.detect_prepared(batch.prepared)
    return None, lambda batch: detector.detect(batch.images)


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_END = object()


class BatchFeed(Closing):
    """`with BatchFeed(frames, size, prepare=..., depth=2) as feed: for batch in feed: ...`

    `produce_s` is the time spent decoding and preparing (on whichever thread did it);
    `wait_s` is the time the consumer spent waiting for its next batch. Without a thread the
    two are equal; with one, their difference is the decode time hidden behind detection.
    """

    def __init__(
        self,
        frames: Iterable[tuple[int, np.ndarray]],
        size: int,
        *,
        prepare: Prepare | None = None,
        depth: int = 0,
    ) -> None:
        if size < 1:
            raise ValueError(f"batch size must be at least 1, got {size}")
        if depth < 0:
            raise ValueError(f"queue depth must be 0 or more, got {depth}")
        self._frames = iter(frames)
        self.size = size
        self._prepare = prepare
        self.produce_s = 0.0
        self.wait_s = 0.0
        self._stop = threading.Event()
        self._queue: queue.Queue[Any] | None = None
        self._thread: threading.Thread | None = None
        self._started = False
        if depth:
            self._queue = queue.Queue(maxsize=depth)
            self._thread = threading.Thread(
                target=self._produce, name="motflow-decode", daemon=True
            )

    def _next_batch(self) -> FrameBatch | None:
        started = time.perf_counter()
        numbers: list[int] = []
        images: list[np.ndarray] = []
        for number, image in self._frames:
            numbers.append(number)
            images.append(image)
            if len(numbers) == self.size:
                break
        batch = None
        if numbers:
            prepared = self._prepare(images) if self._prepare is not None else None
            batch = FrameBatch(numbers, images, prepared)
        self.produce_s += time.perf_counter() - started
        return batch

    def _produce(self) -> None:
        try:
            while not self._stop.is_set():
                batch = self._next_batch()
                if batch is None:
                    break
                if not self._put(batch):
                    return
        except BaseException as error:  # handed to the consumer, which re-raises it
            self._put(_Failed(error))
            return
        self._put(_END)

    def _put(self, item: Any) -> bool:
        """Queue `item`, waiting for room; False when the consumer has stopped meanwhile."""
        assert self._queue is not None
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[FrameBatch]:
        if self._started:
            raise RuntimeError("a BatchFeed can only be iterated once")
        self._started = True
        if self._thread is None:
            while (batch := self._next_batch()) is not None:
                self.wait_s = self.produce_s
                yield batch
            self.wait_s = self.produce_s
            return
        assert self._queue is not None
        self._thread.start()
        while True:
            started = time.perf_counter()
            item = self._queue.get()
            self.wait_s += time.perf_counter() - started
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item

    @property
    def running(self) -> bool:
        """Whether the producer thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Stop the producer (it finishes the batch in hand at most) and wait for it."""
        self._stop.set()
        if self._thread is not None and self._thread.ident is not None:
            self._thread.join()
