"""Stateless resources: image, model artifact, async endpoint, Lambdas, topics and monitoring.

Safe to destroy and redeploy: all data lives in the DataStack.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import AssetHashType, AssetStaging, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks import contract
from stacks.constructs.async_endpoint import AsyncEndpoint, EndpointSizing, ModelData
from stacks.constructs.failed_events import failed_events_queue
from stacks.constructs.job_events import JobEvents
from stacks.constructs.monitoring import Monitoring
from stacks.constructs.notifier import JobNotifier
from stacks.constructs.operator_policy import OperatorPolicy
from stacks.constructs.sweeper import JobSweeper
from stacks.constructs.upload_trigger import UploadTrigger
from stacks.container_image import container_image
from stacks.data_stack import HIDDEN_ID, DataStack
from stacks.model_artifact import NANODET_DIR, build_model_artifact
from stacks.outputs import output
from stacks.sagemaker_platform import torch_build
from stacks.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
LAMBDAS_DIR = REPO_ROOT / "lambdas"
DEFAULT_BUILD_DIR = REPO_ROOT / "build"
LAMBDA_EXCLUDES = ["__pycache__", "*.pyc", "tests"]


class MotflowTracking(Construct):
    """The stateless half, in whichever stack holds it (``TrackingStack`` or a
    ``MotflowPipeline``); the data it works on comes in as the key and the jobs table, the
    buckets by their contract names."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        key: kms.IKey,
        jobs_table: dynamodb.ITable,
        build_dir: Path = DEFAULT_BUILD_DIR,
        nanodet_dir: Path = NANODET_DIR,
        input_bucket_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # Names from this stack's own account and region tokens: same values as the data
        # stack's, without cross-stack references inside IAM resource ARNs.
        names = contract.deployment_names(
            settings.name_prefix, stack.account, stack.region, input_bucket=input_bucket_name
        )
        self.names = names
        input_bucket = s3.Bucket.from_bucket_name(self, "InputBucket", names.input_bucket)
        work_bucket = s3.Bucket.from_bucket_name(self, "WorkBucket", names.work_bucket)
        stage = Path(build_dir) / settings.name_prefix
        code = lambda_.Code.from_asset(str(LAMBDAS_DIR), exclude=LAMBDA_EXCLUDES)
        # One on-failure queue per handler (replay re-drives each to its own function).
        self.failed_events = failed_events_queue(self, "FailedEvents")  # submit's
        self.complete_failed_events = failed_events_queue(self, "CompleteFailedEvents")
        self.sweeper_failed_events = failed_events_queue(self, "SweeperFailedEvents")
        self.notifier_failed_events = failed_events_queue(self, "NotifierFailedEvents")
        self.job_events = JobEvents(
            self,
            "JobEvents",
            success_topic_name=names.success_topic,
            error_topic_name=names.error_topic,
            notifications_topic_name=names.notifications_topic,
            key=key,
            code=code,
            jobs_table=jobs_table,
            work_bucket=work_bucket,
            failed_events=self.complete_failed_events,
            log_retention_days=settings.log_retention_days,
        )
        self.image = container_image(
            self,
            "Image",
            settings=settings,
            torch_build=torch_build(settings.instance_type),
            stage_dir=stage,
            nanodet_dir=nanodet_dir,
        )
        self.endpoint = AsyncEndpoint(
            self,
            "AsyncEndpoint",
            endpoint_name=names.endpoint_name,
            sizing=EndpointSizing(
                instance_type=settings.instance_type,
                min_capacity=settings.min_capacity,
                max_capacity=settings.max_capacity,
                max_concurrent_invocations_per_instance=(
                    settings.max_concurrent_invocations_per_instance
                ),
                target_backlog_per_instance=settings.target_backlog_per_instance,
            ),
            model_environment=contract.deployment_model_environment(settings),
            image_uri=self.image.image_uri,
            image_repository=self.image.repository,
            model_data=(
                ModelData(*settings.model_artifact_s3)
                if settings.model_artifact_s3
                else self._model_data(
                    build_model_artifact(stage / "model.tar.gz", settings, nanodet_dir=nanodet_dir)
                )
            ),
            key=key,
            input_bucket=input_bucket,
            input_prefix=settings.input_prefix,
            work_bucket=work_bucket,
            success_topic=self.job_events.success_topic,
            error_topic=self.job_events.error_topic,
            log_retention_days=settings.log_retention_days,
        )
        self.job_events.allow_retries(
            work_bucket=work_bucket,
            endpoint_name=names.endpoint_name,
            endpoint_arn=self.endpoint.endpoint_arn,
            defaults=contract.job_defaults(settings),
        )
        self.upload_trigger = UploadTrigger(
            self,
            "UploadTrigger",
            job_defaults=contract.job_defaults(settings),
            code=code,
            input_bucket_name=names.input_bucket,
            work_bucket=work_bucket,
            jobs_table=jobs_table,
            key=key,
            endpoint_name=names.endpoint_name,
            endpoint_arn=self.endpoint.endpoint_arn,
            notifications_topic=self.job_events.notifications_topic,
            failed_events=self.failed_events,
            log_retention_days=settings.log_retention_days,
            reserved_concurrency=settings.submit_reserved_concurrency,
        )
        self.sweeper = JobSweeper(
            self,
            "JobSweeper",
            code=code,
            job_defaults=contract.job_defaults(settings),
            jobs_table=jobs_table,
            work_bucket=work_bucket,
            endpoint_name=names.endpoint_name,
            endpoint_arn=self.endpoint.endpoint_arn,
            key=key,
            notifications_topic=self.job_events.notifications_topic,
            failed_events=self.sweeper_failed_events,
            log_retention_days=settings.log_retention_days,
        )
        self.notifier = JobNotifier(
            self,
            "JobNotifier",
            code=code,
            jobs_table=jobs_table,
            stream_arn=jobs_table.table_stream_arn or "",
            key=key,
            notifications_topic=self.job_events.notifications_topic,
            failed_events=self.notifier_failed_events,
            log_retention_days=settings.log_retention_days,
        )
        failed_events_by_handler = {
            "submit": self.failed_events,
            "complete": self.complete_failed_events,
            "sweeper": self.sweeper_failed_events,
            "notifier": self.notifier_failed_events,
        }
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            dashboard_name=names.dashboard,
            jobs_table_name=names.jobs_table,
            alarms_topic_name=names.alarms_topic,
            alarm_email=settings.alarm_email,
            key=key,
            endpoint=self.endpoint,
            functions={
                "submit": self.upload_trigger.submit.function,
                "complete": self.job_events.complete.function,
                "sweeper": self.sweeper.sweeper.function,
                "notifier": self.notifier.notifier.function,
            },
            failed_events=failed_events_by_handler,
            oldest_request_alarm_s=settings.oldest_request_alarm_s,
        )
        output(self, contract.OUTPUT_INPUT_BUCKET, value=names.input_bucket)
        output(self, contract.OUTPUT_UPLOAD_PREFIX, value=settings.input_prefix)
        output(self, contract.OUTPUT_WORK_BUCKET, value=names.work_bucket)
        output(self, contract.OUTPUT_JOBS_TABLE, value=names.jobs_table)
        output(self, contract.OUTPUT_ENDPOINT, value=names.endpoint_name)
        output(self, contract.OUTPUT_INSTANCE_TYPE, value=settings.instance_type)
        output(self, contract.OUTPUT_VARIANT, value=self.endpoint.variant_name)
        output(
            self,
            contract.OUTPUT_NOTIFICATIONS_TOPIC,
            value=self.job_events.notifications_topic.topic_arn,
        )
        output(self, "AlarmsTopicArn", value=self.monitoring.alarms_topic.topic_arn)
        output(
            self,
            contract.OUTPUT_JOB_DEFAULTS,
            value=contract.encode_deployment_facts(contract.deployment_facts(settings)),
            description="job defaults and detector facts `motflow` checks options against",
        )
        # scripts/replay_failed_events.py takes a handler's failed-events queue URL.
        for handler, queue in failed_events_by_handler.items():
            output(
                self,
                contract.OUTPUT_FAILED_EVENTS[handler],
                value=queue.queue_url,
                description=f"{handler}'s failed events: scripts/replay_failed_events.py URL",
            )
        self.operator_policy = OperatorPolicy(
            self,
            "Operators",
            input_bucket=input_bucket,
            input_prefix=settings.input_prefix,
            work_bucket=work_bucket,
            jobs_table=jobs_table,
            key=key,
        )
        output(
            self,
            contract.OUTPUT_OPERATOR_POLICY,
            value=self.operator_policy.policy.managed_policy_arn,
            description="attach to the people and roles that run `motflow`",
        )

    def _model_data(self, artifact: Path) -> ModelData:
        """Upload ``model.tar.gz`` under a key that keeps the ``.tar.gz`` name.

        The default synthesizer names a file asset ``<hash><last extension>``, which turns
        ``model.tar.gz`` into ``<hash>.gz``. Registering the staged file with the source hash
        ``<hash>.tar`` yields the key ``<hash>.tar.gz``. The hash is CDK's fingerprint of the
        archive, which is byte-identical for unchanged inputs: same key, no model redeploy.
        """
        staging = AssetStaging(
            self, "ModelArtifact", source_path=str(artifact), asset_hash_type=AssetHashType.SOURCE
        )
        stack = Stack.of(self)
        location = stack.synthesizer.add_file_asset(
            file_name=staging.relative_staged_path(stack),
            packaging=staging.packaging,
            source_hash=f"{staging.asset_hash}.tar",
            display_name="model.tar.gz",
        )
        return ModelData(bucket_name=location.bucket_name, object_key=location.object_key)


class TrackingStack(Stack):
    """The stateless stack of the motflow app: one ``MotflowTracking`` under the hidden id, so
    its resources and outputs keep the logical IDs they had when this stack built them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        data: DataStack,
        build_dir: Path = DEFAULT_BUILD_DIR,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.tracking = MotflowTracking(
            self,
            HIDDEN_ID,
            settings=settings,
            key=data.key,
            jobs_table=data.jobs_table,
            build_dir=build_dir,
            input_bucket_name=data.input_bucket_name,
        )
