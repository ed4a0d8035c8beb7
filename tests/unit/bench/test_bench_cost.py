"""Cost arithmetic on figures checkable by hand."""

from __future__ import annotations

import pytest

from bench import cost
from model_code import pricing


def test_cost_per_video_hour_is_instance_time_times_price() -> None:
    # One hour at 30 fps is 108,000 frames: at 150 fps that is 720 s, a fifth of an hour.
    assert cost.instance_seconds_per_video_hour(150.0) == pytest.approx(720.0)
    assert cost.cost_per_video_hour("ml.g4dn.xlarge", 150.0) == pytest.approx(0.736 / 5)
    # Real time (30 fps) costs exactly the hourly price.
    assert cost.cost_per_video_hour("ml.c5.2xlarge", 30.0) == pytest.approx(0.408)


def test_idle_cost_is_zero_when_scaled_to_zero() -> None:
    assert cost.idle_cost_per_month("ml.g4dn.xlarge", 0) == 0.0
    assert cost.idle_cost_per_month("ml.g4dn.xlarge", 1) == pytest.approx(0.736 * 730)
    assert cost.idle_cost_per_month("ml.g4dn.xlarge", 2) == pytest.approx(2 * 0.736 * 730)


def test_cold_start_bills_the_start_up_time() -> None:
    assert cost.cold_start_cost("ml.g4dn.xlarge", 360.0) == pytest.approx(0.0736)
    assert cost.cold_start_cost("ml.g4dn.xlarge") == pytest.approx(
        0.736 * cost.STARTUP_S["gpu"] / 3600
    )
    assert cost.cold_start_cost("ml.c5.2xlarge") == pytest.approx(
        0.408 * cost.STARTUP_S["cpu"] / 3600
    )


def test_cost_table_covers_the_default_a_cpu_and_a_larger_gpu() -> None:
    rows = {row.instance_type: row for row in cost.cost_table()}
    assert {"ml.g4dn.xlarge", "ml.c5.2xlarge", "ml.g5.2xlarge"} <= set(rows)
    assert all(row.throughput.source in {"measured", "scaled", "assumed"} for row in rows.values())
    g4dn = rows["ml.g4dn.xlarge"]
    assert g4dn.realtime_factor == pytest.approx(g4dn.throughput.fps / 30.0)
    assert g4dn.usd_per_video_hour == pytest.approx(0.736 * 108_000 / g4dn.throughput.fps / 3600)


def test_every_benchmarked_instance_has_a_price() -> None:
    assert set(cost.THROUGHPUT) <= set(pricing.PRICES)


def test_unknown_instance_type_names_the_known_ones() -> None:
    with pytest.raises(pricing.UnknownInstanceType) as caught:
        pricing.hourly_price("ml.p9.huge")
    message = str(caught.value)
    assert "ml.p9.huge" in message and "ml.g4dn.xlarge" in message and "\n" not in message


def test_instance_cost_rejects_negative_time() -> None:
    with pytest.raises(ValueError, match="instance_seconds"):
        pricing.instance_cost("ml.g4dn.xlarge", -1.0)
    assert pricing.instance_cost("ml.g4dn.xlarge", 3600.0) == pytest.approx(0.736)


def test_job_cost_is_the_jobs_share_of_the_instance() -> None:
    env = {pricing.INSTANCE_TYPE_ENV: "ml.g4dn.xlarge", pricing.WORKERS_ENV: "2"}
    figure = pricing.job_cost(100.0, env)
    assert figure is not None
    # 100 s holding one of two slots is 50 instance-seconds.
    assert figure["instance_seconds"] == 50.0
    assert figure["usd"] == pytest.approx(round(0.736 * 50 / 3600, 6))
    assert figure["usd_per_hour"] == 0.736
    assert figure["instance_type"] == "ml.g4dn.xlarge"


def test_job_cost_outside_sagemaker_or_for_an_unpriced_type() -> None:
    assert pricing.job_cost(100.0, {}) is None
    unpriced = pricing.job_cost(100.0, {pricing.INSTANCE_TYPE_ENV: "ml.p9.huge"})
    assert unpriced is not None and unpriced["usd"] is None
    assert unpriced["instance_seconds"] == 100.0  # no worker count: one slot
