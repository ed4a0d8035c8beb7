"""Every grant is needed: remove each statement of each role's policy in turn and show that some
call a local-stack run made is then denied.

Input: the ``iam-calls.jsonl`` files local-stack runs write (every call each role made, as IAM
sees it). Each statement must either be needed by at least one recorded call, or consist only of
actions that are used by AWS itself on the role's behalf and can't happen locally, each with the
AWS page that says so (``AWS_ONLY``). Exit 1 names any other statement.

    python -m scripts.iam_mutation RUN_DIR_OR_FILE...   (make iam-mutation runs it)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from local.iam_gate import ALLOWED, Simulator
from local.iam_policies import local_role_policies
from local.moto_service import ACCOUNT, REGION
from stacks.settings import Settings

LAMBDA_LOGS = "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html"
SSE_KMS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"
SAGEMAKER_ROLE = (
    "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html"
    "#sagemaker-roles-createmodel-perms"
)
STREAM_READ = (
    "https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html#events-dynamodb-permissions"
)
# Actions AWS performs with a role that the local stack has no counterpart for.
AWS_ONLY = {
    "logs:CreateLogStream": LAMBDA_LOGS,
    "logs:PutLogEvents": LAMBDA_LOGS,
    "logs:CreateLogGroup": SAGEMAKER_ROLE,
    "logs:DescribeLogStreams": SAGEMAKER_ROLE,
    # Lambda's on-failure destination sends with the function's role.
    "sqs:SendMessage": "https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html",
    "sqs:GetQueueAttributes": "https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html",
    "sqs:GetQueueUrl": "https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html",
    # The buckets, table and topics are encrypted with the data key; moto does not call KMS.
    "kms:Decrypt": SSE_KMS,
    "kms:DescribeKey": SSE_KMS,
    "kms:Encrypt": SSE_KMS,
    "kms:GenerateDataKey": SSE_KMS,
    # SageMaker pulls the image and model and publishes instance metrics with the role.
    "ecr:BatchGetImage": SAGEMAKER_ROLE,
    "ecr:GetDownloadUrlForLayer": SAGEMAKER_ROLE,
    "ecr:BatchCheckLayerAvailability": SAGEMAKER_ROLE,
    "ecr:GetAuthorizationToken": SAGEMAKER_ROLE,
    "cloudwatch:PutMetricData": SAGEMAKER_ROLE,
    # Lambda's event source mapping reads the jobs table's stream with the notifier's role; the
    # local stream pump (local/stream_pump.py) reads it as the stack itself.
    "dynamodb:DescribeStream": STREAM_READ,
    "dynamodb:GetRecords": STREAM_READ,
    "dynamodb:GetShardIterator": STREAM_READ,
    "dynamodb:ListStreams": STREAM_READ,
    # The CLI reads a deployed stack's outputs; the local CLI reads stack.json instead.
    "cloudformation:DescribeStacks": "https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html",
}
MODEL_ARTIFACT_READ = SAGEMAKER_ROLE  # s3:GetObject on the CDK asset bucket's model.tar.gz


def load_calls(paths: list[Path]) -> list[dict[str, Any]]:
    files = [
        p for path in paths for p in ([path] if path.is_file() else path.rglob("iam-calls.jsonl"))
    ]
    calls = []
    for file in files:
        calls += [
            json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line
        ]
    return calls


def aws_only_reason(statement: dict[str, Any]) -> str | None:
    actions = (
        statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    )
    resources = statement.get("Resource", [])
    resources = resources if isinstance(resources, list) else [resources]
    if actions == ["s3:GetObject"] and all(":::cdk-" in r for r in resources):
        return MODEL_ARTIFACT_READ
    reasons = {AWS_ONLY.get(action) for action in actions}
    return None if None in reasons else ", ".join(sorted(r for r in reasons if r))


def unneeded_statements(
    policies: dict[str, dict[str, Any]], calls: list[dict[str, Any]], simulator: Simulator
) -> list[str]:
    """Statements no recorded call needs and no AWS page accounts for, described."""
    problems = []
    for role, policy in sorted(policies.items()):
        role_calls = [c for c in calls if c["role"] == role]
        allowed = [
            c
            for c in role_calls
            if simulator.evaluate(policy, c["action"], c["resource"], c["context"], ACCOUNT)
            == ALLOWED
        ]
        for index, statement in enumerate(policy["Statement"]):
            mutated = {
                **policy,
                "Statement": [s for i, s in enumerate(policy["Statement"]) if i != index],
            }
            needed_by = next(
                (
                    c
                    for c in allowed
                    if simulator.evaluate(
                        mutated, c["action"], c["resource"], c["context"], ACCOUNT
                    )
                    != ALLOWED
                ),
                None,
            )
            where = f"{role} statement {index} {json.dumps(statement['Action'])}"
            if needed_by is not None:
                print(f"needed  {where}: {needed_by['action']} on {needed_by['resource']}")
            elif (reason := aws_only_reason(statement)) is not None:
                print(f"AWS     {where}: {reason}")
            else:
                print(f"UNUSED  {where}")
                problems.append(where)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)
    calls = load_calls(args.paths)
    if not calls:
        print("no recorded calls: run the local-stack tests first", file=sys.stderr)
        return 2
    simulator = Simulator()
    try:
        problems = unneeded_statements(
            local_role_policies(Settings(), ACCOUNT, REGION), calls, simulator
        )
    finally:
        simulator.close()
    if problems:
        print(
            f"{len(problems)} statement(s) no test needs:", *problems, sep="\n  ", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
