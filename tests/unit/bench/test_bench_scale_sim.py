"""The scale model on cases worked out by hand (bench/scale_sim.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench import scale_sim
from bench.scale_sim import ScalingPolicy, Workload, simulate
from stacks.scaling import CHANGE_IN_CAPACITY, EXACT_CAPACITY, scaling_policy
from stacks.settings import Settings


def fixed(capacity: int, concurrency: int, **overrides) -> ScalingPolicy:
    base = ScalingPolicy(
        min_capacity=capacity,
        max_capacity=capacity,
        concurrency=concurrency,
        target_backlog_per_instance=1e9,
    )
    return replace(base, **overrides)


@pytest.mark.parametrize(
    ("jobs", "service", "concurrency"), [(10, 30.0, 2), (7, 20.0, 1), (9, 5.0, 3)]
)
def test_one_instance_without_scaling_drains_in_n_t_over_c(jobs, service, concurrency) -> None:
    result = simulate(
        fixed(1, concurrency), Workload.burst(jobs, service), startup_s=0.0,
        initial_instances=1, step_policy=False,
    )  # fmt: skip
    rounds = -(-jobs // concurrency)  # ceil
    assert result.drain_s == pytest.approx(rounds * service)
    assert result.oldest_request_age_s == pytest.approx((rounds - 1) * service)
    assert result.launched == 0


def test_the_simulated_policy_is_the_deployed_one() -> None:
    settings = Settings(max_capacity=4, target_backlog_per_instance=2.5)
    policy = scaling_policy(settings)
    assert (policy.max_capacity, policy.target_backlog_per_instance) == (4, 2.5)
    assert policy.concurrency == settings.max_concurrent_invocations_per_instance
    assert policy.step_adjustment_type == EXACT_CAPACITY


def test_first_instance_comes_after_one_datapoint_plus_the_metric_lag() -> None:
    # Arrival at 0; the minute [0, 60) shows backlog without capacity; it is seen at 60 + lag.
    policy = scaling_policy(Settings())
    result = simulate(policy, Workload.burst(1, 100.0), startup_s=300.0)
    seen = 60.0 + scale_sim.METRIC_LAG_S
    assert result.starts == [seen + 300.0]
    assert result.finishes == [seen + 300.0 + 100.0]
    assert result.launched == 1


def test_plus_one_with_a_short_cooldown_adds_instances_while_the_first_boots() -> None:
    base = scaling_policy(Settings(max_capacity=4))
    single = Workload.burst(1, 300.0)
    plus_one = simulate(replace(base, step_adjustment_type=CHANGE_IN_CAPACITY), single, 600.0)
    exact = simulate(base, single, 600.0)
    # Boot 600 s against a 120 s cooldown: +1 is re-applied at 120, 240, 360 s after the first.
    assert plus_one.launched == 4
    assert exact.launched == 1
    assert plus_one.instance_seconds > 2 * exact.instance_seconds
    # A cooldown longer than the boot leaves one instance even with +1.
    long_cooldown = replace(base, step_adjustment_type=CHANGE_IN_CAPACITY, step_cooldown_s=900)
    assert simulate(long_cooldown, single, 600.0).launched == 1


def test_target_tracking_scales_out_after_three_datapoints_above_target() -> None:
    policy = ScalingPolicy(min_capacity=0, max_capacity=5, concurrency=2,
                           target_backlog_per_instance=5.0)  # fmt: skip
    result = simulate(policy, Workload.burst(200, 30.0), startup_s=120.0, initial_instances=1,
                      step_policy=False)  # fmt: skip
    billed = {t: live for t, _, _, live in result.timeline}
    # Datapoints for minutes 0, 1, 2 are seen at 120, 180, 240 s: the third triggers at 240 s.
    assert billed[180.0] == 1
    assert billed[240.0] == 5
    serving = {t: n for t, _, n, _ in result.timeline}
    assert serving[300.0] == 1 and serving[360.0] == 5  # ready 120 s later


def test_capacity_returns_to_the_minimum_after_fifteen_quiet_datapoints() -> None:
    policy = scaling_policy(Settings())
    result = simulate(policy, Workload.burst(1, 60.0), startup_s=60.0)
    last_time, backlog, serving, live = result.timeline[-1]
    assert (backlog, serving, live) == (0, 0, 0)
    done = result.finishes[0]
    # 15 datapoints below 90% of the target are needed, seen one lag later.
    assert last_time >= done + 15 * 60.0
    assert result.instance_seconds == pytest.approx(last_time - (60.0 + scale_sim.METRIC_LAG_S))


def test_model_reproduces_the_published_burst_within_15_percent() -> None:
    published = scale_sim.PUBLISHED_BURST
    result = scale_sim.published_burst()
    rate = result.videos_per_minute_at(published["max_capacity"])
    assert rate == pytest.approx(published["videos_per_minute"], rel=0.15)
    assert result.oldest_request_age_s == pytest.approx(published["oldest_request_age_s"], rel=0.15)


def test_best_picks_fastest_at_same_cost_and_cheapest_at_same_drain() -> None:
    p = scaling_policy(Settings())
    ref = scale_sim.SearchRow(p, drain_s=100.0, oldest_s=0.0, instance_seconds=50.0)
    faster_dearer = scale_sim.SearchRow(replace(p, max_capacity=3), 60.0, 0.0, 52.0)
    faster_same = scale_sim.SearchRow(replace(p, max_capacity=4), 80.0, 0.0, 50.0)
    cheaper_slower = scale_sim.SearchRow(replace(p, max_capacity=5), 120.0, 0.0, 40.0)
    cheaper_same = scale_sim.SearchRow(replace(p, max_capacity=6), 100.0, 0.0, 45.0)
    rows = [ref, faster_dearer, faster_same, cheaper_slower, cheaper_same]
    assert scale_sim.best(rows, ref) == (faster_same, cheaper_same)
    assert scale_sim.best(rows, ref, cost_tolerance=0.05)[0] == faster_dearer


def test_fan_out_of_a_long_video_by_hand() -> None:
    # 1,200 s of video at 0.1 s per video-second, one slot per instance.
    single = scale_sim.fan_out(1200.0, 0.1, instances=1, concurrency=1, segment_s=1200.0)
    assert (single.segments, single.finish_s) == (1, pytest.approx(120.0))
    # Two 600 s segments (+2 s overlap each) on two instances run side by side.
    split = scale_sim.fan_out(1200.0, 0.1, instances=2, concurrency=1, segment_s=600.0)
    assert split.segments == 2
    assert split.finish_s == pytest.approx(60.2)
    assert split.instance_seconds == pytest.approx(2 * 60.2)
    # Cold instances add their start-up; concurrency 2 halves each slot's speed.
    cold = scale_sim.fan_out(1200.0, 0.1, 1, 2, 600.0, startup_s=300.0)
    assert cold.finish_s == pytest.approx(300.0 + 2 * 60.2)


def test_workload_needs_matching_lengths() -> None:
    with pytest.raises(ValueError, match="service time"):
        simulate(fixed(1, 1), Workload((0.0, 1.0), (5.0,)), 0.0)


def test_backlog_step_asks_one_instance_per_target_backlog() -> None:
    policy = replace(scaling_policy(Settings(max_capacity=3)), step_scales_with_backlog=True)
    # Target 4: 1-3 queued -> 1 instance, 4-7 -> 2, 8 and more -> 3 (the maximum).
    assert [policy.step_capacity(b) for b in (1, 3, 4, 7, 8, 100)] == [1, 1, 2, 2, 3, 3]
    assert scaling_policy(Settings()).step_capacity(100) == 1  # the deployed ExactCapacity 1
    ten = simulate(policy, Workload.burst(10, 300.0), startup_s=300.0)
    # The first datapoint already shows 10 queued: three instances start together at 120 s.
    assert ten.launched == 3
    assert sorted(ten.starts)[:6] == [420.0] * 6
