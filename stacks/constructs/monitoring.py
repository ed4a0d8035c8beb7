"""Dashboard, alarms and the operators' alarms topic.

Alarms go to their own topic, not to the users' job notifications. Its topic policy allows
CloudWatch to publish (``enforce_ssl`` alone writes a policy with only the TLS Deny, which
replaces the default policy and silently drops every alarm).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks import aws_rules
from stacks.constructs.async_endpoint import AsyncEndpoint

PERIOD = Duration.minutes(5)
WIDGET_WIDTH = 8


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        alarms_topic_name: str,
        alarm_email: str | None,
        key: kms.IKey,
        endpoint: AsyncEndpoint,
        functions: dict[str, lambda_.IFunction],
        failed_events: dict[str, sqs.IQueue],
        oldest_request_alarm_s: int,
        jobs_table_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarms_topic = self._alarms_topic(alarms_topic_name, key)
        if alarm_email:
            self.alarms_topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self._action = cloudwatch_actions.SnsAction(self.alarms_topic)
        minutes = int(PERIOD.to_minutes())

        def sagemaker_metric(metric: str, statistic: str, label: str) -> cloudwatch.Metric:
            return endpoint.metric(metric, statistic, period_minutes=minutes, label=label)

        backlog = sagemaker_metric("ApproximateBacklogSize", "Average", "backlog (requests)")
        oldest = sagemaker_metric("ApproximateAgeOfOldestRequest", "Maximum", "oldest request (s)")
        failures = sagemaker_metric("InvocationFailures", "Sum", "invocation failures")
        time_in_backlog = sagemaker_metric("TimeInBacklog", "Average", "time in backlog (ms)")
        processing = sagemaker_metric("TotalProcessingTime", "Average", "total processing (ms)")
        model_latency = sagemaker_metric("ModelLatency", "Average", "model latency (us)")
        # Each instance reports CPUUtilization once a minute: the sample count is the fleet size.
        instances = endpoint.metric(
            "CPUUtilization",
            "SampleCount",
            namespace=aws_rules.ENDPOINT_INSTANCE_NAMESPACE,
            label="instances",
        )
        lambda_errors = {
            label: function.metric_errors(period=PERIOD, label=f"{label} errors")
            for label, function in functions.items()
        }
        dead_letters = _failed_events_metric(failed_events)

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name,
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
                *([_job_widgets(jobs_table_name)] if jobs_table_name else []),
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
                threshold=oldest_request_alarm_s,
                description="A queued job has waited too long: check capacity and quotas.",
            ),
            self._alarm(
                "FailedEvents",
                dead_letters,
                threshold=1,
                description="A submit, complete or sweeper event failed every retry; it is in"
                " that handler's failed-events queue (scripts/replay_failed_events.py).",
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

    def _alarms_topic(self, name: str, key: kms.IKey) -> sns.Topic:
        topic = sns.Topic(self, "AlarmsTopic", topic_name=name, master_key=key, enforce_ssl=True)
        stack = Stack.of(self)
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisAccountsAlarmsToPublish",
                principals=[iam.ServicePrincipal(aws_rules.ALARM_PUBLISHER)],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            )
        )
        return topic

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


def _failed_events_metric(queues: dict[str, sqs.IQueue]) -> cloudwatch.IMetric:
    """Messages waiting in all the handlers' on-failure queues: one alarm covers every one.

    SQS publishes metrics only for active queues, and a sum has no data point where any operand
    has none (stacks/aws_rules.py), so each queue's series is filled with 0 before the sum.
    """
    using = {
        f"q{index}": queue.metric_approximate_number_of_messages_visible(
            period=PERIOD, statistic="Maximum", label=f"{label} failed events"
        )
        for index, (label, queue) in enumerate(sorted(queues.items()))
    }
    return cloudwatch.MathExpression(
        expression=" + ".join(f"FILL({metric_id}, 0)" for metric_id in using),
        using_metrics=using,
        label="failed events",
        period=PERIOD,
    )


# The Lambdas' embedded-metric-format job metrics (lambdas/job_metrics.py).
JOB_METRICS_NAMESPACE = "Motflow"
JOB_OUTCOMES = ("SUCCEEDED", "FAILED", "REJECTED")


def _job_widgets(jobs_table_name: str) -> list[cloudwatch.IWidget]:
    """Jobs per outcome, video seconds processed and cost per job (from EMF log lines)."""

    def metric(name: str, statistic: str, label: str, **dimensions: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=JOB_METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"JobsTable": jobs_table_name, **dimensions},
            statistic=statistic,
            period=PERIOD,
            label=label,
        )

    return [
        _graph(
            "Jobs by outcome",
            [metric("Jobs", "Sum", outcome.lower(), Outcome=outcome) for outcome in JOB_OUTCOMES],
        ),
        _graph("Video seconds processed", [metric("VideoSeconds", "Sum", "video seconds")]),
        _graph(
            "Cost per job (USD)",
            [metric("CostUsd", "Average", "mean"), metric("CostUsd", "Maximum", "max")],
        ),
    ]


def _graph(title: str, metrics: list[cloudwatch.IMetric]) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=metrics, width=WIDGET_WIDTH)
