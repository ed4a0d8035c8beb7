"""Analytics accuracy on PETS09-S2L1: the same spec (bench/pets_analytics_spec.json: four lines
across the walking paths, two zones, a ground-plane calibration) computed from the MOT15
ground-truth tracks and from our tracks, side by side.

    python -m model_code track /work/shared/data/PETS09-S2L1/vtest.avi --out /tmp/pets
    python bench/analytics_accuracy.py --tracks /tmp/pets/tracks.txt

Prints a Markdown table: crossings per line and direction (limit 10%), mean dwell per zone
(15%), speed through the homography (10%): total path over total track time, all tracks. The
calibration's points are ground-truth foot points with the world coordinates MOT15 gives them
(gt.txt columns 8-9, metres). Times use the video's declared rate (the AVI says 10 fps) for both
sides, so the m/s are like for like. `--hysteresis` overrides the spec's, to show its effect.
Prints figures only; it never fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from model_code.analytics.replay import analytics_from_rows  # noqa: E402
from model_code.analytics.spec import parse_spec  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
GT = SHARED / "MOT15" / "train" / "PETS09-S2L1" / "gt" / "gt.txt"
SPEC = REPO / "bench" / "pets_analytics_spec.json"
FPS, WIDTH, HEIGHT, FRAMES = 10.0, 768, 576, 795
LIMITS = {"crossings": 0.10, "mean dwell": 0.15, "speed": 0.10}


def load_rows(path: Path, ground_truth: bool) -> np.ndarray:
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    return rows[rows[:, 6] > 0] if ground_truth else rows


def compare(spec_data: dict[str, Any], gt: np.ndarray, ours: np.ndarray) -> list[dict[str, Any]]:
    """One row per figure: what, ground truth, ours, relative difference, limit."""
    spec = parse_spec(spec_data)
    frames = range(1, FRAMES + 1)
    docs = [
        analytics_from_rows(rows, spec, fps=FPS, width=WIDTH, height=HEIGHT, frames=frames)
        for rows in (gt, ours)
    ]
    table = []
    for name, line in docs[0]["lines"].items():
        for direction, count in line["directions"].items():
            mine = docs[1]["lines"][name]["directions"][direction]
            table.append(_row(f"line {name} {direction}", count, mine, "crossings"))
    for name, zone in docs[0]["zones"].items():
        mine = docs[1]["zones"][name]
        table.append(
            _row(
                f"zone {name} mean dwell (s)",
                zone["mean_dwell_s"],
                mine["mean_dwell_s"],
                "mean dwell",
            )
        )
        table.append(_row(f"zone {name} entries", zone["entries"], mine["entries"], None))
    speeds = [
        sum(t["path_m"] for t in doc["tracks"])
        / max(sum(t["duration_s"] for t in doc["tracks"]), 1e-9)
        for doc in docs
    ]
    table.append(_row("speed through the homography (m/s)", speeds[0], speeds[1], "speed"))
    return table


def _row(what: str, truth: float, ours: float, kind: str | None) -> dict[str, Any]:
    diff = (ours - truth) / truth if truth else (0.0 if ours == truth else float("inf"))
    limit = LIMITS.get(kind) if kind else None
    return {"what": what, "gt": truth, "ours": ours, "diff": diff, "limit": limit}


def markdown(table: list[dict[str, Any]]) -> str:
    lines = [
        "| figure | ground truth | ours | difference | limit | within |",
        "|---|---|---|---|---|---|",
    ]
    for row in table:
        fmt = (lambda v: f"{v:.3f}") if isinstance(row["gt"], float) else str
        limit = f"{row['limit']:.0%}" if row["limit"] is not None else "-"
        within = (
            "-" if row["limit"] is None else ("yes" if abs(row["diff"]) <= row["limit"] else "NO")
        )
        lines.append(
            f"| {row['what']} | {fmt(row['gt'])} | {fmt(row['ours'])} | {row['diff']:+.1%} "
            f"| {limit} | {within} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", required=True, help="our tracks.txt for vtest.avi")
    parser.add_argument("--gt", default=str(GT), help="MOT15 PETS09-S2L1 gt.txt")
    parser.add_argument("--spec", default=str(SPEC))
    parser.add_argument("--hysteresis", type=float, help="override the spec's hysteresis")
    args = parser.parse_args(argv)
    if not Path(args.gt).is_file():
        print(f"ground truth not found at {args.gt}", file=sys.stderr)
        return 0
    spec = json.loads(Path(args.spec).read_text(encoding="utf-8"))
    if args.hysteresis is not None:
        spec["hysteresis"] = args.hysteresis
    table = compare(spec, load_rows(Path(args.gt), True), load_rows(Path(args.tracks), False))
    print(
        f"PETS09-S2L1, spec {Path(args.spec).name}, hysteresis {spec.get('hysteresis', 'default')}"
    )
    print(markdown(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
