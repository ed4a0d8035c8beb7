"""Least-privilege IAM statements, written out action by action.

The CDK ``grant_*`` helpers add wildcard actions (``s3:GetObject*``, ``s3:List*``,
``kms:GenerateDataKey*``); these statements name exactly what each principal calls.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns


def read_objects(bucket: s3.IBucket, prefixes: Iterable[str]) -> iam.PolicyStatement:
    """GetObject (which also covers HeadObject and ranged reads) under the given prefixes."""
    return iam.PolicyStatement(
        actions=["s3:GetObject", "s3:GetObjectVersion"],
        resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes],
    )


def write_objects(bucket: s3.IBucket, prefixes: Iterable[str]) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=["s3:PutObject", "s3:AbortMultipartUpload"],
        resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes],
    )


def decrypt_with(key: kms.IKey) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=["kms:Decrypt", "kms:DescribeKey"], resources=[key.key_arn])


def encrypt_with(key: kms.IKey) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
        resources=[key.key_arn],
    )


def read_write_items(table: dynamodb.ITable) -> iam.PolicyStatement:
    """Item reads (one, or a batch of a long video's segments) and (conditional) writes on the
    table; no scans, no deletes."""
    return iam.PolicyStatement(
        actions=[
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ],
        resources=[table.table_arn],
    )


def publish_to(*topics: sns.ITopic) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=["sns:Publish"], resources=[topic.topic_arn for topic in topics]
    )


def invoke_endpoint(endpoint_arn: str) -> iam.PolicyStatement:
    """InvokeEndpointAsync on this one endpoint (submit, complete's retries, stitch requests)."""
    return iam.PolicyStatement(actions=["sagemaker:InvokeEndpointAsync"], resources=[endpoint_arn])


def list_under(bucket: s3.IBucket, prefixes: Iterable[str]) -> iam.PolicyStatement:
    """ListBucket limited by ``s3:prefix`` to what the principal reads.

    Without ListBucket S3 answers 403 AccessDenied for a missing key instead of 404, so a
    deleted upload or a missing summary would read as a permissions problem.
    """
    return iam.PolicyStatement(
        actions=["s3:ListBucket"],
        resources=[bucket.bucket_arn],
        conditions={"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in prefixes]}},
    )


def read_under(bucket: s3.IBucket, prefixes: Iterable[str]) -> list[iam.PolicyStatement]:
    """Read objects under the prefixes, and see that a key there is missing (404, not 403)."""
    prefixes = list(prefixes)
    return [read_objects(bucket, prefixes), list_under(bucket, prefixes)]
