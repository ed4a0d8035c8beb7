"""Run the benchmarks: `python -m bench [NAME ...]` (all default ones when no name is given).

Each prints its figures; most also write PNG plots to docs/bench/ (`MOTFLOW_PLOTS_DIR` moves them).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclass(frozen=True)
class Benchmark:
    module: str
    about: str
    needs_data: bool = False  # cannot run at all without ../shared/data
    default: bool = True  # part of a bare `python -m bench` (and `make bench`)
    plot: str | None = None  # function in bench.plots that draws what main() returns


BENCHMARKS = {
    "tracker_accuracy": Benchmark(
        "bench.tracker_accuracy", "MOTA/IDF1 of ours and the peers on MOT sequences",
        needs_data=True, plot="tracker_accuracy",
    ),
    "tracker_defaults": Benchmark(
        "bench.tracker_defaults", "how the tracker defaults were chosen; leave-one-sequence-out",
        needs_data=True,
    ),
    "tracker_speed": Benchmark(
        "bench.tracker_speed", "tracker update() ms per frame, ours and the peers",
        plot="tracker_speed",
    ),
    "end_to_end": Benchmark(
        "bench.end_to_end", "the CLI on PETS09-S2L1: MOTA/IDF1, fps, stage split", needs_data=True
    ),
    "overlap": Benchmark("bench.overlap", "wall time with and without the decode thread"),
    "memory": Benchmark("bench.memory", "peak RSS against video length"),
    "cost": Benchmark("bench.cost", "cost per video-hour, idle and cold-start cost per instance"),
    "scale_sim": Benchmark(
        "bench.scale_sim", "async endpoint scale model: AWS burst, settings search, fan-out"
    ),
    "burst": Benchmark(
        "bench.burst", "short clips through the local stack: jobs/min, p50/p95, losses",
        default=False,
    ),
    "burst_faults": Benchmark(
        "bench.burst_faults", "the burst with workers killed, storage paused, throttling, "
        "notifications twice and out of order", default=False,
    ),
    "long_video_rss": Benchmark(
        "bench.long_video_rss", "serving worker peak RSS: 30-minute low-res video vs 1 minute",
        default=False,
    ),
    "detector_accuracy": Benchmark(
        "bench.detector_accuracy", "detector AP50/recall/precision against input size (PETS)",
        needs_data=True,
    ),
    "detector_speed": Benchmark(
        "bench.detector_speed", "detector ms/frame by backend and batch (fp16 on CUDA)"
    ),
    # It skips by itself without the data, which MOTFLOW_SHARED_DATA may place elsewhere.
    "train_finetune": Benchmark(
        "bench.train_finetune", "NanoDet-g fine-tuned on PETS: detection and tracking before/after",
        default=False,
    ),
    "stack_startup": Benchmark(
        "bench.stack_startup", "local stack start-up time, whole and per component",
        default=False,
    ),
    "decode_speed": Benchmark(
        "bench.decode_speed", "VideoReader fps before/after: threads, conversion, skip_frame",
    ),
    "gpu_pipeline": Benchmark(
        "bench.gpu_pipeline", "decode/detector/end-to-end fps at 1080p (for a GPU machine)",
        default=False,
    ),
}  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    listing = "\n".join(
        f"  {name:<17}{b.about}"
        + (" [needs ../shared/data]" if b.needs_data else "")
        + ("" if b.default else " [only when named]")
        for name, b in BENCHMARKS.items()
    )
    return argparse.ArgumentParser(
        prog="python -m bench",
        description="Run benchmarks; each prints figures (none passes or fails).",
        epilog=f"benchmarks:\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _plotter(name: str | None) -> Callable[[Any], None] | None:
    if name is None:
        return None
    from bench import plots

    return getattr(plots, name)


def run(name: str) -> None:
    bench = BENCHMARKS[name]
    print(f"\n=== {name} ===", flush=True)
    if bench.needs_data and not DATA.is_dir():
        print(f"skipped {name}: it needs the shared data folder {DATA}, which is missing")
        return
    started = time.perf_counter()
    result = importlib.import_module(bench.module).main()
    plot = _plotter(bench.plot)
    if plot is not None and result:
        plot(result)
    print(f"({name} took {time.perf_counter() - started:.1f} s)", flush=True)


def main(argv: Sequence[str]) -> int:
    parser = _parser()
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run")
    args = parser.parse_args(list(argv))
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    for name in args.names or [n for n, b in BENCHMARKS.items() if b.default]:
        run(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
