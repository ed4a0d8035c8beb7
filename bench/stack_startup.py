"""Local stack start-up time, whole and per component: `python -m bench.stack_startup [--runs N]`.

Times `local.stack.local_stack(...)` from entry to the moment it yields (every component
answering), and each component started through `local.stack._start` (moto, the model server,
and whatever else that checkout starts that way). It measures whichever `local` package is first
on the import path, so the same file times an older checkout too:

    PYTHONPATH=<old checkout> <its python> bench/stack_startup.py --runs 3
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any


def measure(runs: int) -> dict[str, list[float]]:
    """Seconds per run: "total" and one entry per component `_start` names."""
    import local.stack as stack_module

    timings: dict[str, list[float]] = defaultdict(list)
    original = stack_module._start

    def timed_start(stack: contextlib.ExitStack, what: str, start: Any) -> Any:
        began = time.perf_counter()
        try:
            return original(stack, what, start)
        finally:
            timings[what].append(time.perf_counter() - began)

    stack_module._start = timed_start
    try:
        for _ in range(runs):
            with tempfile.TemporaryDirectory(prefix="motflow-startup-") as run_dir:
                began = time.perf_counter()
                with stack_module.local_stack(Path(run_dir)):
                    timings["total"].append(time.perf_counter() - began)
    finally:
        stack_module._start = original
    return dict(timings)


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    parser = argparse.ArgumentParser(prog="python -m bench.stack_startup")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    timings = measure(args.runs)
    import local

    print(f"local stack start-up ({Path(local.__file__).parent}), {args.runs} run(s), seconds")
    print(f"{'part':<22} {'median':>8} {'min':>8} {'max':>8}")
    for part, values in sorted(timings.items(), key=lambda item: item[0] != "total"):
        print(
            f"{part:<22} {statistics.median(values):>8.2f} {min(values):>8.2f} {max(values):>8.2f}"
        )
    return timings


if __name__ == "__main__":
    main()
