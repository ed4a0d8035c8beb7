"""A SageMaker asynchronous endpoint that scales between 0 and N instances.

L1 resources on purpose: the alpha SageMaker L2 has no async support and turns a minimum of 0
into 1. Scaling uses two policies because target tracking on the per-instance backlog cannot
leave 0 (there is no instance to divide by): a step policy on ``HasBacklogWithoutCapacity``
adds the first instance.

The variant is named after a hash of its hardware (``variant-<hash>``), and the scalable target,
its policies and the scale-out alarm carry the same hash in their logical ids. AWS refuses to
update or remove an autoscaled variant, so an instance-type change takes two steps
(stacks/instance_type_change.py refuses the one-deploy change at synth).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks import aws_rules, contract, policies
from stacks.constructs.handler_function import log_retention
from stacks.nag import acknowledge_wildcards
from stacks.sagemaker_platform import has_instance_storage
from stacks.scaling import CHANGE_IN_CAPACITY, EXACT_CAPACITY, ScalingPolicy

SCALING_ROLE_NAME = (
    "aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)
ADJUSTMENT_TYPES = {
    CHANGE_IN_CAPACITY: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
    EXACT_CAPACITY: appscaling.AdjustmentType.EXACT_CAPACITY,
}


@dataclass(frozen=True)
class EndpointSizing:
    """The variant's hardware and how it scales."""

    instance_type: str
    min_capacity: int
    max_capacity: int
    max_concurrent_invocations_per_instance: int
    target_backlog_per_instance: float

    @property
    def variant_hash(self) -> str:
        """Changes exactly when a change would need UpdateEndpoint on the variant's hardware."""
        hardware = json.dumps({"instance_type": self.instance_type}, sort_keys=True)
        return hashlib.sha256(hardware.encode()).hexdigest()[:8]

    @property
    def variant_name(self) -> str:
        return f"variant-{self.variant_hash}"


@dataclass(frozen=True)
class ModelData:
    """Where ``model.tar.gz`` was uploaded."""

    bucket_name: str
    object_key: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket_name}/{self.object_key}"


