"""A Lambda function from the shared ``lambdas/`` asset, with the settings every handler shares:
newest Python runtime, its own log group with retention and JSON log lines, and failed async
events kept in a queue.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.nag import acknowledge_wildcards

RUNTIME = lambda_.Runtime.PYTHON_3_14
ASYNC_RETRY_ATTEMPTS = 2
MAX_EVENT_AGE = Duration.hours(6)


class HandlerFunction(Construct):
    """``function`` runs ``handler`` from ``code``; its role starts with logging rights only."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        handler: str,
        description: str,
        environment: dict[str, str],
        failed_events: sqs.IQueue,
        log_retention_days: int,
        timeout: Duration,
        memory_mb: int = 256,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=log_retention(log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{description} (least privilege)",
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            code=code,
            handler=handler,
            description=description,
            environment=environment,
            role=self.role,
            log_group=self.log_group,
            # One JSON object per line (Lambda's native format): the handlers' `job_id` extra
            # becomes a field Logs Insights can filter on.
            logging_format=lambda_.LoggingFormat.JSON,
            timeout=timeout,
            memory_size=memory_mb,
            reserved_concurrent_executions=reserved_concurrency,
            retry_attempts=ASYNC_RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(failed_events),
        )

    def allow(self, *statements: iam.PolicyStatement, wildcard_reason: str | None = None) -> None:
        """Add statements to the role; wildcards in them need a reason (cdk-nag IAM5)."""
        for statement in statements:
            self.role.add_to_policy(statement)
        if wildcard_reason is not None:
            acknowledge_wildcards(self.role, statements, wildcard_reason)


_RETENTION_BY_DAYS = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS",
    30: "ONE_MONTH", 60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS",
    150: "FIVE_MONTHS", 180: "SIX_MONTHS", 365: "ONE_YEAR", 400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS", 1827: "FIVE_YEARS",
    2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}  # fmt: skip


def log_retention(days: int) -> logs.RetentionDays:
    """The CDK enum member for a retention period that settings already validated."""
    return logs.RetentionDays[_RETENTION_BY_DAYS[days]]
