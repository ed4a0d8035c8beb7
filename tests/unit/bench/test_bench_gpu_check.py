"""`make gpu-check` (bench.gpu_check): one line and exit 0 without CUDA; agreement statistics."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from bench import gpu_check


def dets(boxes, scores, labels=None):
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    labels = np.zeros(len(boxes), np.int64) if labels is None else np.asarray(labels)
    return SimpleNamespace(boxes=boxes, scores=np.asarray(scores, np.float32), labels=labels)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_without_cuda_it_says_so_in_one_line_and_exits_0(repo_root, tmp_path) -> None:
    out = tmp_path / "gpu-check.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.gpu_check", "--json", str(out)],
        cwd=repo_root, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("gpu-check: no CUDA device") and "nothing measured" in lines[0]
    assert not out.exists()


def test_makefile_has_the_gpu_check_target(repo_root) -> None:
    makefile = (repo_root / "Makefile").read_text()
    assert "\ngpu-check:" in makefile and "-m bench.gpu_check" in makefile
    assert "gpu-check" in makefile.split(".PHONY:", 1)[1].splitlines()[0]


def test_nonfinite_count_counts_nan_and_inf() -> None:
    assert gpu_check.nonfinite_count(np.array([1.0, np.nan]), np.array([[np.inf, -np.inf]])) == 3
    assert gpu_check.nonfinite_count(np.zeros((0, 4))) == 0


def test_match_boxes_pairs_best_overlaps_one_to_one() -> None:
    a = np.array([[0, 0, 10, 10], [100, 100, 120, 130], [50, 50, 60, 60]], np.float32)
    b = np.array([[101, 100, 121, 130], [0, 0, 10, 11], [0, 0, 10, 10.5], [500, 500, 510, 510]])
    assert sorted(gpu_check.match_boxes(a, b)) == [(0, 2), (1, 0)]
    assert gpu_check.match_boxes(a, np.zeros((0, 4))) == []
    # a box with inf coordinates matches nothing (its IoU is NaN)
    assert gpu_check.match_boxes(np.array([[0, 0, np.inf, np.inf]]), a) == []


def test_identical_detections_agree_exactly() -> None:
    frames = [dets([[0, 0, 10, 20], [30, 30, 40, 50]], [0.9, 0.4]), dets([], [])]
    stats = gpu_check.agreement(frames, frames)
    assert stats["frames"] == 2
    assert stats["detections_reference"] == stats["detections_candidate"] == stats["matched"] == 2
    assert stats["frames_with_different_counts"] == 0
    assert stats["unmatched_reference"] == stats["unmatched_candidate"] == 0
    assert stats["box_abs_diff_px"] == {"mean": 0.0, "max": 0.0}
    assert stats["score_abs_diff"] == {"mean": 0.0, "max": 0.0}
    assert stats["nonfinite_candidate"] == 0


def test_agreement_reports_differences_missing_boxes_and_nonfinite_values() -> None:
    reference = [dets([[0, 0, 10, 20], [30, 30, 40, 50]], [0.9, 0.4], [0, 0])]
    candidate = [dets([[0.5, 0, 10, 21], [0, 0, np.inf, np.inf]], [0.85, np.nan], [0, 2])]
    stats = gpu_check.agreement(reference, candidate)
    assert stats["matched"] == 1
    assert stats["unmatched_reference"] == 1 and stats["unmatched_candidate"] == 1
    assert stats["frames_with_different_counts"] == 0
    assert stats["box_abs_diff_px"]["max"] == pytest.approx(1.0)
    assert stats["score_abs_diff"]["max"] == pytest.approx(0.05, abs=1e-6)
    assert stats["nonfinite_candidate"] == 3  # two inf coordinates and a NaN score
    json.dumps(stats)  # plain JSON types only


def test_agreement_needs_the_same_frames() -> None:
    with pytest.raises(ValueError, match="frames"):
        gpu_check.agreement([dets([], [])], [])
