"""How the tracker defaults were chosen, and a leave-one-sequence-out check that they carry over.

Every sequence of the tracker_accuracy rows (a, b, c with NanoDet-g, d, e) is run with each
candidate in a small grid: the score-threshold fractions of `presets.ScoreFractions` (applied to
each sequence's detector scale), the coast period and its drift limit. The judged unit is a row
(its sequences pooled). A candidate's margin on a set of sequences is `min(MOTA - better anchor's
MOTA, IDF1 - better anchor's IDF1)` in points; on rows a and b as a whole the authors' quoted
figures (`QUOTED_AUTHORS`) count as an anchor too. The ranking follows the acceptance bar: first,
whether the worst margin over every row and every simulated 30 fps sequence (the held-out kind,
one by one) reaches +1 point (below that, the higher the worst margin the better); then the mean
row margin.
The defaults are the pick on all
sequences; the leave-one-out table picks on the other sequences (a row left empty drops out) and
scores the pick on the one left out, beside the defaults and the better anchor on it.

It also prints the sample-video check: NanoDet-g's cached detections of samples/people-walking.mp4
(10 fps) through the nanodet-g preset: which id covers the most of frames 30-140 (the woman) and
200-290 (the man), and how many ids there are in all.

Run: `PYTHONPATH=$PWD:$PWD/.cache/bench-site .venv/bin/python -m bench tracker_defaults` (minutes;
make the cached detections first with `python -m bench.detector_dets`).
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass

import numpy as np

from bench import peers
from bench.mot_eval import evaluate_many, pooled
from bench.tracker_accuracy import CACHE, BenchRow, Sequence, bench_rows, run_tracker
from model_code.track_dets import read_detection_rows
from model_code.tracking import GENERIC, preset
from model_code.tracking.presets import ScoreFractions, observed_score_scale, scaled_preset

HIGH = (0.6, 0.7)
NEW_TRACK_MARGIN = (0.25, 0.5)
COAST_S = (0.3, 1.0)
COAST_MAX_DRIFT = (0.03, 0.05, 1.0)
# MOTA / IDF1 (points) of the ByteTrack authors' own code on rows a and b, as quoted in the
# project's acceptance anchor table (issue 3, "How it will be judged"). The PyPI `bytetracker`
# packaging scores lower there, so these quoted figures are the bar on those rows.
QUOTED_AUTHORS: dict[str, tuple[float, float]] = {
    "a": (76.8, 86.3),  # PETS09-S2L1, Keypoint R-CNN (mot3d JSON), 10 fps
    "b": (64.4, 56.8),  # SORT Faster R-CNN det.txt: PETS09-S2L1, TUD-Campus, TUD-Stadtmitte
}
# Rows of simulated crowded sequences (tracker_accuracy rows d and e).
SIMULATED_ROWS = ("d", "e")
# The aim: this many points over the better anchor everywhere.
BAR = 1.0
SAMPLE_DETS = CACHE / "people-walking-nanodet-g-det.txt"
SAMPLE_FPS = 10.0
SAMPLE_SPANS = {"woman": (30, 140), "man": (200, 290)}


@dataclass(frozen=True)
class Candidate:
    high: float
    new_track_margin: float
    coast_s: float
    coast_max_drift: float

    def config(self, item: Item):
        """The row's detector preset, or for external rows the scale read off the detections."""
        fractions = ScoreFractions(
            high=self.high, low=ScoreFractions().low, new_track_margin=self.new_track_margin
        )
        if item.detector == GENERIC:
            scale = observed_score_scale(item.sequence.det_rows[:, 6])
            base = scaled_preset(scale, fractions)
        else:
            base = preset(item.detector, fractions)
        return base.with_overrides(
            {"coast_s": self.coast_s, "coast_max_drift": self.coast_max_drift}
        )

    def __str__(self) -> str:
        return (
            f"high {self.high:.2f} margin {self.new_track_margin:.2f} coast {self.coast_s:.1f}s"
            f" drift {self.coast_max_drift:.2f}"
        )


@dataclass(frozen=True)
class Item:
    """One sequence of one row, tracked with the preset of the row's detector."""

    row: str
    sequence: Sequence
    detector: str

    @property
    def label(self) -> str:
        return f"{self.row}:{self.sequence.name}"


Scores = dict[str, dict]  # item label -> mot_eval metrics of that sequence


def items(rows: list[BenchRow]) -> list[Item]:
    return [
        Item(row.name.split(")")[0], seq, row.detector)
        for row in rows
        for seq in row.sequences
        if row.detector in (GENERIC, "nanodet-g")
    ] + [
        Item("c-ext", seq, GENERIC)
        for row in rows
        for seq in row.sequences
        if row.detector == "nanodet-g"
    ]


def evaluate(runner: peers.Runner, item: Item, anchor: bool) -> dict:
    seq = item.sequence
    return evaluate_many({seq.name: (seq.gt_path, run_tracker(runner, seq, anchor))})[seq.name]


def points(results: list[dict]) -> tuple[float, float]:
    mota, idf1 = pooled(results)
    return 100 * mota, 100 * idf1


def margin(ours: Scores, anchors: list[Scores], labels: list[str]) -> float:
    """min(MOTA, IDF1) margin in points over the better anchor, the labels' sequences pooled.

    A whole row a or b also has the authors' quoted figures (`QUOTED_AUTHORS`) as an anchor.
    """
    mota, idf1 = points([ours[k] for k in labels])
    runs = [points([anchor[k] for k in labels]) for anchor in anchors]
    rows = {label.split(":")[0] for label in labels}
    row = rows.pop() if len(rows) == 1 else ""
    if row in QUOTED_AUTHORS and len(labels) == sum(k.split(":")[0] == row for k in ours):
        runs.append(QUOTED_AUTHORS[row])
    return min(mota - max(r[0] for r in runs), idf1 - max(r[1] for r in runs))


