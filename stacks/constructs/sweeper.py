"""The scheduled sweeper: an EventBridge schedule runs ``sweeper.handler`` every few minutes.

It queries the sparse deadline index for records past their deadline and does each phase's way
out: applies a result whose notification was lost, fails the job with a reason, or sends a
message the stream's notifier could not (lambdas/sweeper.py, docs/RELIABILITY.md).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks import contract, policies
from stacks.constructs.handler_function import HandlerFunction

SWEEPER_HANDLER = "sweeper.handler"


class JobSweeper(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        job_defaults: contract.JobDefaults,
        jobs_table: dynamodb.ITable,
        work_bucket: s3.IBucket,
        endpoint_name: str,
        endpoint_arn: str,
        key: kms.IKey,
        notifications_topic: sns.ITopic,
        failed_events: sqs.IQueue,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.sweeper = HandlerFunction(
            self,
            "Sweeper",
            code=code,
            handler=SWEEPER_HANDLER,
            description="motflow: end jobs stuck past their deadline, with a reason and a message",
            environment=contract.sweeper_environment(
                jobs_table=jobs_table.table_name,
                notify_topic_arn=notifications_topic.topic_arn,
                endpoint_name=endpoint_name,
                defaults=job_defaults,
            ),
            failed_events=failed_events,
            log_retention_days=log_retention_days,
            timeout=Duration.seconds(contract.SWEEPER_TIMEOUT_S),
            reserved_concurrency=None,
        )
        self.sweeper.allow(
            *policies.read_under(
                work_bucket, [contract.ASYNC_OUTPUT_PREFIX, contract.ASYNC_FAILURE_PREFIX]
            ),
            wildcard_reason="Checks for the endpoint's result and failure objects, whose keys "
            "SageMaker generates under these two prefixes.",
        )
        self.sweeper.allow(
            policies.read_write_items(jobs_table),
            iam.PolicyStatement(
                actions=["dynamodb:Query"],
                resources=[f"{jobs_table.table_arn}/index/{contract.DEADLINE_INDEX}"],
            ),
            policies.publish_to(notifications_topic),
            policies.encrypt_with(key),
            policies.invoke_endpoint(endpoint_arn),  # a long video's stitch request
        )
        self.schedule = events.Rule(
            self,
            "Schedule",
            description="motflow: run the job sweeper",
            schedule=events.Schedule.rate(Duration.seconds(contract.SWEEP_INTERVAL_S)),
            targets=[targets.LambdaFunction(self.sweeper.function, retry_attempts=0)],
        )
