"""On-demand SageMaker instance prices and the cost of one job.

The one price table of the project: `bench/cost.py` reads it, and the container uses it to put a
per-job cost into `summary.json`. It lives in `model_code/` because the container only carries
`model_code/`; the stack tells the container its instance type through the model environment
(`INSTANCE_TYPE_ENV`), so neither side imports the other.

Prices are stated figures, not measured: SageMaker real-time (and asynchronous) inference,
on-demand, Linux, us-east-1, USD per instance-hour, as published on
https://aws.amazon.com/sagemaker/pricing/ (see `PRICE_TABLE_DATE`). They were not re-checked from
the build machine, which has no internet; check the page before relying on them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PRICE_TABLE_REGION = "us-east-1"
PRICE_TABLE_DATE = "2024-06"
PRICE_TABLE_SOURCE = "https://aws.amazon.com/sagemaker/pricing/ (real-time inference, on-demand)"
# Set by the stack in the model environment; absent outside SageMaker (CLI, tests).
INSTANCE_TYPE_ENV = "MOTFLOW_INSTANCE_TYPE"
# The model server's worker count, which the stack sets to the concurrency per instance.
WORKERS_ENV = "MOTFLOW_SERVER_WORKERS"


@dataclass(frozen=True)
class InstancePrice:
    instance_type: str
    usd_per_hour: float
    vcpus: int
    gpu: str | None


PRICES: dict[str, InstancePrice] = {
    price.instance_type: price
    for price in (
        InstancePrice("ml.g4dn.xlarge", 0.736, 4, "NVIDIA T4"),
        InstancePrice("ml.g4dn.2xlarge", 0.94, 8, "NVIDIA T4"),
        InstancePrice("ml.g5.xlarge", 1.408, 4, "NVIDIA A10G"),
        InstancePrice("ml.g5.2xlarge", 1.515, 8, "NVIDIA A10G"),
        InstancePrice("ml.c5.xlarge", 0.204, 4, None),
        InstancePrice("ml.c5.2xlarge", 0.408, 8, None),
        InstancePrice("ml.m5.xlarge", 0.23, 4, None),
    )
}


class UnknownInstanceType(KeyError):
    """An instance type the price table does not list."""

    def __str__(self) -> str:
        return (
            f"no price for instance type {self.args[0]!r}; known: {', '.join(sorted(PRICES))} "
            "(add it to model_code/pricing.py)"
        )


def hourly_price(instance_type: str) -> float:
    """USD per instance-hour for `instance_type`; raises `UnknownInstanceType`."""
    try:
        return PRICES[instance_type].usd_per_hour
    except KeyError:
        raise UnknownInstanceType(instance_type) from None


def instance_cost(instance_type: str, instance_seconds: float) -> float:
    """USD for `instance_seconds` of one instance (SageMaker bills per second)."""
    if instance_seconds < 0 or not math.isfinite(instance_seconds):
        raise ValueError(f"instance_seconds must be a finite number >= 0, got {instance_seconds}")
    return hourly_price(instance_type) * instance_seconds / 3600.0


def job_cost(
    wall_seconds: float, environ: Mapping[str, str] | None = None
) -> dict[str, Any] | None:
    """The `cost` entry of a job summary, or None outside SageMaker (no instance type set).

    A job holds one of the instance's concurrent invocation slots for `wall_seconds`, so its share
    is `wall_seconds / slots` instance-seconds; with every slot busy the shares add up to the
    instance's bill. An instance type missing from the table gives a cost of None, not an error:
    the job itself succeeded.
    """
    env = os.environ if environ is None else environ
    instance_type = env.get(INSTANCE_TYPE_ENV, "").strip()
    if not instance_type:
        return None
    try:
        slots = max(1, int(env.get(WORKERS_ENV, "1")))
    except ValueError:
        slots = 1
    instance_seconds = max(0.0, wall_seconds) / slots
    price = PRICES.get(instance_type)
    return {
        "instance_type": instance_type,
        "instance_seconds": round(instance_seconds, 3),
        "concurrent_slots": slots,
        "usd_per_hour": price.usd_per_hour if price else None,
        "usd": round(instance_cost(instance_type, instance_seconds), 6) if price else None,
        "price_table": f"{PRICE_TABLE_REGION} on-demand, {PRICE_TABLE_DATE}",
    }
