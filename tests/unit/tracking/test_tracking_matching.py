"""IoU costs and thresholded linear assignment."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from model_code.tracking import matching


def test_iou_matrix_by_hand():
    a = np.array([[0.0, 0.0, 10.0, 10.0], [100.0, 100.0, 110.0, 110.0]])
    b = np.array([[5.0, 0.0, 15.0, 10.0], [0.0, 0.0, 10.0, 10.0], [50.0, 50.0, 60.0, 60.0]])
    iou = matching.iou_matrix(a, b)
    assert iou.shape == (2, 3)
    np.testing.assert_allclose(iou[0], [50.0 / 150.0, 1.0, 0.0])
    np.testing.assert_allclose(iou[1], [0.0, 0.0, 0.0])


def test_iou_matrix_empty_shapes():
    assert matching.iou_matrix(np.zeros((0, 4)), np.ones((3, 4))).shape == (0, 3)
    assert matching.iou_matrix(np.ones((2, 4)), np.zeros((0, 4))).shape == (2, 0)


def test_fused_cost_and_label_mismatch_forbidden():
    tracks = np.array([[0.0, 0.0, 10.0, 10.0]])
    dets = np.array([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]])
    cost = matching.association_cost(
        tracks, dets, np.array([0.5, 0.8]), np.array([0]), np.array([0, 2])
    )
    assert cost[0, 0] == pytest.approx(0.5)
    assert cost[0, 1] >= matching.FORBIDDEN


def test_assignment_finds_the_optimum():
    cost = np.array([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8], [0.4, 0.6, 0.35]])
    matches, free_rows, free_cols = matching.linear_assignment(cost, threshold=1.0)
    best = min(itertools.permutations(range(3)), key=lambda p: sum(cost[i, p[i]] for i in range(3)))
    assert sorted(map(tuple, matches.tolist())) == [(i, best[i]) for i in range(3)]
    assert len(free_rows) == 0 and len(free_cols) == 0


def test_assignment_respects_threshold():
    cost = np.array([[0.1, 0.95], [0.95, 0.7]])
    matches, free_rows, free_cols = matching.linear_assignment(cost, threshold=0.5)
    assert matches.tolist() == [[0, 0]]
    assert free_rows.tolist() == [1]
    assert free_cols.tolist() == [1]


def test_assignment_prefers_leaving_pairs_unmatched_to_costly_ones():
    # Matching (0,1) and (1,0) costs 0.8 + 0.8; above a 0.5 threshold only (0,0) is allowed.
    cost = np.array([[0.2, 0.8], [0.8, 0.9]])
    matches, free_rows, free_cols = matching.linear_assignment(cost, threshold=0.5)
    assert matches.tolist() == [[0, 0]]
    assert free_rows.tolist() == [1] and free_cols.tolist() == [1]


@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (2, 0)])
def test_assignment_empty_inputs(shape):
    matches, free_rows, free_cols = matching.linear_assignment(np.zeros(shape), threshold=0.5)
    assert matches.shape == (0, 2)
    assert free_rows.tolist() == list(range(shape[0]))
    assert free_cols.tolist() == list(range(shape[1]))
