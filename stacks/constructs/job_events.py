"""Job outcomes: the endpoint's success and error topics, the ``complete`` Lambda subscribed to
both, and the user-facing notifications topic (operators' alarms have their own topic, in
``monitoring.py``)."""

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

from stacks import contract, policies
from stacks.constructs.handler_function import HandlerFunction

COMPLETE_HANDLER = "complete.handler"


class JobEvents(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        success_topic_name: str,
        error_topic_name: str,
        notifications_topic_name: str,
        key: kms.IKey,
        code: lambda_.Code,
        jobs_table: dynamodb.ITable,
        work_bucket: s3.IBucket,
        failed_events: sqs.IQueue,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.success_topic = self._topic("SuccessTopic", success_topic_name, key)
        self.error_topic = self._topic("ErrorTopic", error_topic_name, key)
        self.notifications_topic = self._topic("NotificationsTopic", notifications_topic_name, key)
        self.complete = HandlerFunction(
            self,
            "Complete",
            code=code,
            handler=COMPLETE_HANDLER,
            description="motflow: record a finished or failed job and notify subscribers",
            environment=contract.complete_environment(
                jobs_table=jobs_table.table_name,
                notify_topic_arn=self.notifications_topic.topic_arn,
            ),
            failed_events=failed_events,
            log_retention_days=log_retention_days,
            timeout=Duration.minutes(1),
        )
        self.complete.allow(
            *policies.read_under(
                work_bucket, [contract.ASYNC_OUTPUT_PREFIX, contract.ASYNC_FAILURE_PREFIX]
            ),
            wildcard_reason="Reads the endpoint's result and failure objects, whose keys "
            "SageMaker generates under these two prefixes.",
        )
        # No sns:Publish: the terminal write stores the message and the notifier sends it.
        self.complete.allow(policies.read_write_items(jobs_table), policies.encrypt_with(key))
        for topic in (self.success_topic, self.error_topic):
            topic.add_subscription(subscriptions.LambdaSubscription(self.complete.function))

    def allow_retries(
        self,
        *,
        work_bucket: s3.IBucket,
        endpoint_name: str,
        endpoint_arn: str,
        defaults: contract.JobDefaults,
    ) -> None:
        """Let ``complete`` resubmit a transient failure as a new attempt: the retry variables,
        a manifest per attempt under jobs/, and InvokeEndpointAsync on this endpoint only.
        Called once the endpoint exists (it needs this construct's topics first)."""
        for name, value in contract.retry_environment(
            work_bucket=work_bucket.bucket_name, endpoint_name=endpoint_name, defaults=defaults
        ).items():
            self.complete.function.add_environment(name, value)
        # No ListBucket on jobs/: complete reads only the manifest a job's record names, which
        # was written before the job was invoked; a missing one is an error either way.
        self.complete.allow(
            policies.read_objects(work_bucket, [contract.MANIFEST_PREFIX]),
            policies.write_objects(work_bucket, [contract.MANIFEST_PREFIX]),
            wildcard_reason="Reads a job's manifest and writes the next attempt's under jobs/.",
        )
        self.complete.allow(policies.invoke_endpoint(endpoint_arn))

    def _topic(self, construct_id: str, name: str, key: kms.IKey) -> sns.Topic:
        return sns.Topic(self, construct_id, topic_name=name, master_key=key, enforce_ssl=True)
