"""The managed policy for people who run `motflow` against a deployment (a stack output).

Exactly what the job verbs call: ``submit`` puts a video under the upload prefix; ``status``,
``list`` and ``watch`` read the jobs table (one item, a long video's segments in a batch, the
status index) and a job's ``progress.json``; ``results`` lists and downloads a job's results;
``retry`` copies the original upload to a new key. The CLI finds the deployment through the
tracking stack's outputs.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks import contract, policies
from stacks.nag import acknowledge_wildcards


class OperatorPolicy(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        input_bucket: s3.IBucket,
        input_prefix: str,
        work_bucket: s3.IBucket,
        jobs_table: dynamodb.ITable,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        scoped = [
            # submit and retry: put an upload (retry copies the original, reading it).
            *policies.read_under(input_bucket, [input_prefix]),
            policies.write_objects(input_bucket, [input_prefix]),
            # status (progress.json) and results (list, download) of a job.
            *policies.read_under(work_bucket, [contract.RESULTS_PREFIX]),
        ]
        # The CLI finds the deployment through the stack's outputs.
        describe_stack = iam.PolicyStatement(
            actions=["cloudformation:DescribeStacks"],
            resources=[
                stack.format_arn(
                    service="cloudformation",
                    resource="stack",
                    resource_name=f"{stack.stack_name}/*",
                )
            ],
        )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="motflow operators: submit, status, list, watch, results and retry",
            statements=[
                *scoped,
                iam.PolicyStatement(
                    actions=["dynamodb:GetItem", "dynamodb:BatchGetItem"],
                    resources=[jobs_table.table_arn],
                ),
                iam.PolicyStatement(
                    actions=["dynamodb:Query"],
                    resources=[f"{jobs_table.table_arn}/index/{contract.STATUS_INDEX}"],
                ),
                # Uploads and results are encrypted with the data key (SSE-KMS).
                policies.encrypt_with(key),
                describe_stack,
            ],
        )
        acknowledge_wildcards(
            self.policy,
            [*scoped],
            "Operators submit and read jobs whose keys are only known per job; access is "
            "scoped to the upload and results prefixes.",
        )
        acknowledge_wildcards(
            self.policy,
            [describe_stack],
            "A stack's ARN ends in an id CloudFormation assigns at creation.",
        )
