"""How much a fine-tuned epoch tracks the validation frames better than the starting model, and
how much of that the validation set's own noise could explain.

Both models are tracked over the same frames, so their difference is paired. The noise in that
difference is estimated by a delete-a-block jackknife: the validation frames (in order) are cut
into `BLOCKS` contiguous blocks, the difference is recomputed with each block left out, and the
spread of those K values gives a standard error. The margin a gain must clear is the one-sided 95 %
Student t quantile (K - 1 degrees of freedom) times that error. Contiguous blocks, not single
frames, are left out because tracking errors (a switch, a lost track) span neighbouring frames.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

from model_code.training.track_metrics import FrameBoxes, TrackScores, score_tracks

BLOCKS = 5
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Gain:
    """Candidate − start on the validation frames, and the margins a gain must exceed."""

    idf1: float
    hota: float
    idf1_margin: float
    hota_margin: float
    id_switches: int  # the candidate's, on the validation frames
    start_id_switches: int

    @property
    def clear(self) -> bool:
        """Both gains above their margins, and no more ID switches than the start."""
        return (
            self.idf1 > self.idf1_margin
            and self.hota > self.hota_margin
            and self.id_switches <= self.start_id_switches
        )


def blocks(frames: int, count: int = BLOCKS) -> list[np.ndarray]:
    """Frame indices cut into `count` contiguous blocks (fewer when there are fewer frames)."""
    return [b for b in np.array_split(np.arange(frames), min(count, frames)) if len(b)]


def leave_one_out(
    gt: Sequence[FrameBoxes], hyp: Sequence[FrameBoxes], parts: list[np.ndarray]
) -> list[TrackScores]:
    """The scores with each block of frames left out in turn."""
    found = []
    for part in parts:
        keep = np.setdiff1d(np.arange(len(gt)), part)
        found.append(score_tracks([gt[i] for i in keep], [hyp[i] for i in keep]))
    return found


def margin(differences: Sequence[float], confidence: float = CONFIDENCE) -> float:
    """One-sided `confidence` t quantile times the jackknife standard error of a statistic
    whose leave-one-block-out values are `differences`; 0 with fewer than 2 blocks."""
    count = len(differences)
    if count < 2:
        return 0.0
    values = np.asarray(differences, float)
    error = math.sqrt((count - 1) / count * float(((values - values.mean()) ** 2).sum()))
    return float(student_t.ppf(confidence, count - 1)) * error


def tracking_gain(
    gt: Sequence[FrameBoxes],
    start_hyp: Sequence[FrameBoxes],
    hyp: Sequence[FrameBoxes],
    start_loo: list[TrackScores] | None = None,
) -> Gain:
    """The candidate's (`hyp`) gain over the start (`start_hyp`) on the same gt frames;
    `start_loo` is the start's `leave_one_out` (computed here when not given)."""
    parts = blocks(len(gt))
    start, mine = score_tracks(gt, start_hyp), score_tracks(gt, hyp)
    start_loo = start_loo if start_loo is not None else leave_one_out(gt, start_hyp, parts)
    mine_loo = leave_one_out(gt, hyp, parts)
    pairs = list(zip(mine_loo, start_loo, strict=True))
    return Gain(
        mine.idf1 - start.idf1,
        mine.hota - start.hota,
        margin([m.idf1 - s.idf1 for m, s in pairs]),
        margin([m.hota - s.hota for m, s in pairs]),
        mine.id_switches,
        start.id_switches,
    )
