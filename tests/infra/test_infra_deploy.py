"""What `make deploy` runs and what synth refuses (the image itself: test_infra_image.py).

Nothing here calls docker, aws or a registry: the commands are built and inspected.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

from stacks.deploy_cli import CDK, DeployError, build_plan

# --- 5. make deploy runs the pinned CLI for one region; no registry login ----------------------


@pytest.mark.parametrize("region", ["eu-west-1", "af-south-1", "cn-north-1", "us-isob-east-1"])
def test_deploy_runs_the_pinned_cli_for_the_region(region: str) -> None:
    plan = build_plan("deploy", ["-c", "max_capacity=4"], {"AWS_REGION": region})
    assert plan.cdk == [CDK, "deploy", "--all", "-c", f"region={region}", "-c", "max_capacity=4"]
    assert CDK.endswith("node_modules/.bin/cdk")  # the pinned CLI, not a global one
    # The base comes from ECR Public and the CDK CLI logs in to its own asset repository.
    assert not hasattr(plan, "login")


def test_the_region_comes_from_context_then_environment_then_profile() -> None:
    env = {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-2"}
    assert build_plan("diff", ["-c", "region=ap-south-2"], env).region == "ap-south-2"
    assert build_plan("diff", ["--context=region=me-central-1"], env).region == "me-central-1"
    assert build_plan("diff", [], env).region == "eu-west-1"
    assert build_plan("diff", [], {"AWS_DEFAULT_REGION": "us-east-2"}).region == "us-east-2"
    assert build_plan("diff", [], {}, lambda: "sa-east-1").region == "sa-east-1"
    with pytest.raises(DeployError, match="no AWS region"):
        build_plan("deploy", [], {})


def test_destroy_passes_its_arguments_on() -> None:
    destroy = build_plan("destroy", ["--force"], {"AWS_REGION": "eu-west-1"})
    assert destroy.cdk == [CDK, "destroy", "--all", "-c", "region=eu-west-1", "--force"]


def test_an_unknown_action_is_one_clear_line() -> None:
    with pytest.raises(DeployError, match="unknown action 'synthesize'"):
        build_plan("synthesize", [], {"AWS_REGION": "eu-west-1"})


@pytest.mark.parametrize("action", ["deploy", "diff", "destroy"])
def test_the_make_targets_run_the_tested_command(repo_root: Path, action: str) -> None:
    done = subprocess.run(
        ["make", "-n", action, "CDK_ARGS=-c max_capacity=3"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"-m stacks.deploy_cli {action} -c max_capacity=3" in done.stdout


# --- 10. cdk-nag runs at synth, so cdk deploy refuses an unacknowledged finding ---------------


def test_the_cdk_app_refuses_an_unacknowledged_nag_finding(tmp_path: Path, cdk_context) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_sqs as sqs

    from stacks.application import build_stacks, create_app

    app = create_app(outdir=str(tmp_path / "out"), context=cdk_context)
    _, tracking = build_stacks(
        app,
        environment=cdk.Environment(account="123456789012", region="eu-west-1"),
        build_dir=tmp_path / "build",
    )
    sqs.Queue(tracking, "UnencryptedQueue")  # no DLQ, no TLS policy: AwsSolutions-SQS3/SQS4
    with pytest.raises(Exception, match="(?i)validation"):
        app.synth()
    report = (tmp_path / "out" / "validation-report.json").read_text()
    assert "AwsSolutions-SQS" in report


def test_app_py_builds_its_app_with_the_nag_checks(repo_root: Path) -> None:
    tree = ast.parse((repo_root / "app.py").read_text())
    calls = [
        node.value.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
    ]
    assert calls == ["create_app"], "app.py must create its App through create_app()"
