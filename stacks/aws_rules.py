"""Rules AWS documents and the templates must respect, written as data.

The constructs build from these tables and the infrastructure tests check the synthesized
templates against them, so a metric read with the wrong dimensions or a topic CloudWatch may not
publish to fails a test instead of failing silently in an account.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
ENDPOINT_INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
PER_ENDPOINT = ("EndpointName",)
PER_VARIANT = ("EndpointName", "VariantName")

# SageMaker "Monitoring asynchronous endpoints" and "Metrics for monitoring SageMaker": the
# dimensions each metric is published with. A metric read with other dimensions has no data.
METRIC_DIMENSIONS: dict[tuple[str, str], tuple[str, ...]] = {
    (SAGEMAKER_NAMESPACE, "ApproximateBacklogSize"): PER_ENDPOINT,
    (SAGEMAKER_NAMESPACE, "ApproximateBacklogSizePerInstance"): PER_ENDPOINT,
    (SAGEMAKER_NAMESPACE, "ApproximateAgeOfOldestRequest"): PER_ENDPOINT,
    (SAGEMAKER_NAMESPACE, "HasBacklogWithoutCapacity"): PER_ENDPOINT,
    (SAGEMAKER_NAMESPACE, "InvocationFailures"): PER_VARIANT,
    (SAGEMAKER_NAMESPACE, "TimeInBacklog"): PER_VARIANT,
    (SAGEMAKER_NAMESPACE, "TotalProcessingTime"): PER_VARIANT,
    (SAGEMAKER_NAMESPACE, "Invocations"): PER_VARIANT,
    (SAGEMAKER_NAMESPACE, "ModelLatency"): PER_VARIANT,
    (ENDPOINT_INSTANCE_NAMESPACE, "CPUUtilization"): PER_VARIANT,
    (ENDPOINT_INSTANCE_NAMESPACE, "GPUUtilization"): PER_VARIANT,
}

# CloudWatch alarms publish to SNS as this service principal. A topic policy that does not allow
# it (``enforce_ssl`` writes a policy holding only the TLS Deny) silently drops every alarm.
ALARM_PUBLISHER = "cloudwatch.amazonaws.com"


def metric_dimensions(namespace: str, metric: str) -> tuple[str, ...]:
    """The documented dimension names of a metric; KeyError for one the table does not know."""
    return METRIC_DIMENSIONS[(namespace, metric)]


def dimensions_for(
    namespace: str, metric: str, *, endpoint_name: str, variant_name: str
) -> dict[str, str]:
    """The dimension map to read `metric` with, per the table."""
    values = {"EndpointName": endpoint_name, "VariantName": variant_name}
    return {name: values[name] for name in metric_dimensions(namespace, metric)}


# SageMaker "How to use SageMaker AI execution roles", CreateTrainingJob API: execution role
# permissions (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html
# #sagemaker-roles-createtrainingjob-perms): the actions the documented policy grants a training
# job's role (S3 for its data and output, CloudWatch Logs and metrics, ECR for its image).
TRAINING_ROLE_ACTIONS = frozenset(
    {
        "cloudwatch:PutMetricData",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:CreateLogGroup",
        "logs:DescribeLogStreams",
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchGetImage",
    }
)

# Lambda quotas: reserved concurrency can only be set while at least this many executions of the
# account's concurrency limit stay unreserved.
LAMBDA_MIN_UNRESERVED_CONCURRENCY = 100


# CloudWatch metric math ("Use metric math", Amazon CloudWatch User Guide,
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html):
# arithmetic between time series has a value only at the timestamps where every operand has one;
# FILL(m, value) gives `value` wherever m has no data point. SQS publishes a queue's metrics only
# while the queue is active ("Available CloudWatch metrics for Amazon SQS",
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html),
# so a sum over several queues is empty unless each operand is filled.
_FILL = re.compile(r"^FILL\(\s*([a-z][A-Za-z0-9_]*)\s*,\s*(-?[0-9.]+)\s*\)$")
_METRIC_ID = re.compile(r"^[a-z][A-Za-z0-9_]*$")


def evaluate_metric_math(
    expression: str, series: Mapping[str, Mapping[int, float]], timestamps: Sequence[int]
) -> dict[int, float]:
    """Evaluate a sum of metric ids and ``FILL(id, value)`` terms over `timestamps`.

    `series` maps each metric id to its data points (timestamp -> value); a timestamp absent
    from a series is missing data. Returns the expression's data points, per CloudWatch's
    rules above. ValueError for any other expression.
    """
    terms: list[tuple[str, float | None]] = []
    for term in (t.strip() for t in expression.split("+")):
        if (fill := _FILL.match(term)) is not None:
            terms.append((fill.group(1), float(fill.group(2))))
        elif _METRIC_ID.match(term):
            terms.append((term, None))
        else:
            raise ValueError(f"unsupported metric math term {term!r} in {expression!r}")
    result: dict[int, float] = {}
    for stamp in timestamps:
        values = [series.get(metric_id, {}).get(stamp, fill) for metric_id, fill in terms]
        if all(value is not None for value in values):
            result[stamp] = sum(v for v in values if v is not None)
    return result
