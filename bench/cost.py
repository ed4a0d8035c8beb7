"""Cost per hour of 1080p30 video, idle cost and cold-start cost, per instance type.

`python -m bench cost` prints the table and draws `cost_per_video_hour.png`. Prices come from the
one price table, `model_code/pricing.py` (stated figures, us-east-1 on-demand, dated there).
Throughput per instance is in `THROUGHPUT`, each figure marked measured (on this project's
machine), scaled (from a measured figure) or assumed (no GPU was available; replace it with
`make gpu-check`'s end-to-end fps for two jobs on 4 CPUs, from a GPU machine).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from model_code.pricing import PRICE_TABLE_DATE, PRICE_TABLE_REGION, PRICES, hourly_price

VIDEO_FPS = 30.0
VIDEO_HOUR_FRAMES = 3600 * VIDEO_FPS
HOURS_PER_MONTH = 730.0
# Managed video APIs, list prices per minute of video (stated figures, same date as the table).
REKOGNITION_USD_PER_MINUTE = 0.10  # Rekognition Video label detection
GOOGLE_VIDEO_USD_PER_MINUTE = 0.15  # Video Intelligence object tracking
# Stated: instance start plus image pull and model load (docs/OPERATIONS.md: 5-10 min on GPU).
STARTUP_S = {"gpu": 360.0, "cpu": 240.0}


@dataclass(frozen=True)
class Throughput:
    fps: float  # end-to-end frames per second of 1080p30 video, all invocation slots busy
    source: str  # measured | scaled | assumed
    note: str


# The CPU figure: `python -m bench end_to_end`, 21.5 fps on the project's 2-core machine
# (docs/BENCHMARKS.md, End to end, 2026-11-21; yolov3-tiny, 768x576 source). 4 vCPUs are 2 cores.
MEASURED_CPU_FPS_2_CORES = 21.5
THROUGHPUT: dict[str, Throughput] = {
    "ml.m5.xlarge": Throughput(
        MEASURED_CPU_FPS_2_CORES, "measured", "2-core machine, 768x576 PETS; 1080p adds decode"
    ),
    "ml.c5.2xlarge": Throughput(
        2 * MEASURED_CPU_FPS_2_CORES, "scaled", "measured 2-core figure x 2 (4 physical cores)"
    ),
    "ml.g4dn.xlarge": Throughput(
        150.0, "assumed", "T4; bound by 1080p H.264 decode on 4 vCPUs; run make gpu-check"
    ),
    "ml.g5.xlarge": Throughput(
        170.0, "assumed", "A10G; still decode-bound on 4 vCPUs; run make gpu-check"
    ),
    "ml.g5.2xlarge": Throughput(
        300.0, "assumed", "A10G; 8 vCPUs decode about twice as fast; run make gpu-check"
    ),
}


def startup_s(instance_type: str) -> float:
    return STARTUP_S["gpu" if PRICES[instance_type].gpu else "cpu"]


def instance_seconds_per_video_hour(fps: float) -> float:
    """Instance-seconds to process one hour of 30 fps video at `fps` frames per second."""
    if fps <= 0:
        raise ValueError(f"fps must be above 0, got {fps}")
    return VIDEO_HOUR_FRAMES / fps


def cost_per_video_hour(instance_type: str, fps: float) -> float:
    """USD of instance time per hour of 1080p30 video, the instance kept busy."""
    return hourly_price(instance_type) * instance_seconds_per_video_hour(fps) / 3600.0


def idle_cost_per_month(instance_type: str, min_capacity: int) -> float:
    """USD a month for the instances kept when no video arrives (zero when scaled to zero)."""
    return hourly_price(instance_type) * HOURS_PER_MONTH * min_capacity


def cold_start_cost(instance_type: str, seconds: float | None = None) -> float:
    """USD billed while one instance starts from zero and loads the model (nothing processed)."""
    seconds = startup_s(instance_type) if seconds is None else seconds
    return hourly_price(instance_type) * seconds / 3600


@dataclass(frozen=True)
class CostRow:
    instance_type: str
    usd_per_hour: float
    throughput: Throughput
    realtime_factor: float
    usd_per_video_hour: float
    cold_start_usd: float
    warm_usd_per_month: float


def cost_table(throughput: dict[str, Throughput] | None = None) -> list[CostRow]:
    rows = []
    for instance_type, t in (throughput or THROUGHPUT).items():
        rows.append(
            CostRow(
                instance_type,
                hourly_price(instance_type),
                t,
                t.fps / VIDEO_FPS,
                cost_per_video_hour(instance_type, t.fps),
                cold_start_cost(instance_type),
                idle_cost_per_month(instance_type, 1),
            )
        )
    return rows


def print_table(rows: Sequence[CostRow]) -> None:
    print(f"prices: SageMaker on-demand, {PRICE_TABLE_REGION}, {PRICE_TABLE_DATE} (stated)")
    print(
        f"{'instance':<16}{'USD/h':>7}{'fps':>7}  {'source':<9}{'x real':>7}"
        f"{'USD/video-h':>12}{'cold start':>11}{'kept at 1/month':>16}"
    )
    for r in rows:
        print(
            f"{r.instance_type:<16}{r.usd_per_hour:>7.3f}{r.throughput.fps:>7.1f}  "
            f"{r.throughput.source:<9}{r.realtime_factor:>7.2f}{r.usd_per_video_hour:>12.3f}"
            f"{r.cold_start_usd:>11.3f}{r.warm_usd_per_month:>16.0f}"
        )
    print(
        f"managed APIs per video-hour: Rekognition Video {60 * REKOGNITION_USD_PER_MINUTE:.2f}, "
        f"Google Video Intelligence {60 * GOOGLE_VIDEO_USD_PER_MINUTE:.2f}"
    )
    print("idle with min_capacity=0: 0 instance cost; each burst pays one cold start per instance")


def plot(rows: Sequence[CostRow]) -> None:
    from bench.plots import figure

    with figure("cost_per_video_hour", "Cost per hour of 1080p30 video (USD, log scale)") as ax:
        names = [r.instance_type for r in rows] + ["Rekognition", "Google VI"]
        values = [r.usd_per_video_hour for r in rows] + [
            60 * REKOGNITION_USD_PER_MINUTE,
            60 * GOOGLE_VIDEO_USD_PER_MINUTE,
        ]
        colours = ["tab:blue" if r.throughput.source == "measured" else "tab:gray" for r in rows]
        bars = ax.barh(names, values, color=colours + ["tab:red", "tab:red"])
        ax.set_xscale("log")
        ax.set_xlim(right=3 * max(values))
        ax.bar_label(bars, labels=[f"${v:.2f}" for v in values], padding=3)
        ax.set_xlabel("USD per video-hour (grey: throughput scaled or assumed)")
        ax.invert_yaxis()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench cost", description=__doc__)
    parser.add_argument("--no-plot", action="store_true", help="print the table only")
    args = parser.parse_args(list(argv or []))
    rows = cost_table()
    print_table(rows)
    for r in rows:
        print(f"  {r.instance_type}: {r.throughput.source} - {r.throughput.note}")
    if not args.no_plot:
        plot(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
