"""How the tracker defaults were chosen, and a leave-one-sequence-out check that they carry over.

Every sequence of the tracker_accuracy rows (a, b, c through each cached detector, d, e) is run
with each candidate of a small grid: the score-threshold fractions (`presets.ScoreFractions`; the
scale they are fractions of is read off each video's detections, never set per detector), how far
the matched scores may lower that scale (`matched_score_quantile`), the first-stage match
threshold, the second-stage one (low-score boxes), and the two lifecycle settings (how long a
track must have been matched before a low-score box may re-find it once lost, and before it may
coast), how far a coasting track's prediction may drift, and the output filter (smallest area,
widest width/height). One choice serves every row; row c through a detector other than NanoDet-g
is a row of its own (`c-yolov3-tiny`). The judged unit is a row (its sequences pooled).
A candidate's margin on a set of sequences is the smallest of `MOTA - best anchor's MOTA`,
`IDF1 - best anchor's IDF1` and `HOTA - best anchor's HOTA` in points, where "best anchor" is the
best of the six anchors (bench/peers.py) on that metric, each at its defaults; on rows a and b as
a whole the ByteTrack authors' quoted MOTA / IDF1 (`QUOTED_AUTHORS`) count as an anchor too.
The ranking: first whether row c (PETS through NanoDet-g, the pipeline's input) holds the issue's
end-to-end bar of MOTA and IDF1 >= 80; then whether the sample video's two people each keep one
id on at least `SAMPLE_BAR` of their frames (`holds_sample`); then the worst row margin (capped
at +`BAR` points: above it, more does not count); then the mean row margin. Each simulated 30 fps
sequence's own margin is printed too. The defaults
are the pick on all sequences; the leave-one-out table picks on the other sequences and scores the
pick on the one left out, beside the defaults and the best anchor there.

It also prints the sample-video check: NanoDet-g's cached detections of samples/people-walking.mp4
(10 fps) through the defaults: which id covers the most of frames 30-140 (the woman) and 200-290
(the man), and how many ids there are in all.

Run: `PYTHONPATH=$PWD:$PWD/.cache/bench-site .venv/bin/python -m bench tracker_defaults` (minutes;
make the cached detections first with `python -m bench.detector_dets`).
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass

import numpy as np

from bench import peers
from bench.track_eval import Evaluator, SequenceResult, pooled
from bench.track_eval import scores as score_of
from bench.tracker_accuracy import BenchRow, Sequence, bench_rows, run_tracker
from bench.tracker_sample import holds_sample, sample_check
from model_code.tracking import GENERIC, TrackerConfig, preset
from model_code.tracking.presets import ScoreFractions

# The earlier grids (docs/BENCHMARKS.md) ruled out high 0.65 and 0.7, margin 0.25 and 0.4, the
# first-stage match 0.85 (row c under its bar), the second-stage match 0.5, the lifecycle gates'
# low_refind_min_s 5 and coast_min_s 0, and matched_score_quantile 0, 0.03 and 0.08; they are
# left out to make room for the output filter's axes.
HIGH = (0.6,)
NEW_TRACK_MARGIN = (0.5,)
MATCH_THRESHOLD = (0.9,)
# The second stage's match threshold (low-score boxes against the tracks still unmatched).
LOW_MATCH_THRESHOLD = (0.4,)
# Seconds of matched frames after which a lost track may be re-found by a low-score box.
LOW_REFIND_MIN_S = (0.0, 3.0)
# Seconds of matched frames after which a lost track may coast (be reported at its prediction).
COAST_MIN_S = (0.5, 2.0)
# The quantile of matched scores the high threshold may come down to (0: the highest score's
# scale alone).
MATCHED_SCORE_QUANTILE = (0.05,)
# How far (times its height) a coasting track's prediction may drift from its last box.
# (0.03 and area 100 px² trailed in every other setting in the fourth pass's first grid.)
COAST_MAX_DRIFT = (0.04,)
# The output filter: the smallest reported area (px²) and the widest width/height.
MIN_BOX_AREA = (300.0, 500.0)
MAX_ASPECT_RATIO = (1.6, 0.9, 0.8)
# MOTA / IDF1 (points) of the ByteTrack authors' own code on rows a and b, as quoted in the
# project's acceptance anchor table (issue 3, "How it will be judged"). The PyPI `bytetracker`
# packaging scores lower there, so these quoted figures are a bar on those rows.
QUOTED_AUTHORS: dict[str, tuple[float, float]] = {
    "a": (76.8, 86.3),  # PETS09-S2L1, Keypoint R-CNN (mot3d JSON), 10 fps
    "b": (64.4, 56.8),  # SORT Faster R-CNN det.txt: PETS09-S2L1, TUD-Campus, TUD-Stadtmitte
}
# Rows of simulated crowded sequences (tracker_accuracy rows d and e).
SIMULATED_ROWS = ("d", "e")
# The aim: this many points over the best anchor everywhere.
BAR = 1.0
# The end-to-end proof: PETS through NanoDet-g with the defaults at MOTA and IDF1 of at
# least 80. Row c is that input (the pipeline's detections, cached), so a candidate must hold it.
PROOF_ROW, PROOF_BAR = "c", (80.0, 80.0)

Results = dict[str, SequenceResult]  # item label -> that sequence's result


@dataclass(frozen=True)
class Candidate:
    high: float
    new_track_margin: float
    match_threshold: float
    low_match_threshold: float
    low_refind_min_s: float
    coast_min_s: float
    matched_score_quantile: float
    coast_max_drift: float
    min_box_area: float
    max_aspect_ratio: float

    def config(self) -> TrackerConfig:
        fractions = ScoreFractions(
            high=self.high, low=ScoreFractions().low, new_track_margin=self.new_track_margin
        )
        return preset(GENERIC, fractions).with_overrides(
            {
                "match_threshold": self.match_threshold,
                "low_match_threshold": self.low_match_threshold,
                "low_refind_min_s": self.low_refind_min_s,
                "coast_min_s": self.coast_min_s,
                "matched_score_quantile": self.matched_score_quantile,
                "coast_max_drift": self.coast_max_drift,
                "min_box_area": self.min_box_area,
                "max_aspect_ratio": self.max_aspect_ratio,
            }
        )

    def __str__(self) -> str:
        return (
            f"high {self.high:.2f} margin {self.new_track_margin:.2f} "
            f"match {self.match_threshold:.2f} low {self.low_match_threshold:.2f} "
            f"refind {self.low_refind_min_s:g} coast {self.coast_min_s:g} "
            f"q {self.matched_score_quantile:g} drift {self.coast_max_drift:g} "
            f"area {self.min_box_area:g} w/h {self.max_aspect_ratio:g}"
        )


@dataclass(frozen=True)
class Item:
    """One sequence of one row; row c through another detector than NanoDet-g is its own row,
    `c-<detector>`."""

    row: str
    sequence: Sequence

    @property
    def label(self) -> str:
        return f"{self.row}:{self.sequence.name}"


def items(rows: list[BenchRow]) -> list[Item]:
    """The tuning set: rows a, b, d, e, and row c through each detector whose PETS detections
    are cached (the fine-tuned and frame-window rows, `detector@first-last`, stay out)."""
    chosen = []
    for row in rows:
        if "@" in row.detector:
            continue
        letter = row.name.split(")")[0]
        key = letter if row.detector in (GENERIC, "nanodet-g") else f"{letter}-{row.detector}"
        chosen += [Item(key, seq) for seq in row.sequences]
    return chosen


def points(results: list[SequenceResult]) -> tuple[float, float, float]:
    """MOTA, IDF1, HOTA in points of the results pooled."""
    return score_of(pooled(results)).points()


def margin(ours: Results, anchors: list[Results], labels: list[str]) -> float:
    """The smallest of the MOTA, IDF1 and HOTA margins (points) over the best anchor on each,
    the labels' sequences pooled. A whole row a or b also has the authors' quoted figures."""
    mine = points([ours[k] for k in labels])
    runs = [points([anchor[k] for k in labels]) for anchor in anchors]
    best = [max(run[m] for run in runs) for m in range(3)]
    rows = {label.split(":")[0] for label in labels}
    row = rows.pop() if len(rows) == 1 else ""
    if row in QUOTED_AUTHORS and len(labels) == sum(k.split(":")[0] == row for k in ours):
        best[0] = max(best[0], QUOTED_AUTHORS[row][0])
        best[1] = max(best[1], QUOTED_AUTHORS[row][1])
    return min(m - b for m, b in zip(mine, best, strict=True))


def row_margins(ours: Results, anchors: list[Results], chosen: list[Item]) -> list[float]:
    """Per row (over the chosen items), the margin over the best anchor."""
    rows = sorted({item.row for item in chosen})
    return [margin(ours, anchors, [i.label for i in chosen if i.row == row]) for row in rows]


def held_out_kind_margins(ours: Results, anchors: list[Results], chosen: list[Item]) -> list[float]:
    """Per simulated crowded sequence at >= 25 fps (the held-out kind), its own margin."""
    return [
        margin(ours, anchors, [item.label])
        for item in chosen
        if item.row in SIMULATED_ROWS and item.sequence.fps >= 25
    ]


def holds_proof(ours: Results, chosen: list[Item]) -> bool:
    """Row c (PETS through NanoDet-g) at MOTA and IDF1 >= `PROOF_BAR`; True without row c."""
    labels = [i.label for i in chosen if i.row == PROOF_ROW]
    if not labels:
        return True
    mota, idf1, _ = points([ours[k] for k in labels])
    return mota >= PROOF_BAR[0] and idf1 >= PROOF_BAR[1]


def pick(
    results: dict[Candidate, Results],
    anchors: list[Results],
    chosen: list[Item],
    sample_ok: dict[Candidate, bool] | None = None,
) -> Candidate:
    """The proof bar on row c first, then the sample check (`holds_sample`, where given), then
    the worst row margin (capped at +BAR), then the mean."""

    def rank(candidate: Candidate) -> tuple[bool, bool, float, float]:
        rows = row_margins(results[candidate], anchors, chosen)
        sample = True if sample_ok is None else sample_ok[candidate]
        proof = holds_proof(results[candidate], chosen)
        return proof, sample, min(min(rows), BAR), float(np.mean(rows))

    return max(results, key=rank)


def main() -> None:
    anchors, missing = peers.available_anchors()
    rows, skipped = bench_rows()
    for note in missing + skipped:
        print(f"skipped {note}", file=sys.stderr)
    if not anchors:
        print("no anchors installed (make bench): nothing to compare against", file=sys.stderr)
        return
    chosen = items(rows)
    defaults_config = preset()
    defaults = Candidate(
        defaults_config.high_threshold,
        round(
            (defaults_config.new_track_threshold - defaults_config.high_threshold)
            / (1 - defaults_config.high_threshold),
            4,
        ),
        defaults_config.match_threshold,
        defaults_config.low_match_threshold,
        defaults_config.low_refind_min_s,
        defaults_config.coast_min_s,
        defaults_config.matched_score_quantile,
        defaults_config.coast_max_drift,
        defaults_config.min_box_area,
        defaults_config.max_aspect_ratio,
    )
    grid = itertools.product(
        HIGH,
        NEW_TRACK_MARGIN,
        MATCH_THRESHOLD,
        LOW_MATCH_THRESHOLD,
        LOW_REFIND_MIN_S,
        COAST_MIN_S,
        MATCHED_SCORE_QUANTILE,
        COAST_MAX_DRIFT,
        MIN_BOX_AREA,
        MAX_ASPECT_RATIO,
    )
    candidates = [Candidate(*v) for v in grid]
    candidates += [defaults] if defaults not in candidates else []
    with Evaluator() as evaluator:

        def run(runner: peers.Runner, item: Item, anchor: bool) -> SequenceResult:
            seq = item.sequence
            return evaluator.sequence(seq.gt_path, run_tracker(runner, seq, anchor))

        anchor_results = [{item.label: run(a, item, True) for item in chosen} for a in anchors]
        results = {
            candidate: {
                item.label: run(peers.ours(candidate.config()), item, False) for item in chosen
            }
            for candidate in candidates
        }
    sample_ok = {candidate: holds_sample(candidate.config()) for candidate in candidates}
    overall = pick(results, anchor_results, chosen, sample_ok)
    for candidate in candidates:
        margins = row_margins(results[candidate], anchor_results, chosen)
        each = held_out_kind_margins(results[candidate], anchor_results, chosen)
        print(
            f"  {candidate!s:<96} worst row {min(margins):+5.1f}  worst 30 fps sim "
            f"{min(each) if each else float('nan'):+5.1f}  mean row {np.mean(margins):+5.1f}"
            f"  sample {'ok' if sample_ok[candidate] else 'short'}"
        )
    print(f"picked on all {len(chosen)} sequences: {overall}; project defaults: {defaults}")
    print(
        f"{'left out':<18} {'picked without it':<96} {'MOTA/IDF1/HOTA':>17} "
        f"{'defaults':>17} {'best anchor':>17}"
    )
    for item in chosen:
        others = [other for other in chosen if other is not item]
        without = pick(results, anchor_results, others, sample_ok)
        mine = points([results[without][item.label]])
        dflt = points([results[defaults][item.label]])
        runs = [points([anchor[item.label]]) for anchor in anchor_results]
        best = [max(run[m] for run in runs) for m in range(3)]
        print(
            f"{item.label:<18} {without!s:<96} "
            + "  ".join("/".join(f"{v:.1f}" for v in t) for t in (mine, dflt, best)),
            flush=True,
        )
    print(sample_check(defaults_config))


if __name__ == "__main__":
    main()
