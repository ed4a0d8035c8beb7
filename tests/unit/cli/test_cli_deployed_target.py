"""A deployed stack's ``JobDefaults`` output: `motflow` checks options against it, as it does
against the local stack's discovery file, before anything is uploaded."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from cli import main as cli
from local import discovery
from stacks import contract
from stacks.settings import Settings

STACK = "MotflowDeployedTest"
REGION = "eu-west-1"
INPUT_BUCKET = "deployed-input"


def _template(job_defaults: str | None) -> str:
    outputs = {
        contract.OUTPUT_INPUT_BUCKET: {"Value": INPUT_BUCKET},
        contract.OUTPUT_UPLOAD_PREFIX: {"Value": "videos/"},
        contract.OUTPUT_WORK_BUCKET: {"Value": "deployed-work"},
        contract.OUTPUT_JOBS_TABLE: {"Value": "deployed-jobs"},
    }
    if job_defaults is not None:
        outputs[contract.OUTPUT_JOB_DEFAULTS] = {"Value": job_defaults}
    return json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}, "Outputs": outputs})


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch):
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        discovery.DISCOVERY_ENV: "/nonexistent",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "MOTFLOW_STACK"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(
            Bucket=INPUT_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )

        def deploy(job_defaults: str | None) -> None:
            boto3.client("cloudformation", region_name=REGION).create_stack(
                StackName=STACK, TemplateBody=_template(job_defaults)
            )

        def uploaded() -> list[str]:
            listed = s3.list_objects_v2(Bucket=INPUT_BUCKET).get("Contents", [])
            return [item["Key"] for item in listed]

        yield deploy, uploaded


def _submit(clip: Path, option: str) -> int:
    return cli.main(["submit", str(clip), "--stack", STACK, "--region", REGION, "-o", option])


def test_a_class_the_deployed_detector_lacks_is_refused_before_upload(
    deployed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy, uploaded = deployed
    settings = Settings()
    deploy(contract.encode_deployment_facts(contract.deployment_facts(settings)))
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"a clip")
    assert _submit(clip, "classes=persn") == 2
    err = capsys.readouterr().err
    assert f"not a class of {settings.detector}" in err and "nothing was uploaded" in err
    assert uploaded() == []
    assert _submit(clip, "classes=person") == 0
    assert len(uploaded()) == 1


def test_a_stack_without_the_output_leaves_the_check_to_submit(deployed, tmp_path: Path) -> None:
    deploy, uploaded = deployed
    deploy(None)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"a clip")
    assert _submit(clip, "classes=persn") == 0
    assert len(uploaded()) == 1


@pytest.mark.parametrize("value", ["", "not json", "[1]", '{"trained_classes": true}'])
def test_only_an_output_holding_the_facts_is_read(value: str) -> None:
    assert contract.decode_deployment_facts(value) is None


def test_the_output_round_trips_and_refuses_what_cloudformation_would() -> None:
    settings = Settings(classes=("person", "car"))
    facts = contract.deployment_facts(settings)
    encoded = contract.encode_deployment_facts(facts)
    assert contract.decode_deployment_facts(encoded) == facts
    assert facts["job_options"]["classes"] == ["person", "car"]
    oversized = {**facts, "job_options": {"classes": ["x" * contract.OUTPUT_VALUE_MAX_BYTES]}}
    with pytest.raises(ValueError, match="over the 4096-byte limit"):
        contract.encode_deployment_facts(oversized)
