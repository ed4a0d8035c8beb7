"""The notifier: the jobs table's stream drives ``notifier.handler``, which publishes each
terminal record's outbox on the user-facing notifications topic (lambdas/notifier.py).

The event source mapping reads the stream from its oldest record, reports batch item failures
(Lambda resumes from the first failed record), retries a failing batch
``NOTIFIER_RETRY_ATTEMPTS`` times and then sends an on-failure record (the shard and sequence
numbers, not the records) to the notifier's failed-events queue. A message that never got
through is still in its record, with a deadline: the sweeper sends it (docs/RELIABILITY.md).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks import contract, policies
from stacks.constructs.handler_function import HandlerFunction

NOTIFIER_HANDLER = "notifier.handler"


class JobNotifier(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        jobs_table: dynamodb.ITable,
        stream_arn: str,
        key: kms.IKey,
        notifications_topic: sns.ITopic,
        failed_events: sqs.IQueue,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.notifier = HandlerFunction(
            self,
            "Notifier",
            code=code,
            handler=NOTIFIER_HANDLER,
            description="motflow: publish each finished job's message from the jobs table stream",
            environment=contract.notifier_environment(
                jobs_table=jobs_table.table_name,
                notify_topic_arn=notifications_topic.topic_arn,
            ),
            failed_events=failed_events,
            log_retention_days=log_retention_days,
            timeout=Duration.seconds(contract.NOTIFIER_TIMEOUT_S),
        )
        self.notifier.allow(
            policies.read_write_items(jobs_table),
            iam.PolicyStatement(
                actions=[
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                ],
                resources=[stream_arn],
            ),
            policies.publish_to(notifications_topic),
            policies.encrypt_with(key),
        )
        failed_events.grant_send_messages(self.notifier.role)
        self.mapping = lambda_.EventSourceMapping(
            self,
            "Stream",
            target=self.notifier.function,
            event_source_arn=stream_arn,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=contract.NOTIFIER_BATCH_SIZE,
            retry_attempts=contract.NOTIFIER_RETRY_ATTEMPTS,
            report_batch_item_failures=True,
            max_record_age=Duration.days(1),
            on_failure=sources.SqsDlq(failed_events),
        )
