"""The batched block Kalman filter against the textbook 8x8 matrix filter."""

from __future__ import annotations

import numpy as np

from model_code.tracking import kalman

WP, WV = kalman.POSITION_WEIGHT, kalman.VELOCITY_WEIGHT


def full_matrices(cov_blocks: np.ndarray) -> np.ndarray:
    """(3, 4) position/cross/velocity blocks of one track as the dense 8x8 covariance."""
    full = np.zeros((8, 8))
    for k in range(4):
        full[k, k] = cov_blocks[0, k]
        full[k, k + 4] = full[k + 4, k] = cov_blocks[1, k]
        full[k + 4, k + 4] = cov_blocks[2, k]
    return full


def dense_predict(mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h = mean[3]
    motion = np.eye(8)
    motion[:4, 4:] = np.eye(4)
    std = [WP * h, WP * h, 1e-2, WP * h, WV * h, WV * h, 1e-5, WV * h]
    return motion @ mean, motion @ cov @ motion.T + np.diag(np.square(std))


def dense_update(mean, cov, z, scale=1.0):
    h = mean[3]
    project = np.eye(4, 8)
    noise = np.diag(np.square([WP * h, WP * h, 1e-1, WP * h])) * scale
    innovation_cov = project @ cov @ project.T + noise
    gain = cov @ project.T @ np.linalg.inv(innovation_cov)
    return mean + gain @ (z - project @ mean), (np.eye(8) - gain @ project) @ cov


def test_box_conversions_round_trip():
    boxes = np.array([[10.0, 20.0, 40.0, 100.0], [0.0, 0.0, 5.0, 5.0]])
    xyah = kalman.xyxy_to_xyah(boxes)
    np.testing.assert_allclose(xyah[0], [25.0, 60.0, 30.0 / 80.0, 80.0])
    np.testing.assert_allclose(kalman.xyah_to_xyxy(xyah), boxes)


def test_initiate_by_hand():
    mean, cov = kalman.initiate(np.array([[100.0, 50.0, 0.5, 80.0]]))
    np.testing.assert_allclose(mean[0], [100, 50, 0.5, 80, 0, 0, 0, 0])
    np.testing.assert_allclose(cov[0, 0], [(2 * WP * 80) ** 2, (2 * WP * 80) ** 2, 1e-4, 64.0])
    np.testing.assert_allclose(cov[0, 1], 0.0)
    np.testing.assert_allclose(cov[0, 2], [(10 * WV * 80) ** 2] * 2 + [1e-10, (10 * WV * 80) ** 2])


def test_predict_moves_by_velocity_and_grows_variance_by_hand():
    mean = np.array([[10.0, 20.0, 0.5, 40.0, 1.0, -2.0, 0.0, 0.5]])
    cov = np.zeros((1, 3, 4))
    cov[0, 0] = 4.0
    cov[0, 1] = 1.0
    cov[0, 2] = 2.0
    kalman.predict(mean, cov)
    np.testing.assert_allclose(mean[0, :4], [11.0, 18.0, 0.5, 40.5])
    # var(x) = 4 + 2*1 + 2 + (40/20)^2 = 12; cov(x, vx) = 1 + 2; var(vx) = 2 + (40/160)^2.
    assert np.isclose(cov[0, 0, 0], 12.0)
    assert np.isclose(cov[0, 1, 0], 3.0)
    assert np.isclose(cov[0, 2, 0], 2.0 + 0.0625)


def test_predict_and_update_match_the_dense_filter():
    rng = np.random.default_rng(0)
    measurements = np.column_stack(
        [
            rng.uniform(0, 500, 5),
            rng.uniform(0, 400, 5),
            rng.uniform(0.3, 0.6, 5),
            rng.uniform(40, 120, 5),
        ]
    )
    mean, cov = kalman.initiate(measurements)
    dense = [(mean[i].copy(), full_matrices(cov[i])) for i in range(5)]
    kalman.predict(mean, cov)
    dense = [dense_predict(m, c) for m, c in dense]
    z = measurements + rng.normal(0, 3, measurements.shape)
    scale = np.array([1.0, 0.5, 0.1, 0.9, 0.3])
    new_mean, new_cov = kalman.update(mean, cov, z, scale)
    for i, (m, c) in enumerate(dense):
        np.testing.assert_allclose(mean[i], m, rtol=1e-9)
        np.testing.assert_allclose(full_matrices(cov[i]), c, rtol=1e-9)
        m2, c2 = dense_update(m, c, z[i], scale[i])
        np.testing.assert_allclose(new_mean[i], m2, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(full_matrices(new_cov[i]), c2, rtol=1e-7, atol=1e-12)


def test_batch_equals_one_by_one():
    rng = np.random.default_rng(1)
    measurements = np.column_stack(
        [rng.uniform(0, 500, 4), rng.uniform(0, 400, 4), np.full(4, 0.4), rng.uniform(40, 120, 4)]
    )
    mean, cov = kalman.initiate(measurements)
    singles = [kalman.initiate(measurements[i : i + 1]) for i in range(4)]
    kalman.predict(mean, cov)
    for m, c in singles:
        kalman.predict(m, c)
    z = measurements + 2.0
    batch_mean, batch_cov = kalman.update(mean, cov, z)
    for i, (m, c) in enumerate(singles):
        one_mean, one_cov = kalman.update(m, c, z[i : i + 1])
        np.testing.assert_array_equal(batch_mean[i], one_mean[0])
        np.testing.assert_array_equal(batch_cov[i], one_cov[0])


def test_update_leaves_inputs_untouched():
    mean, cov = kalman.initiate(np.array([[10.0, 10.0, 0.5, 50.0]]))
    before = mean.copy(), cov.copy()
    kalman.update(mean, cov, np.array([[12.0, 11.0, 0.5, 52.0]]))
    np.testing.assert_array_equal(mean, before[0])
    np.testing.assert_array_equal(cov, before[1])
