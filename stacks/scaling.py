"""The endpoint's autoscaling as plain numbers, read by the construct and by the scale model.

`stacks/constructs/async_endpoint.py` builds the two policies from a `ScalingPolicy` of its sizing
and `bench/scale_sim.py` simulates `scaling_policy(settings)`, the same object built from the same
values, so the simulated policy cannot drift from the deployed one
(`tests/infra/test_infra_scaling.py` compares the template with it). Pure Python (no `aws_cdk`
import), like `stacks/settings.py`.

Why the values (docs/OPERATIONS.md, "Scaling: what the model says"):
- The step policy leaves zero by setting the capacity to exactly one instance. With
  `ChangeInCapacity +1` and a 120 s cooldown, CloudWatch re-invokes the policy every minute while
  `HasBacklogWithoutCapacity` stays in alarm, which it does until the first instance is in
  service (minutes for a GPU instance): the model shows it adding a second and third instance
  for a single video. `ExactCapacity 1` cannot do that whatever the start-up time.
- Target tracking takes over once an instance serves: it scales out on three one-minute
  datapoints above the target and in on fifteen below 90% of it (how Application Auto Scaling
  builds its alarms); the scale-in cooldown keeps a briefly empty queue from dropping to zero
  between uploads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stacks.settings import Settings

CHANGE_IN_CAPACITY = "ChangeInCapacity"
EXACT_CAPACITY = "ExactCapacity"


@dataclass(frozen=True)
class ScalingPolicy:
    """Everything that decides how many instances the endpoint runs."""

    min_capacity: int
    max_capacity: int
    concurrency: int  # MaxConcurrentInvocationsPerInstance
    target_backlog_per_instance: float
    scale_in_cooldown_s: int = 600
    scale_out_cooldown_s: int = 120
    # Step policy on the HasBacklogWithoutCapacity alarm (Maximum over a period, >= 1).
    step_adjustment_type: str = EXACT_CAPACITY
    step_adjustment: int = 1
    step_cooldown_s: int = 120
    alarm_period_s: int = 60
    alarm_evaluation_periods: int = 1
    # Not deployed (bench/scale_sim.py evaluates it): an alarm on IF(HasBacklogWithoutCapacity,
    # ApproximateBacklogSize, 0) with ExactCapacity steps of one instance per target backlog.
    step_scales_with_backlog: bool = False

    def step_capacity(self, backlog: float) -> int:
        """Instances the step policy asks for with `backlog` queued and nothing serving."""
        if not self.step_scales_with_backlog:
            return self.step_adjustment
        wanted = math.floor(backlog / self.target_backlog_per_instance) + 1
        return max(1, min(self.max_capacity, wanted))


def scaling_policy(settings: Settings) -> ScalingPolicy:
    """The policy a deployment with these settings gets."""
    return ScalingPolicy(
        min_capacity=settings.min_capacity,
        max_capacity=settings.max_capacity,
        concurrency=settings.max_concurrent_invocations_per_instance,
        target_backlog_per_instance=settings.target_backlog_per_instance,
    )
