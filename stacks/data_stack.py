"""Stateful resources: the KMS key, the input, work and access-log buckets, and the jobs table.

Kept apart from the stateless stack so that redeploying or deleting the tracking stack never
touches data. Everything here is retained on stack deletion unless ``removal_policy=destroy``.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks import contract
from stacks.contract import ResourceNames
from stacks.nag import acknowledge
from stacks.settings import Settings

INCOMPLETE_UPLOAD_DAYS = 7
# CDK leaves a construct with this id out of its children's logical IDs.
HIDDEN_ID = "Default"


def work_expiry_rules(settings: Settings) -> list[s3.LifecycleRule]:
    """Expiry per work-bucket prefix; results are kept unless ``results_retention_days`` is set."""
    days = {
        contract.MANIFEST_PREFIX: settings.manifest_retention_days,
        contract.ASYNC_FAILURE_PREFIX: settings.failure_retention_days,
        contract.ASYNC_OUTPUT_PREFIX: settings.async_output_retention_days,
        contract.RESULTS_PREFIX: settings.results_retention_days,
    }
    return [
        s3.LifecycleRule(
            id=f"expire-{prefix.rstrip('/')}", prefix=prefix, expiration=Duration.days(kept)
        )
        for prefix, kept in days.items()
        if kept is not None
    ]


class MotflowData(Construct):
    """Buckets, key and table, in whichever stack holds this construct (``DataStack`` or a
    ``MotflowPipeline``); other constructs receive them as attributes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        input_bucket_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.settings = settings
        self.names: ResourceNames = contract.deployment_names(
            settings.name_prefix, stack.account, stack.region, input_bucket=input_bucket_name
        )
        removal = (
            RemovalPolicy.RETAIN if settings.removal_policy == "retain" else RemovalPolicy.DESTROY
        )
        self.key = self._data_key(removal)
        self.log_bucket = self._log_bucket(removal)
        self.input_bucket: s3.IBucket = (
            s3.Bucket.from_bucket_name(self, "InputBucket", input_bucket_name)
            if input_bucket_name
            else self._input_bucket(removal)
        )
        self.work_bucket = s3.Bucket(
            self,
            "WorkBucket",
            bucket_name=self.names.work_bucket,
            lifecycle_rules=[
                *work_expiry_rules(settings),
                s3.LifecycleRule(
                    id="abort-incomplete-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(INCOMPLETE_UPLOAD_DAYS),
                ),
            ],
            server_access_logs_prefix="work/",
            **self._secure_bucket_options(removal),
        )
        self.jobs_table = self._jobs_table(removal)

    def _input_bucket(self, removal: RemovalPolicy) -> s3.Bucket:
        settings = self.settings
        return s3.Bucket(
            self,
            "InputBucket",
            bucket_name=self.names.input_bucket,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(INCOMPLETE_UPLOAD_DAYS),
                ),
                # A replaced upload stays readable for queued jobs (at most 6 h), then goes.
                s3.LifecycleRule(
                    id="expire-replaced-uploads",
                    noncurrent_version_expiration=Duration.days(
                        settings.noncurrent_version_retention_days
                    ),
                    expired_object_delete_marker=True,
                ),
            ],
            server_access_logs_prefix="input/",
            **self._secure_bucket_options(removal),
        )

    def _jobs_table(self, removal: RemovalPolicy) -> dynamodb.Table:
        settings = self.settings
        jobs_table = dynamodb.Table(
            self,
            "JobsTable",
            table_name=self.names.jobs_table,
            partition_key=dynamodb.Attribute(
                name=contract.TABLE_KEY, type=dynamodb.AttributeType.STRING
            ),
            time_to_live_attribute=contract.TTL_ATTRIBUTE,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=settings.removal_policy == "retain",
            removal_policy=removal,
            # The notifier publishes each terminal record's outbox from the stream.
            stream=dynamodb.StreamViewType[contract.STREAM_VIEW],
        )
        # Sparse: only records with a deadline (something left to do) are in it; the sweeper
        # queries it for deadlines passed (lambdas/jobs.py, JobStore.due).
        jobs_table.add_global_secondary_index(
            index_name=contract.DEADLINE_INDEX,
            partition_key=dynamodb.Attribute(
                name=contract.DEADLINE_INDEX_PARTITION, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(
                name=contract.DEADLINE_INDEX_SORT, type=dynamodb.AttributeType.NUMBER
            ),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        jobs_table.add_global_secondary_index(
            index_name=contract.STATUS_INDEX,
            partition_key=dynamodb.Attribute(
                name=contract.STATUS_INDEX_PARTITION, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(
                name=contract.STATUS_INDEX_SORT, type=dynamodb.AttributeType.STRING
            ),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        return jobs_table

    def _data_key(self, removal: RemovalPolicy) -> kms.Key:
        key = kms.Key(
            self,
            "DataKey",
            description=f"{self.settings.name_prefix}: buckets, jobs table, topics and queues",
            enable_key_rotation=True,
            removal_policy=removal,
        )
        # Alarms publish to the encrypted notifications topic; CloudWatch needs the key for that.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToEncryptForTopics",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        return key

    def _log_bucket(self, removal: RemovalPolicy) -> s3.Bucket:
        # S3 server access logging can only deliver to SSE-S3 buckets, not SSE-KMS ones.
        bucket = s3.Bucket(
            self,
            "AccessLogBucket",
            bucket_name=self.names.log_bucket,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(self.settings.log_retention_days),
                )
            ],
            removal_policy=removal,
        )
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "This is the access-log destination; logging it into itself would loop.",
        )
        return bucket

    def _secure_bucket_options(self, removal: RemovalPolicy) -> dict:
        return {
            "encryption": s3.BucketEncryption.KMS,
            "encryption_key": self.key,
            "bucket_key_enabled": True,
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "enforce_ssl": True,
            "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            "server_access_logs_bucket": self.log_bucket,
            "removal_policy": removal,
        }


class DataStack(Stack):
    """The stateful stack of the motflow app: one ``MotflowData`` under the hidden id, so its
    resources keep the logical IDs they had when this stack built them itself."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        input_bucket_name: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        data = MotflowData(self, HIDDEN_ID, settings=settings, input_bucket_name=input_bucket_name)
        self.settings = settings
        self.input_bucket_name = input_bucket_name  # an existing bucket of the user's, if any
        self.names = data.names
        self.key = data.key
        self.log_bucket = data.log_bucket
        self.input_bucket = data.input_bucket
        self.work_bucket = data.work_bucket
        self.jobs_table = data.jobs_table
