"""A fixed number of worker processes, each holding the model; one request per worker at a time.

The front process never imports torch: workers are spawned, load the model, and say whether
it loaded. A worker that dies mid-request (killed, out of memory) gets its request answered
with a 500 that says "Worker died." (the caller's transient-retry path keys on it) and is
replaced. A worker still busy past the server's own time limit is killed and replaced the
same way. When the server stops, in-flight requests get the grace time to finish; those
still running after it are answered 503 and their workers killed.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from model_code.serving.worker import run_worker

LOG = logging.getLogger("motflow.serving.pool")

# The phrase the caller's failure explanation looks for (lambdas/reasons.py, _WORKER_DIED).
WORKER_DIED = "Worker died."
# In every worker's command line (multiprocessing's spawn entry), so tools can find workers.
WORKER_CMDLINE_MARK = "spawn_main"
TEXT = "text/plain; charset=utf-8"
STOPPED_MID_REQUEST = b"The model server stopped before the request finished; send it again."
POLL_S = 0.25
LOAD_TIMEOUT_S = 600.0
STOP_WAIT_S = 5.0


@dataclass(frozen=True)
class Outcome:
    status: int
    body: bytes
    content_type: str = TEXT


class Slot:
    """One worker position: its current process and what it is doing."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: multiprocessing.process.BaseProcess | None = None
        self.conn: Connection | None = None
        # starting | ready | busy | replacing | stopping | stopped | failed
        self.state = "starting"
        self.error: str | None = None
        self.loaded_once = False
        self.generation = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()


