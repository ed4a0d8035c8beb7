"""``MotflowPipeline``: the whole tracking pipeline as one construct another CDK app composes.

Installed users import it as ``from motflow.cdk import MotflowPipeline`` (``motflow/cdk.py``).
It builds what the motflow app's ``MotflowData`` and ``MotflowTracking`` stacks build, in the
one stack that holds it; the motflow app itself keeps the two stacks (separate lifecycles), with
the same two constructs inside. One pipeline per stack: its outputs carry the fixed names the
`motflow` command reads (``motflow --stack <that stack>``), and the resource names come from
``Settings.name_prefix``, so two pipelines in one account and region need two prefixes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from aws_cdk import App, Tags
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.data_stack import MotflowData
from stacks.model_artifact import NANODET_DIR
from stacks.settings import Settings
from stacks.tracking_stack import MotflowTracking

APP_BUILD_FOLDER = "build"
# The aws-cdk-lib feature flags the constructs are written and tested against (cdk.json has the
# same ones; tests/infra checks that). Without them the templates differ: S3 access-log
# permissions by ACL instead of bucket policy, wider KMS and SQS-subscription policies, ...
FEATURE_FLAGS: Mapping[str, Any] = MappingProxyType(
    {
        "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
        "@aws-cdk/aws-s3:createDefaultLoggingPolicy": True,
        "@aws-cdk/aws-s3:publicAccessBlockedByDefault": True,
        "@aws-cdk/aws-iam:minimizePolicies": True,
        "@aws-cdk/aws-kms:reduceCrossAccountRegionPolicyScope": True,
        "@aws-cdk/aws-kms:aliasNameRef": True,
        "@aws-cdk/aws-sns-subscriptions:restrictSqsDescryption": True,
        "@aws-cdk/aws-cloudwatch-actions:changeLambdaPermissionLogicalIdForLambdaAction": True,
        "@aws-cdk/aws-lambda:recognizeLayerVersion": True,
        "@aws-cdk/aws-lambda:recognizeVersionProps": True,
        "@aws-cdk/core:enablePartitionLiterals": True,
        "@aws-cdk/core:includePrefixInUniqueNameGeneration": True,
        "@aws-cdk/core:target-partitions": ["aws", "aws-cn"],
    }
)


def apply_feature_flags(app: App) -> list[str]:
    """Set each of ``FEATURE_FLAGS`` the app's context does not already set; return the names
    the app sets to another value (left as they are: the caller decides). Call it before the
    app has any construct (CDK refuses context set later)."""
    differing = []
    for name, value in FEATURE_FLAGS.items():
        current = app.node.try_get_context(name)
        if current is None:
            app.node.set_context(name, value)
        elif current != value:
            differing.append(name)
    return differing


class MotflowPipeline(Construct):
    """Buckets, jobs table and key, the async endpoint, the Lambdas, topics and monitoring.

    ``settings``: the deployment settings (``Settings()`` for the defaults;
    ``settings_from_app(app)`` reads the app's ``motflow:`` context). ``build_dir``: where synth
    writes the image build context and ``model.tar.gz`` (default: ``build/`` in the working
    folder, where ``cdk`` runs the app, as ``cdk.out``). ``nanodet_dir``: the NanoDet-g weights
    and notices (the default detector's; ``make setup`` fetches them into a checkout).
    ``input_bucket_name``: process uploads to an existing bucket of yours instead of creating
    one (docs/OPERATIONS.md, "An existing input bucket", for what that bucket must allow).
    ``Settings.training`` is not built here: the training stack stays the motflow app's own.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings | None = None,
        build_dir: Path | None = None,
        nanodet_dir: Path = NANODET_DIR,
        input_bucket_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings or Settings()
        self.data = MotflowData(
            self, "Data", settings=self.settings, input_bucket_name=input_bucket_name
        )
        self.tracking = MotflowTracking(
            self,
            "Tracking",
            settings=self.settings,
            key=self.data.key,
            jobs_table=self.data.jobs_table,
            build_dir=Path(build_dir) if build_dir else Path.cwd() / APP_BUILD_FOLDER,
            nanodet_dir=nanodet_dir,
            input_bucket_name=input_bucket_name,
        )
        # The tracking half names the buckets rather than referencing them (as it must across
        # the app's two stacks); in one stack that needs an explicit order: after the buckets
        # this construct creates, with their TLS-only policies.
        for bucket in (self.data.input_bucket, self.data.work_bucket):
            if isinstance(bucket, s3.Bucket):
                self.tracking.node.add_dependency(bucket)
        Tags.of(self).add("project", self.settings.name_prefix)

    @property
    def input_bucket(self) -> s3.IBucket:
        return self.data.input_bucket

    @property
    def work_bucket(self) -> s3.Bucket:
        return self.data.work_bucket

    @property
    def jobs_table(self) -> dynamodb.Table:
        return self.data.jobs_table

    @property
    def key(self) -> kms.Key:
        return self.data.key

    @property
    def endpoint_name(self) -> str:
        return self.tracking.names.endpoint_name

    @property
    def notifications_topic(self) -> sns.ITopic:
        return self.tracking.job_events.notifications_topic

    @property
    def alarms_topic(self) -> sns.ITopic:
        return self.tracking.monitoring.alarms_topic

    @property
    def operator_policy(self) -> iam.ManagedPolicy:
        return self.tracking.operator_policy.policy
