"""PNG plots for the benchmarks, drawn headless (matplotlib's Agg backend).

`with figure("name", "title") as ax: ax.plot(...)` writes `<plots dir>/name.png` and prints its
path. The folder is `docs/bench/` (docs/BENCHMARKS.md embeds the files), or `MOTFLOW_PLOTS_DIR`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PLOTS_ENV = "MOTFLOW_PLOTS_DIR"


def plots_dir() -> Path:
    return Path(os.environ.get(PLOTS_ENV) or REPO / "docs" / "bench")


@contextmanager
def figure(name: str, title: str, size: tuple[float, float] = (7.0, 4.0)) -> Iterator[Any]:
    """An Axes to draw on; the figure is saved as `<name>.png` when the block ends."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size, layout="constrained")
    ax.set_title(title)
    try:
        yield ax
        out = plots_dir()
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{name}.png"
        fig.savefig(path, dpi=100)
        print(f"plot: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    finally:
        plt.close(fig)


def tracker_accuracy(results: list[tuple[str, str, dict]]) -> None:
    """Grouped bars: MOTA, IDF1 and HOTA per benchmark row, one bar per tracker."""
    import textwrap

    rows = list(dict.fromkeys(r for r, _, _ in results))
    trackers = list(dict.fromkeys(t for _, t, _ in results))
    values = {(r, t): m for r, t, m in results}
    width = 0.8 / max(1, len(trackers))
    for metric in ("mota", "idf1", "hota"):
        with figure(f"tracker_{metric}", f"Tracker {metric.upper()} per row (%)", (8, 4.5)) as ax:
            for i, tracker in enumerate(trackers):
                xs = [j + i * width for j in range(len(rows))]
                ys = [100 * values[(r, tracker)][metric] if (r, tracker) in values else 0
                      for r in rows]  # fmt: skip
                bars = ax.bar(xs, ys, width, label=tracker)
                ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
            ax.set_xticks([j + width * (len(trackers) - 1) / 2 for j in range(len(rows))])
            ax.set_xticklabels([textwrap.fill(r, 22) for r in rows], fontsize=8)
            ax.set_ylim(0, 100)
            ax.figure.legend(loc="outside lower center", ncols=len(trackers), fontsize=8)


def tracker_speed(results: list[tuple[str, str, float]]) -> None:
    """ms per frame against objects per frame (read from the scene name, e.g. "~45/frame")."""
    import re

    with figure("tracker_speed", "Tracker update() ms per frame against objects per frame") as ax:
        for tracker in dict.fromkeys(t for _, t, _ in results):
            points = []
            for scene, t, ms in results:
                found = re.search(r"(\d[\d,]*)\s*/\s*frame", scene)
                if t == tracker and found:
                    points.append((int(found.group(1).replace(",", "")), ms))
            points.sort()
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", label=tracker)
        from matplotlib.ticker import FuncFormatter

        plain = FuncFormatter(lambda value, _: f"{value:g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(plain)
            axis.set_minor_formatter(plain)
        ax.set_xlabel("objects per frame")
        ax.set_ylabel("ms per frame")
        ax.legend(fontsize=8)


def stage_split(per_frame_ms: dict[str, float], title: str) -> None:
    """Horizontal bar of the end-to-end time per stage."""
    with figure("end_to_end_stages", title) as ax:
        names = list(per_frame_ms)
        bars = ax.barh(names, [per_frame_ms[n] for n in names])
        ax.bar_label(bars, labels=[f"{per_frame_ms[n]:.1f}" for n in names], padding=3)
        ax.set_xlabel("ms per frame")
        ax.invert_yaxis()


def memory(points: list[tuple[str, int, float]]) -> None:
    """Peak RSS (MiB) against frames processed."""
    with figure("memory_rss", "Peak RSS against video length") as ax:
        frames = [f for _, f, _ in points]
        ax.plot(frames, [rss for *_, rss in points], marker="o")
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_xlabel("frames in the clip")
        ax.set_ylabel("peak RSS (MiB)")