def row_margins(ours: Scores, anchors: list[Scores], chosen: list[Item]) -> list[float]:
    """Per row (over the chosen items), the margin over the better anchor."""
    rows = sorted({item.row for item in chosen})
    return [margin(ours, anchors, [i.label for i in chosen if i.row == row]) for row in rows]


def held_out_kind_margins(ours: Scores, anchors: list[Scores], chosen: list[Item]) -> list[float]:
    """Per simulated crowded sequence at >= 25 fps (the held-out kind), its own margin."""
    return [
        margin(ours, anchors, [item.label])
        for item in chosen
        if item.row in SIMULATED_ROWS and item.sequence.fps >= 25
    ]


def pick(scores: dict[Candidate, Scores], anchors: list[Scores], chosen: list[Item]) -> Candidate:
    """The bar first (+BAR points on every row and every held-out-kind sequence), then the mean."""

    def rank(candidate: Candidate) -> tuple[float, float]:
        rows = row_margins(scores[candidate], anchors, chosen)
        each = held_out_kind_margins(scores[candidate], anchors, chosen)
        return min(min(rows + each), BAR), float(np.mean(rows))

    return max(scores, key=rank)


def sample_check() -> str:
    """One line: per person the share of their frames held by one id, and the ids in all."""
    if not SAMPLE_DETS.is_file():
        return f"sample check skipped: {SAMPLE_DETS} not found (python -m bench.detector_dets)"
    from model_code.track_dets import track_detection_rows

    tracks, _ = track_detection_rows(
        read_detection_rows(SAMPLE_DETS), SAMPLE_FPS, preset("nanodet-g")
    )
    parts = []
    for person, (first, last) in SAMPLE_SPANS.items():
        span = tracks[(tracks[:, 0] >= first) & (tracks[:, 0] <= last)]
        ids, counts = np.unique(span[:, 1].astype(int), return_counts=True)
        top = int(counts.argmax()) if len(counts) else -1
        share = counts[top] / (last - first + 1) if len(counts) else 0.0
        parts.append(
            f"{person} frames {first}-{last}: id {ids[top] if len(ids) else '-'} on {share:.0%}"
        )
    total = len(np.unique(tracks[:, 1])) if len(tracks) else 0
    return "sample (nanodet-g preset): " + "; ".join(parts) + f"; {total} ids in all"


def main() -> None:
    anchors, missing = peers.available_anchors()
    rows, skipped = bench_rows()
    for note in missing + skipped:
        print(f"skipped {note}", file=sys.stderr)
    if not anchors:
        print("no anchors installed (make bench): nothing to compare against", file=sys.stderr)
        return
    chosen = items(rows)
    anchor_scores = [
        {item.label: evaluate(anchor, item, anchor=True) for item in chosen} for anchor in anchors
    ]
    defaults = Candidate(
        ScoreFractions().high,
        ScoreFractions().new_track_margin,
        preset().coast_s,
        preset().coast_max_drift,
    )
    grid = itertools.product(HIGH, NEW_TRACK_MARGIN, COAST_S, COAST_MAX_DRIFT)
    candidates = [Candidate(*v) for v in grid]
    candidates += [defaults] if defaults not in candidates else []
    scores = {
        candidate: {
            item.label: evaluate(peers.ours(candidate.config(item)), item, anchor=False)
            for item in chosen
        }
        for candidate in candidates
    }
    overall = pick(scores, anchor_scores, chosen)
    for candidate in candidates:
        rows = row_margins(scores[candidate], anchor_scores, chosen)
        each = held_out_kind_margins(scores[candidate], anchor_scores, chosen)
        print(
            f"  {candidate!s:<34} worst row {min(rows):+5.1f}  worst 30 fps sim {min(each):+5.1f}"
            f"  mean row {np.mean(rows):+5.1f}"
        )
    print(f"picked on all {len(chosen)} sequences: {overall}; project defaults: {defaults}")
    for name, candidate in (("picked", overall), ("defaults", defaults)):
        margins = row_margins(scores[candidate], anchor_scores, chosen)
        print(
            f"  {name} worst / mean row margin over the better anchor: "
            f"{min(margins):+.1f} / {np.mean(margins):+.1f} points"
        )
    print(
        f"{'left out':<18} {'picked without it':<34} {'MOTA':>5} {'IDF1':>5} "
        f"{'dflt MOTA':>9} {'dflt IDF1':>9} {'anchor MOTA':>11} {'anchor IDF1':>11}"
    )
    for item in chosen:
        without = pick(scores, anchor_scores, [other for other in chosen if other is not item])
        mota, idf1 = points([scores[without][item.label]])
        dmota, didf1 = points([scores[defaults][item.label]])
        runs = [points([anchor[item.label]]) for anchor in anchor_scores]
        print(
            f"{item.label:<18} {without!s:<34} {mota:5.1f} {idf1:5.1f} {dmota:9.1f} "
            f"{didf1:9.1f} {max(r[0] for r in runs):11.1f} {max(r[1] for r in runs):11.1f}",
            flush=True,
        )
    print(sample_check())


if __name__ == "__main__":
    main()
