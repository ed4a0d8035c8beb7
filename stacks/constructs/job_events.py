"""Job outcomes: the endpoint's success and error topics, the ``complete`` Lambda subscribed to
both, and the user-facing notifications topic (with an optional email subscription)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks import policies
from stacks.constructs.async_endpoint import FAILURE_PREFIX, OUTPUT_PREFIX
from stacks.constructs.handler_function import HandlerFunction
from stacks.settings import ResourceNames, Settings

COMPLETE_HANDLER = "complete.handler"


class JobEvents(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        names: ResourceNames,
        key: kms.IKey,
        code: lambda_.Code,
        jobs_table: dynamodb.ITable,
        work_bucket: s3.IBucket,
        failed_events: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.success_topic = self._topic("SuccessTopic", names.success_topic, key)
        self.error_topic = self._topic("ErrorTopic", names.error_topic, key)
        self.notifications_topic = self._topic("NotificationsTopic", names.notifications_topic, key)
        if settings.alarm_email:
            self.notifications_topic.add_subscription(
                subscriptions.EmailSubscription(settings.alarm_email)
            )
        self.complete = HandlerFunction(
            self,
            "Complete",
            code=code,
            handler=COMPLETE_HANDLER,
            description="motflow: record a finished or failed job and notify subscribers",
            environment={
                "JOBS_TABLE": jobs_table.table_name,
                "NOTIFY_TOPIC_ARN": self.notifications_topic.topic_arn,
            },
            failed_events=failed_events,
            log_retention_days=settings.log_retention_days,
            timeout=Duration.minutes(1),
        )
        self.complete.allow(
            policies.read_objects(work_bucket, [OUTPUT_PREFIX, FAILURE_PREFIX]),
            wildcard_reason="Reads the endpoint's result and failure objects, whose keys "
            "SageMaker generates under these two prefixes.",
        )
        self.complete.allow(
            policies.read_write_items(jobs_table),
            policies.publish_to(self.notifications_topic),
            policies.encrypt_with(key),
        )
        for topic in (self.success_topic, self.error_topic):
            topic.add_subscription(subscriptions.LambdaSubscription(self.complete.function))

    def _topic(self, construct_id: str, name: str, key: kms.IKey) -> sns.Topic:
        return sns.Topic(self, construct_id, topic_name=name, master_key=key, enforce_ssl=True)
