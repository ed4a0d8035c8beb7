"""Rules AWS documents and the templates must respect, written as data.

The constructs build from these tables and the infrastructure tests check the synthesized
templates against them, so a metric read with the wrong dimensions or a topic CloudWatch may not
publish to fails a test instead of failing silently in an account.
"""

from __future__ import annotations

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


# Lambda quotas: reserved concurrency can only be set while at least this many executions of the
# account's concurrency limit stay unreserved.
LAMBDA_MIN_UNRESERVED_CONCURRENCY = 100