class WorkerPool:
    """`size` worker processes for the model in `model_dir`. Thread-safe; `invoke` blocks."""

    def __init__(
        self,
        model_dir: Path,
        size: int,
        *,
        worker_timeout_s: float,
        target: Callable[[Connection, str], None] = run_worker,
    ) -> None:
        self.model_dir = model_dir
        self.worker_timeout_s = worker_timeout_s
        self._target = target
        self._context = multiprocessing.get_context("spawn")
        self._slots = [Slot(index) for index in range(size)]
        self._idle: queue.Queue[Slot] = queue.Queue()
        self._lock = threading.Lock()
        self._drain_deadline: float | None = None
        self._closed = threading.Event()
        self._monitor = threading.Thread(target=self._watch, name="worker-monitor", daemon=True)
        self.replaced = 0

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Spawn every worker; each becomes ready in the background once its model loads."""
        for slot in self._slots:
            self._spawn(slot)
        self._monitor.start()

    def drain(self, grace_s: float) -> None:
        """Stop taking requests; in-flight ones have `grace_s` seconds left to finish."""
        with self._lock:
            if self._drain_deadline is None:
                self._drain_deadline = time.monotonic() + grace_s
        while True:
            try:
                slot = self._idle.get_nowait()
            except queue.Empty:
                break
            if self._claim(slot, "ready", "stopping"):
                self._stop_slot(slot)

    def close(self) -> None:
        """Stop every worker now (the end of shutdown)."""
        self.drain(0.0)
        self._closed.set()
        for slot in self._slots:
            self._stop_slot(slot)

    # --- state -----------------------------------------------------------------------------

    def health(self) -> tuple[bool, str]:
        """(healthy, why): healthy once every worker has loaded the model and none failed to."""
        with self._lock:
            if self._drain_deadline is not None:
                return False, "the server is stopping"
            failed = [slot for slot in self._slots if slot.state == "failed"]
            if failed:
                return False, f"a worker could not load the model: {failed[0].error}"
            waiting = sum(not slot.loaded_once for slot in self._slots)
            if waiting:
                return False, f"{waiting} of {len(self._slots)} worker(s) still loading the model"
            return True, f"{len(self._slots)} worker(s) ready"

    @property
    def size(self) -> int:
        return len(self._slots)

    def worker_pids(self) -> list[int]:
        with self._lock:
            return [slot.pid for slot in self._slots if slot.pid is not None and slot.alive()]

    # --- requests --------------------------------------------------------------------------

    def invoke(self, body_path: Path, content_type: str | None) -> Outcome:
        """Run one request on an idle worker and wait for its reply (blocking)."""
        request = {"body_path": str(body_path), "content_type": content_type}
        while True:
            slot = self._take_idle()
            if isinstance(slot, Outcome):
                return slot
            try:
                assert slot.conn is not None
                slot.conn.send(request)
            except (OSError, ValueError):
                # The worker died while idle; nothing was started, so another one may take it.
                self._replace(slot, "it had died while idle")
                continue
            return self._await_reply(slot)

    def _take_idle(self) -> Slot | Outcome:
        while True:
            if self._draining():
                return Outcome(503, b"The model server is stopping; send the request again.")
            healthy, why = self.health()
            if not healthy and any(slot.state == "failed" for slot in self._slots):
                return Outcome(503, f"The model server is unhealthy: {why}".encode())
            try:
                slot = self._idle.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if not self._claim(slot, "ready", "busy"):
                continue  # a stale entry: the slot is busy, loading or being replaced
            if not slot.alive():
                self._replace(slot, "it had died while idle")
                continue
            return slot

    def _await_reply(self, slot: Slot) -> Outcome:
        started = time.monotonic()
        assert slot.conn is not None
        while True:
            try:
                if slot.conn.poll(POLL_S):
                    reply: dict[str, Any] = slot.conn.recv()
                    break
            except (EOFError, OSError):
                return self._died(slot)
            if not slot.alive() and not self._has_data(slot):
                return self._died(slot)
            if time.monotonic() - started > self.worker_timeout_s:
                self._replace(slot, "it ran past the server's time limit", kill=True)
                limit = f"{self.worker_timeout_s:.0f} s"
                return Outcome(504, f"Worker timed out after {limit}; it was replaced.".encode())
            deadline = self._drain_deadline
            if deadline is not None and time.monotonic() > deadline:
                if slot.process is not None:
                    slot.process.kill()  # reaped by close(); the answer must not wait for it
                return Outcome(503, STOPPED_MID_REQUEST)
        self._release(slot)
        return Outcome(int(reply["status"]), bytes(reply["body"]), str(reply["content_type"]))

    @staticmethod
    def _has_data(slot: Slot) -> bool:
        try:
            return slot.conn is not None and slot.conn.poll(0)
        except (EOFError, OSError):
            return False

    def _died(self, slot: Slot) -> Outcome:
        code = slot.process.exitcode if slot.process is not None else None
        self._replace(slot, f"it ended with exit code {code} mid-request")
        return Outcome(
            500,
            f"{WORKER_DIED} The worker process ended (exit code {code}) before the request "
            "finished; it was replaced.".encode(),
        )

    def _claim(self, slot: Slot, current: str, new: str) -> bool:
        with self._lock:
            if slot.state != current:
                return False
            slot.state = new
            return True

    def _release(self, slot: Slot) -> None:
        if self._draining():
            self._stop_slot(slot)
            return
        with self._lock:
            slot.state = "ready"
        self._idle.put(slot)

    def _draining(self) -> bool:
        return self._drain_deadline is not None

    # --- workers ---------------------------------------------------------------------------

    def _spawn(self, slot: Slot) -> None:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=self._target,
            args=(child, str(self.model_dir)),
            name=f"motflow-worker-{slot.index}",
            daemon=True,
        )
        with self._lock:
            slot.generation += 1
            slot.process, slot.conn, slot.state, slot.error = process, parent, "starting", None
        process.start()
        child.close()  # only the worker holds its end, so its death closes the pipe
        generation = slot.generation
        threading.Thread(
            target=self._await_ready, args=(slot, generation), daemon=True, name="worker-load"
        ).start()

    def _await_ready(self, slot: Slot, generation: int) -> None:
        conn, deadline = slot.conn, time.monotonic() + LOAD_TIMEOUT_S
        assert conn is not None
        message: dict[str, Any] | None = None
        while time.monotonic() < deadline and not self._closed.is_set():
            try:
                if conn.poll(POLL_S):
                    message = conn.recv()
                    break
            except (EOFError, OSError):
                break
        with self._lock:
            if slot.generation != generation or slot.state != "starting":
                return
            if message and message.get("ready"):
                slot.state, slot.loaded_once = "ready", True
            else:
                slot.state = "failed"
                slot.error = (message or {}).get("error") or (
                    "the worker exited while loading the model"
                    if not slot.alive()
                    else f"the model did not load within {LOAD_TIMEOUT_S:.0f} s"
                )
        if slot.state == "ready":
            if self._draining():
                self._stop_slot(slot)
            else:
                self._idle.put(slot)
                LOG.info("worker %d ready (pid %s)", slot.index, slot.pid)
        else:
            LOG.error("worker %d failed to load the model: %s", slot.index, slot.error)

    def _replace(self, slot: Slot, why: str, *, kill: bool = False) -> None:
        LOG.warning("replacing worker %d (pid %s): %s", slot.index, slot.pid, why)
        self._stop_slot(slot, kill=True if kill else not slot.alive())
        self.replaced += 1
        if not self._draining() and not self._closed.is_set():
            self._spawn(slot)

    def _stop_slot(self, slot: Slot, *, kill: bool = False) -> None:
        with self._lock:
            process, conn = slot.process, slot.conn
            slot.state = "stopped"
        if process is None:
            return
        if process.is_alive() and not kill and conn is not None:
            try:
                conn.send(None)
            except (OSError, ValueError):
                kill = True
            else:
                process.join(STOP_WAIT_S)
        if process.is_alive():
            process.kill()
        process.join(STOP_WAIT_S)
        if conn is not None:
            conn.close()

    def _watch(self) -> None:
        """Replace workers that die while idle, so /ping and capacity stay true."""
        while not self._closed.wait(1.0):
            if self._draining():
                continue
            for slot in self._slots:
                if not slot.alive() and self._claim(slot, "ready", "replacing"):
                    self._replace(slot, "it had died while idle")