class AsyncEndpoint(Construct):
    """Model, endpoint config, endpoint, execution role and autoscaling 0..N."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        sizing: EndpointSizing,
        model_environment: dict[str, str],
        image_uri: str,
        image_repository: ecr.IRepository,
        model_data: ModelData,
        key: kms.IKey,
        input_bucket: s3.IBucket,
        input_prefix: str,
        work_bucket: s3.IBucket,
        success_topic: sns.ITopic,
        error_topic: sns.ITopic,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.endpoint_name = endpoint_name
        self.variant_name = sizing.variant_name
        # In the stack, with retention: SageMaker would otherwise create it with none.
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=contract.endpoint_log_group(endpoint_name),
            retention=log_retention(log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = self._execution_role(
            image_repository, model_data, key, input_bucket, input_prefix, work_bucket,
            success_topic, error_topic,
        )  # fmt: skip
        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=image_uri,
                model_data_url=model_data.url,
                environment=model_environment,
            ),
        )
        self.model.node.add_dependency(self.role)
        self.config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=self.variant_name,
                    model_name=self.model.attr_model_name,
                    instance_type=sizing.instance_type,
                    initial_instance_count=1,
                    initial_variant_weight=1.0,
                )
            ],
            async_inference_config=sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
                client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                    max_concurrent_invocations_per_instance=(
                        sizing.max_concurrent_invocations_per_instance
                    )
                ),
                output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                    s3_output_path=work_bucket.s3_url_for_object(contract.ASYNC_OUTPUT_PREFIX),
                    s3_failure_path=work_bucket.s3_url_for_object(contract.ASYNC_FAILURE_PREFIX),
                    kms_key_id=key.key_arn,
                    notification_config=sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
                        success_topic=success_topic.topic_arn,
                        error_topic=error_topic.topic_arn,
                    ),
                ),
            ),
            # Instances with NVMe instance storage encrypt it in hardware and reject a volume key.
            kms_key_id=None if has_instance_storage(sizing.instance_type) else key.key_arn,
        )
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=endpoint_name,
            endpoint_config_name=self.config.attr_endpoint_config_name,
            # Keep the instance count autoscaling chose when a deploy swaps the config.
            retain_all_variant_properties=True,
        )
        self.endpoint.node.add_dependency(self.role, self.log_group)
        self.scalable_target = self._autoscaling(sizing)

    @property
    def endpoint_arn(self) -> str:
        return Stack.of(self).format_arn(
            service="sagemaker", resource="endpoint", resource_name=self.endpoint_name
        )

    def metric(
        self,
        name: str,
        statistic: str,
        *,
        namespace: str = aws_rules.SAGEMAKER_NAMESPACE,
        period_minutes: int = 1,
        label: str | None = None,
    ) -> cloudwatch.Metric:
        """One of this endpoint's metrics, with the dimensions AWS publishes it with."""
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=name,
            dimensions_map=aws_rules.dimensions_for(
                namespace, name, endpoint_name=self.endpoint_name, variant_name=self.variant_name
            ),
            statistic=statistic,
            period=Duration.minutes(period_minutes),
            label=label,
        )

    def _execution_role(
        self,
        image_repository: ecr.IRepository,
        model_data: ModelData,
        key: kms.IKey,
        input_bucket: s3.IBucket,
        input_prefix: str,
        work_bucket: s3.IBucket,
        success_topic: sns.ITopic,
        error_topic: sns.ITopic,
    ) -> iam.Role:
        stack = Stack.of(self)
        role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="motflow async endpoint: read videos and manifests, write results",
        )
        model_bucket = s3.Bucket.from_bucket_name(self, "ModelDataBucket", model_data.bucket_name)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[model_bucket.arn_for_objects(model_data.object_key)],
            )
        )
        for statement in (
            policies.encrypt_with(key),
            policies.publish_to(success_topic, error_topic),
            iam.PolicyStatement(
                actions=[
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                ],
                resources=[image_repository.repository_arn],
            ),
        ):
            role.add_to_policy(statement)
        self._allow_with_reason(
            role,
            [
                *policies.read_under(input_bucket, [input_prefix]),
                # A long video's stitch reads each segment's results/<segment>/tracks.jsonl and
                # summary.json; a duplicate request reads the winner's results/<job>/_claims/.
                # No ListBucket here: these keys are known to exist, and a missing one fails the
                # request permanently whether S3 answers 404 or 403 (model_code/storage.py).
                policies.read_objects(
                    work_bucket, [contract.MANIFEST_PREFIX, contract.RESULTS_PREFIX]
                ),
                policies.write_objects(
                    work_bucket,
                    [
                        contract.RESULTS_PREFIX,
                        contract.ASYNC_OUTPUT_PREFIX,
                        contract.ASYNC_FAILURE_PREFIX,
                    ],
                ),
            ],
            "The container reads uploaded videos, job manifests and segment results (the stitch) "
            "and writes results, async outputs and failures; object keys are only known per "
            "job, so access is scoped to those prefixes.",
        )
        log_group_arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=contract.endpoint_log_group(self.endpoint_name),
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self._allow_with_reason(
            role,
            [
                iam.PolicyStatement(
                    actions=["logs:CreateLogGroup", "logs:DescribeLogStreams"],
                    resources=[f"{log_group_arn}:*"],
                ),
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[f"{log_group_arn}:log-stream:*"],
                ),
            ],
            "SageMaker names the log streams per instance at run time; access is limited to "
            "this endpoint's own log group.",
        )
        self._allow_with_reason(
            role,
            [
                iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]),
                iam.PolicyStatement(
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={
                        "StringEquals": {
                            "cloudwatch:namespace": [
                                aws_rules.SAGEMAKER_NAMESPACE,
                                aws_rules.ENDPOINT_INSTANCE_NAMESPACE,
                            ]
                        }
                    },
                ),
            ],
            "ecr:GetAuthorizationToken and cloudwatch:PutMetricData support no resource ARNs; "
            "metric writes are limited to the SageMaker namespaces by condition.",
        )
        return role

    @staticmethod
    def _allow_with_reason(
        role: iam.Role, statements: list[iam.PolicyStatement], reason: str
    ) -> None:
        for statement in statements:
            role.add_to_policy(statement)
        acknowledge_wildcards(role, statements, reason)

    def _autoscaling(self, sizing: EndpointSizing) -> appscaling.ScalableTarget:
        """Scalable target, policies and scale-out alarm, all named after the variant's hash."""
        stack = Stack.of(self)
        scaling_role = iam.Role.from_role_arn(
            self,
            "ScalingServiceLinkedRole",
            stack.format_arn(
                service="iam", region="", resource="role", resource_name=SCALING_ROLE_NAME
            ),
            mutable=False,
        )
        # Cooldowns and the step policy come from the policy bench/scale_sim.py simulates.
        policy = ScalingPolicy(
            min_capacity=sizing.min_capacity,
            max_capacity=sizing.max_capacity,
            concurrency=sizing.max_concurrent_invocations_per_instance,
            target_backlog_per_instance=sizing.target_backlog_per_instance,
        )
        scope = Construct(self, f"Scaling-{sizing.variant_hash}")
        target = appscaling.ScalableTarget(
            scope,
            "Target",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{self.endpoint.attr_endpoint_name}/variant/{self.variant_name}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=sizing.min_capacity,
            max_capacity=sizing.max_capacity,
            role=scaling_role,
        )
        target.node.add_dependency(self.endpoint)
        target.scale_to_track_metric(
            "BacklogPerInstance",
            target_value=sizing.target_backlog_per_instance,
            custom_metric=self.metric("ApproximateBacklogSizePerInstance", "Average"),
            scale_in_cooldown=Duration.seconds(policy.scale_in_cooldown_s),
            scale_out_cooldown=Duration.seconds(policy.scale_out_cooldown_s),
        )
        # Exactly one instance, not +1: the alarm stays on while the first instance boots and
        # would add more (docs/OPERATIONS.md, "Scaling: what the model says").
        scale_out_from_zero = appscaling.StepScalingAction(
            scope,
            "ScaleOutFromZero",
            scaling_target=target,
            adjustment_type=ADJUSTMENT_TYPES[policy.step_adjustment_type],
            metric_aggregation_type=appscaling.MetricAggregationType.MAXIMUM,
            cooldown=Duration.seconds(policy.step_cooldown_s),
        )
        scale_out_from_zero.add_adjustment(adjustment=policy.step_adjustment, lower_bound=0)
        self.backlog_without_capacity_alarm = cloudwatch.Alarm(
            scope,
            "BacklogWithoutCapacity",
            alarm_description="Requests are queued while the endpoint has no instance: add one.",
            metric=self.metric("HasBacklogWithoutCapacity", "Maximum"),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=policy.alarm_evaluation_periods,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.backlog_without_capacity_alarm.add_alarm_action(
            cloudwatch_actions.ApplicationScalingAction(scale_out_from_zero)
        )
        return target
