"""Run every benchmark in turn: `python -m bench [NAME ...]`."""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = (
    "bench.tracker_accuracy",
    "bench.tracker_speed",
    "bench.end_to_end",
    "bench.memory",
    "bench.train_finetune",
)


def main(argv: list[str]) -> int:
    selected = [name for name in BENCHMARKS if not argv or name.rsplit(".", 1)[-1] in argv]
    for name in selected:
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(name)
        module.main()
        print(f"({name} took {time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
