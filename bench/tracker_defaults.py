"""How the tracker defaults were chosen, and a leave-one-sequence-out check that they carry over.

Every sequence of the tracker_accuracy rows (a, b, c with NanoDet-g, d) is run with each
candidate in a small grid: the score-threshold fractions of `presets.ScoreFractions` (applied to
each sequence's detector scale) and the coast period. A candidate's score on a sequence is its
margin over the better anchor there, `min(MOTA - best anchor MOTA, IDF1 - best anchor IDF1)` in
points, and candidates are ranked by their mean margin over the sequences (ties: the mean
MOTA + IDF1). The defaults are the pick on all sequences; the leave-one-out table picks on all but
one sequence and scores the pick on the one left out.

It also prints the sample-video check: NanoDet-g's cached detections of samples/people-walking.mp4
(10 fps) through the nanodet-g preset: which id covers the most of frames 30-140 (the woman) and
200-290 (the man), and how many ids there are in all.

Run: `PYTHONPATH=$PWD:$PWD/.cache/bench-site .venv/bin/python -m bench tracker_defaults` (a few
minutes; make the cached detections first with `python -m bench.detector_dets`).
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass

import numpy as np

from bench import peers
from bench.mot_eval import evaluate_many
from bench.tracker_accuracy import CACHE, BenchRow, Sequence, bench_rows, run_tracker
from model_code.track_dets import read_detection_rows
from model_code.tracking import GENERIC, preset
from model_code.tracking.presets import ScoreFractions

HIGH = (0.5, 0.6, 0.7)
NEW_TRACK_MARGIN = (0.25, 0.5)
COAST_S = (0.0, 0.1, 0.2, 0.3)
SAMPLE_DETS = CACHE / "people-walking-nanodet-g-det.txt"
SAMPLE_FPS = 10.0
SAMPLE_SPANS = {"woman": (30, 140), "man": (200, 290)}


@dataclass(frozen=True)
class Candidate:
    high: float
    new_track_margin: float
    coast_s: float

    def config(self, detector: str):
        fractions = ScoreFractions(
            high=self.high, low=ScoreFractions().low, new_track_margin=self.new_track_margin
        )
        return preset(detector, fractions).with_overrides({"coast_s": self.coast_s})

    def __str__(self) -> str:
        return f"high {self.high:.2f} margin {self.new_track_margin:.2f} coast {self.coast_s:.1f}s"


@dataclass(frozen=True)
class Item:
    """One sequence of one row, tracked with the preset of the row's detector."""

    label: str
    sequence: Sequence
    detector: str


def items(rows: list[BenchRow]) -> list[Item]:
    return [
        Item(f"{row.name.split(')')[0]}:{seq.name}", seq, row.detector)
        for row in rows
        for seq in row.sequences
        if row.detector in (GENERIC, "nanodet-g")
    ]


def metrics(runner: peers.Runner, item: Item, anchor: bool) -> tuple[float, float]:
    seq = item.sequence
    result = evaluate_many({seq.name: (seq.gt_path, run_tracker(runner, seq, anchor))})
    return 100 * result[seq.name]["mota"], 100 * result[seq.name]["idf1"]


def margin(ours: tuple[float, float], best: tuple[float, float]) -> float:
    return min(ours[0] - best[0], ours[1] - best[1])


def pick(
    scores: dict[Candidate, dict[str, tuple[float, float]]],
    best: dict[str, tuple[float, float]],
    labels: list[str],
) -> Candidate:
    def rank(candidate: Candidate) -> tuple[float, float]:
        s = scores[candidate]
        return (
            float(np.mean([margin(s[k], best[k]) for k in labels])),
            float(np.mean([sum(s[k]) for k in labels])),
        )

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
    labels = [item.label for item in chosen]
    best: dict[str, tuple[float, float]] = {}
    for item in chosen:
        runs = [metrics(anchor, item, anchor=True) for anchor in anchors]
        best[item.label] = (max(r[0] for r in runs), max(r[1] for r in runs))
    candidates = [
        Candidate(*values) for values in itertools.product(HIGH, NEW_TRACK_MARGIN, COAST_S)
    ]
    scores: dict[Candidate, dict[str, tuple[float, float]]] = {}
    for candidate in candidates:
        scores[candidate] = {
            item.label: metrics(peers.ours(candidate.config(item.detector)), item, anchor=False)
            for item in chosen
        }
    defaults = Candidate(ScoreFractions().high, ScoreFractions().new_track_margin, preset().coast_s)
    overall = pick(scores, best, labels)
    print(f"picked on all {len(labels)} sequences: {overall}; project defaults: {defaults}")
    if defaults not in scores:
        print("(the project defaults are not in the grid)")
    print(
        f"{'left out':<24} {'picked without it':<36} {'MOTA':>6} {'IDF1':>6} "
        f"{'dflt MOTA':>9} {'dflt IDF1':>9} {'anchor MOTA':>11} {'anchor IDF1':>11}"
    )
    for label in labels:
        others = [k for k in labels if k != label]
        chosen_without = pick(scores, best, others)
        mota, idf1 = scores[chosen_without][label]
        dmota, didf1 = scores.get(defaults, scores[overall])[label]
        print(
            f"{label:<24} {chosen_without!s:<36} {mota:6.1f} {idf1:6.1f} {dmota:9.1f} "
            f"{didf1:9.1f} {best[label][0]:11.1f} {best[label][1]:11.1f}",
            flush=True,
        )
    print(sample_check())


if __name__ == "__main__":
    main()
