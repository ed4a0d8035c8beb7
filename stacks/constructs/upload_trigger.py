"""Uploads under the input prefix start jobs: S3 ObjectCreated -> ``submit`` Lambda.

The trigger filters on the prefix only (``contract.upload_key_filter``, which the local stack
uses too): every upload gets a job record, and submit rejects a non-video suffix (``.txt``)
with a reason instead of S3's case-sensitive suffix filters dropping it (or ``.Mp4``) silently.
"""

from __future__ import annotations

from aws_cdk import CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3_notifications
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks import contract, policies
from stacks.constructs.handler_function import HandlerFunction, log_retention
from stacks.nag import acknowledge

SUBMIT_HANDLER = "submit.handler"
# aws-cdk-lib adds one provider per stack for notifications on buckets it does not own.
NOTIFICATIONS_PROVIDER_ID = "BucketNotificationsHandler"


class UploadTrigger(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        job_defaults: contract.JobDefaults,
        code: lambda_.Code,
        input_bucket_name: str,
        work_bucket: s3.IBucket,
        jobs_table: dynamodb.ITable,
        key: kms.IKey,
        endpoint_name: str,
        endpoint_arn: str,
        notifications_topic: sns.ITopic,
        failed_events: sqs.IQueue,
        log_retention_days: int,
        reserved_concurrency: int | None,
    ) -> None:
        super().__init__(scope, construct_id)
        input_prefix = job_defaults.input_prefix
        # Imported by name so the notification resource lives in this stack: attaching it to
        # the data stack's bucket would make the two stacks depend on each other.
        self.input_bucket = s3.Bucket.from_bucket_name(self, "InputBucket", input_bucket_name)
        self.submit = HandlerFunction(
            self,
            "Submit",
            code=code,
            handler=SUBMIT_HANDLER,
            description="motflow: validate an upload, record the job, queue it on the endpoint",
            environment=contract.submit_environment(
                jobs_table=jobs_table.table_name,
                notify_topic_arn=notifications_topic.topic_arn,
                work_bucket=work_bucket.bucket_name,
                endpoint_name=endpoint_name,
                defaults=job_defaults,
            ),
            failed_events=failed_events,
            log_retention_days=log_retention_days,
            timeout=Duration.minutes(1),
            reserved_concurrency=reserved_concurrency,
        )
        self.submit.allow(
            *policies.read_under(self.input_bucket, [input_prefix]),
            policies.write_objects(work_bucket, [contract.MANIFEST_PREFIX]),
            wildcard_reason="Uploaded video keys are chosen by users under the input prefix and "
            "manifest keys are job ids under jobs/; access stops at those prefixes.",
        )
        self.submit.allow(
            policies.invoke_endpoint(endpoint_arn),
            policies.read_write_items(jobs_table),
            policies.encrypt_with(key),
        )  # no sns:Publish: a rejection's message is sent by the notifier from the table
        self.input_bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3_notifications.LambdaDestination(self.submit.function),
            s3.NotificationKeyFilter(**contract.upload_key_filter(input_prefix)),
        )
        self._configure_notifications_provider(log_retention_days)

    def _configure_notifications_provider(self, log_retention_days: int) -> None:
        """aws-cdk-lib's provider function gets no log group, so Lambda would create one that
        never expires: give it one in this stack, with the deployment's retention."""
        stack = Stack.of(self)
        for child in stack.node.children:
            if child.node.id.startswith(NOTIFICATIONS_PROVIDER_ID):
                log_group = logs.LogGroup(
                    self,
                    "NotificationsProviderLogs",
                    retention=log_retention(log_retention_days),
                    removal_policy=RemovalPolicy.DESTROY,
                )
                for function in child.node.find_all():
                    if (
                        isinstance(function, CfnResource)
                        and function.cfn_resource_type == "AWS::Lambda::Function"
                    ):
                        function.add_property_override(
                            "LoggingConfig.LogGroup", log_group.log_group_name
                        )
                acknowledge(
                    child,
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                    "service-role/AWSLambdaBasicExecutionRole]",
                    "aws-cdk-lib's own bucket-notification provider (runs only during "
                    "deployments) writes its logs through the AWS managed basic execution policy.",
                )
