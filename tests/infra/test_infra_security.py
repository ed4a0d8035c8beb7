"""Issue 11, security: least privilege in every synthesized template, and keys that cannot
escape a job's results prefix (in S3 key space, in the container, and in the local stack)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lambdas import jobs
from local.stack import result_file_name
from model_code.jobs import local_name
from stacks import contract
from tests.infra.test_infra_stacks import NAMES, TRACKING, as_list, resources, templates

__all__ = ["templates"]  # the synthesized-templates fixture, shared with the stack tests

# Services that hold or move the data: never granted on every resource.
DATA_SERVICES = ("s3", "dynamodb", "sns", "sqs", "kms", "sagemaker", "lambda", "events")
# S3 object prefixes each role may touch: (bucket, prefix) pairs, read or write.
INPUT, WORK = NAMES.input_bucket, NAMES.work_bucket
ROLE_PREFIXES = {
    "UploadTriggerSubmitRole": {(INPUT, "videos/"), (WORK, contract.MANIFEST_PREFIX)},
    "JobEventsCompleteRole": {
        (WORK, contract.ASYNC_OUTPUT_PREFIX),
        (WORK, contract.ASYNC_FAILURE_PREFIX),
        (WORK, contract.MANIFEST_PREFIX),  # the next attempt's manifest (transient retries)
    },
    "JobSweeperRole": {(WORK, contract.ASYNC_OUTPUT_PREFIX), (WORK, contract.ASYNC_FAILURE_PREFIX)},
    "AsyncEndpointExecutionRole": {
        (INPUT, "videos/"),
        (WORK, contract.MANIFEST_PREFIX),
        (WORK, contract.RESULTS_PREFIX),
        (WORK, contract.ASYNC_OUTPUT_PREFIX),
        (WORK, contract.ASYNC_FAILURE_PREFIX),
    },
}


def _flat(value: Any) -> str:
    """A CloudFormation value as text: joins resolved, references as <Name>."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(_flat(part) for part in value["Fn::Join"][1])
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "<" + ".".join(value["Fn::GetAtt"]) + ">"
    return json.dumps(value, sort_keys=True)


def _all_statements(templates: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for stack, template in templates.items():
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for logical_id, policy in resources(template, kind).items():
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                    found.append((f"{stack}/{logical_id}", statement))
    assert found
    return found


def test_no_statement_allows_every_action_of_a_service(templates) -> None:
    for where, statement in _all_statements(templates):
        for action in as_list(statement.get("Action", [])):
            assert action != "*" and not action.endswith(":*"), (where, action)
        assert "NotAction" not in statement, where


def test_data_services_are_never_granted_on_every_resource(templates) -> None:
    for where, statement in _all_statements(templates):
        if statement["Effect"] != "Allow" or "*" not in as_list(statement["Resource"]):
            continue
        services = {action.split(":", 1)[0] for action in as_list(statement["Action"])}
        assert not services & set(DATA_SERVICES), (where, statement["Action"])


@pytest.mark.parametrize("role", sorted(ROLE_PREFIXES))
def test_each_role_reaches_only_its_own_prefixes(templates, role: str) -> None:
    reached = set()
    for logical_id, policy in resources(templates[TRACKING], "AWS::IAM::Policy").items():
        if not logical_id.startswith(role):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = as_list(statement["Action"])
            if not any(a.startswith("s3:") for a in actions):
                continue
            for resource in map(_flat, as_list(statement["Resource"])):
                bucket, _, key = resource.removeprefix("arn:aws:s3:::").partition("/")
                if bucket.startswith("cdk-"):  # the CDK asset bucket (the model artifact)
                    continue
                if actions == ["s3:ListBucket"]:
                    prefixes = statement["Condition"]["StringLike"]["s3:prefix"]
                    reached |= {(bucket, p.removesuffix("*")) for p in as_list(prefixes)}
                    continue
                assert key.endswith("/*") and key.count("*") == 1, (role, resource)
                reached.add((bucket, key.removesuffix("*")))
    assert reached == ROLE_PREFIXES[role]


HOSTILE_KEYS = [
    "videos/../../results/other-job/tracks.txt",
    "videos/../jobs/x.json",
    "/etc/passwd.mp4",
    "videos//abs/../../x.mp4",
    "videos/a\x00b\r\n\x1b[31m.mp4",
    "videos/" + "../" * 300 + "x.mp4",
    "videos/ünï cødé +%2F.mp4",
]


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_a_hostile_key_cannot_leave_the_jobs_results_prefix(key: str) -> None:
    job_id = jobs.job_id_for(INPUT, key, "etag")
    assert set(job_id) <= set("abcdefghijklmnopqrstuvwxyz0123456789-") and len(job_id) <= 49
    prefix = contract.results_prefix(job_id)
    assert prefix == f"results/{job_id}/" and ".." not in prefix
    # The container names its local copy after the key: one plain file name, never a path.
    name = local_name(key)
    assert "/" not in name and name not in ("", ".", "..") and name.isprintable()
    assert (Path("/work") / name).parent == Path("/work")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("results/j/tracks.txt", "tracks.txt"),
        ("results/j/_claims/attempt-1.json", None),
        ("results/j/../../etc/passwd", None),
        ("results/j/..", None),
        ("results/j/a\x1b.txt", None),
        ("results/other/tracks.txt", None),
    ],
)
def test_the_local_stack_downloads_results_only_into_the_jobs_folder(
    key: str, expected: str | None
) -> None:
    assert result_file_name(key, "results/j/") == expected
