"""Optional training stack (context `training=true`): the training image, where labelled data and
training runs live, and the role a SageMaker training job runs as, with least privilege.

The training image is the endpoint's image (container/Dockerfile, the same lock and base) with the
CUDA torch build, which also runs on CPU instances; SageMaker starts it with `train`
(container/train). It is a CDK image asset, so the role may pull only from the asset repository.

Layout of the training bucket: `labels/` (the `train` channel; `motflow train --sagemaker --data
s3://<bucket>/labels/`), `runs/` (job outputs and the uploaded source archives, `--out`). A run's
`runs/<job>/output/model.tar.gz` is deployable as it is: `cdk deploy -c motflow:weights=s3://...`.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.container_image import container_image
from stacks.nag import acknowledge, acknowledge_wildcards
from stacks.outputs import output
from stacks.settings import Settings

LABELS_PREFIX = "labels/"
RUNS_PREFIX = "runs/"
TRAINING_TORCH_BUILD = "cuda"
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"


class TrainingStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        build_dir: Path,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        prefix = settings.name_prefix
        self.image = container_image(
            self,
            "TrainingImage",
            settings=settings,
            torch_build=TRAINING_TORCH_BUILD,
            stage_dir=Path(build_dir) / prefix / "training",
        )
        removal = (
            RemovalPolicy.RETAIN if settings.removal_policy == "retain" else RemovalPolicy.DESTROY
        )
        secure = {
            "encryption": s3.BucketEncryption.S3_MANAGED,
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "enforce_ssl": True,
            "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            "removal_policy": removal,
        }
        logs = s3.Bucket(
            self,
            "TrainingAccessLogs",
            lifecycle_rules=[
                s3.LifecycleRule(expiration=Duration.days(settings.log_retention_days))
            ],
            **secure,
        )
        acknowledge(logs, "AwsSolutions-S1", "This is the access-log destination.")
        self.bucket = s3.Bucket(
            self,
            "TrainingBucket",
            bucket_name=f"{prefix}-training-{self.account}-{self.region}",
            versioned=True,
            server_access_logs_bucket=logs,
            server_access_logs_prefix="training/",
            **secure,
        )
        self.role = iam.Role(
            self,
            "TrainingJobRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"{prefix}: SageMaker training jobs (motflow train --sagemaker)",
        )
        statements = self._statements(self.image)
        for statement in statements:
            self.role.add_to_policy(statement)
        acknowledge_wildcards(
            self.role,
            statements,
            "Training reads any object under labels/ and writes its own run under runs/ "
            "(job names are chosen at launch); log streams are named per job by SageMaker; "
            "ecr:GetAuthorizationToken and cloudwatch:PutMetricData cannot be scoped to a "
            "resource (the metric namespace is pinned by a condition).",
        )
        bucket_uri = f"s3://{self.bucket.bucket_name}"
        output(self, "TrainingBucketName", value=self.bucket.bucket_name)
        output(self, "TrainingDataUri", value=f"{bucket_uri}/{LABELS_PREFIX}")
        output(self, "TrainingOutputUri", value=f"{bucket_uri}/{RUNS_PREFIX}")
        output(self, "TrainingRoleArn", value=self.role.role_arn)
        output(self, "TrainingImageUri", value=self.image.image_uri)

    def _statements(self, image: ecr_assets.DockerImageAsset) -> list[iam.PolicyStatement]:
        bucket = self.bucket
        return [
            iam.PolicyStatement(
                sid="ListTrainingPrefixes",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{LABELS_PREFIX}*", f"{RUNS_PREFIX}*"]}},
            ),
            iam.PolicyStatement(
                sid="ReadLabelsAndSource",
                actions=["s3:GetObject"],
                resources=[
                    bucket.arn_for_objects(f"{LABELS_PREFIX}*"),
                    bucket.arn_for_objects(f"{RUNS_PREFIX}*"),
                ],
            ),
            iam.PolicyStatement(
                sid="WriteRuns",
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(f"{RUNS_PREFIX}*")],
            ),
            iam.PolicyStatement(
                sid="TrainingLogs",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                resources=[
                    f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:"
                    f"{TRAINING_LOG_GROUP}:*"
                ],
            ),
            iam.PolicyStatement(
                sid="TrainingMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": TRAINING_LOG_GROUP}},
            ),
            iam.PolicyStatement(
                sid="PullTrainingImageToken",
                actions=["ecr:GetAuthorizationToken"],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="PullTrainingImage",
                actions=[
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                ],
                resources=[image.repository.repository_arn],
            ),
        ]
