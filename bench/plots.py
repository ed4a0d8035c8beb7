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
