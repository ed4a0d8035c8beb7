"""Dashboard and alarms for the pipeline; every alarm notifies the user-facing topic."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.constructs.async_endpoint import (
    ENDPOINT_METRICS_NAMESPACE,
    SAGEMAKER_NAMESPACE,
    AsyncEndpoint,
)
from stacks.settings import Settings

PERIOD = Duration.minutes(5)
WIDGET_WIDTH = 8


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        endpoint: AsyncEndpoint,
        functions: dict[str, lambda_.IFunction],
        failed_events: sqs.IQueue,
        notifications_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self._action = cloudwatch_actions.SnsAction(notifications_topic)
        name = endpoint.endpoint_name
        per_endpoint = {"EndpointName": name}
        per_variant = {"EndpointName": name, "VariantName": endpoint.variant_name}

        def sagemaker_metric(metric: str, statistic: str, label: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=SAGEMAKER_NAMESPACE,
                metric_name=metric,
                dimensions_map=per_endpoint,
                statistic=statistic,
                period=PERIOD,
                label=label,
            )

        backlog = sagemaker_metric("ApproximateBacklogSize", "Average", "backlog (requests)")
        oldest = sagemaker_metric("ApproximateAgeOfOldestRequest", "Maximum", "oldest request (s)")
        failures = sagemaker_metric("InvocationFailures", "Sum", "invocation failures")
        time_in_backlog = sagemaker_metric("TimeInBacklog", "Average", "time in backlog (ms)")
        processing = sagemaker_metric("TotalProcessingTime", "Average", "total processing (ms)")
        model_latency = cloudwatch.Metric(
            namespace=SAGEMAKER_NAMESPACE,
            metric_name="ModelLatency",
            dimensions_map=per_variant,
            statistic="Average",
            period=PERIOD,
            label="model latency (us)",
        )
        # Each instance reports CPUUtilization once a minute: the sample count is the fleet size.
        instances = cloudwatch.Metric(
            namespace=ENDPOINT_METRICS_NAMESPACE,
            metric_name="CPUUtilization",
            dimensions_map=per_variant,
            statistic="SampleCount",
            period=Duration.minutes(1),
            label="instances",
        )
        lambda_errors = {
            label: function.metric_errors(period=PERIOD, label=f"{label} errors")
            for label, function in functions.items()
        }
        dead_letters = failed_events.metric_approximate_number_of_messages_visible(
            period=PERIOD, statistic="Maximum", label="failed events"
        )

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{settings.name_prefix}-tracking",
            widgets=[
                [
                    _graph("Backlog size", [backlog]),
                    _graph("Oldest request age", [oldest]),
                    _graph("Instances", [instances]),
                ],
                [
                    _graph("Time in backlog", [time_in_backlog]),
                    _graph("Total processing time", [processing]),
                    _graph("Model latency", [model_latency]),
                ],
                [
                    _graph("Invocation failures", [failures]),
                    _graph("Lambda errors", list(lambda_errors.values())),
                    _graph("Failed Lambda events", [dead_letters]),
                ],
            ],
        )

        self.alarms = [
            self._alarm(
                "InvocationFailures",
                failures,
                threshold=1,
                description="The endpoint failed at least one job (see async-failures/).",
            ),
            self._alarm(
                "OldestRequestAge",
                oldest,
                threshold=settings.oldest_request_alarm_s,
                description="A queued job has waited too long: check capacity and quotas.",
            ),
            self._alarm(
                "FailedEvents",
                dead_letters,
                threshold=1,
                description="An upload or completion event failed every retry; it is in the queue.",
            ),
        ]
        self.alarms.extend(
            self._alarm(
                f"{label.capitalize()}Errors",
                metric,
                threshold=1,
                description=f"The {label} Lambda raised errors.",
            )
            for label, metric in lambda_errors.items()
        )

    def _alarm(
        self, construct_id: str, metric: cloudwatch.IMetric, *, threshold: float, description: str
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(self._action)
        return alarm


def _graph(title: str, metrics: list[cloudwatch.IMetric]) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=metrics, width=WIDGET_WIDTH)
