"""The synthesized scaling is the `ScalingPolicy` the scale model simulates (bench/scale_sim.py)."""

from __future__ import annotations

from typing import Any

from stacks.scaling import scaling_policy
from stacks.settings import Settings

TRACKING = "MotflowTracking"


def _of_type(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def test_template_scaling_matches_the_simulated_policy(synthesized) -> None:
    template = synthesized.templates[TRACKING]
    policy = scaling_policy(Settings())
    (target,) = _of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (
        policy.min_capacity,
        policy.max_capacity,
    )
    by_type = {
        p["PolicyType"]: p for p in _of_type(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
    }
    tracking = by_type["TargetTrackingScaling"]["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == policy.target_backlog_per_instance
    assert tracking["ScaleInCooldown"] == policy.scale_in_cooldown_s
    assert tracking["ScaleOutCooldown"] == policy.scale_out_cooldown_s
    assert tracking["CustomizedMetricSpecification"]["Statistic"] == "Average"
    step = by_type["StepScaling"]["StepScalingPolicyConfiguration"]
    assert step["AdjustmentType"] == policy.step_adjustment_type
    assert step["Cooldown"] == policy.step_cooldown_s
    assert step["StepAdjustments"][0]["ScalingAdjustment"] == policy.step_adjustment
    (alarm,) = [
        a for a in _of_type(template, "AWS::CloudWatch::Alarm")
        if a.get("MetricName") == "HasBacklogWithoutCapacity"
    ]  # fmt: skip
    assert alarm["Period"] == policy.alarm_period_s
    assert alarm["EvaluationPeriods"] == policy.alarm_evaluation_periods
    assert alarm["Statistic"] == "Maximum"
    (config,) = _of_type(template, "AWS::SageMaker::EndpointConfig")
    client = config["AsyncInferenceConfig"]["ClientConfig"]
    assert client["MaxConcurrentInvocationsPerInstance"] == policy.concurrency


def test_container_is_told_its_instance_type_for_job_costs(synthesized) -> None:
    from model_code.pricing import INSTANCE_TYPE_ENV, WORKERS_ENV

    (model,) = _of_type(synthesized.templates[TRACKING], "AWS::SageMaker::Model")
    environment = model["PrimaryContainer"]["Environment"]
    settings = Settings()
    assert environment[INSTANCE_TYPE_ENV] == settings.instance_type
    assert environment[WORKERS_ENV] == str(settings.max_concurrent_invocations_per_instance)
