"""What `make deploy` runs and what synth refuses (the image itself: test_infra_image.py).

Nothing here calls docker, aws or a registry: the commands are built and inspected.
"""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path

import pytest

from stacks import contract, instance_type_change
from stacks.deploy_cli import CDK, DeployError, build_plan, require_aws_cli

# --- 5. make deploy runs the pinned CLI for one region; no registry login ----------------------


@pytest.mark.parametrize("region", ["eu-west-1", "af-south-1", "cn-north-1", "us-isob-east-1"])
def test_deploy_runs_the_pinned_cli_for_the_region(region: str) -> None:
    plan = build_plan("deploy", ["-c", "motflow:max_capacity=4"], {"AWS_REGION": region})
    assert plan.cdk == [
        CDK,
        "deploy",
        "--all",
        "-c",
        f"motflow:region={region}",
        "-c",
        "motflow:max_capacity=4",
    ]
    assert CDK.endswith("node_modules/.bin/cdk")  # the pinned CLI, not a global one
    # The base comes from ECR Public and the CDK CLI logs in to its own asset repository.
    assert not hasattr(plan, "login")


def test_the_region_comes_from_context_then_environment_then_profile() -> None:
    env = {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-2"}
    assert build_plan("diff", ["-c", "region=ap-south-2"], env).region == "ap-south-2"
    assert build_plan("diff", ["--context=region=me-central-1"], env).region == "me-central-1"
    # The prefixed key wins over the old unprefixed one, wherever it is.
    both = ["-c", "motflow:region=eu-north-1", "-c", "region=ap-south-2"]
    assert build_plan("diff", both, env).region == "eu-north-1"
    assert build_plan("diff", [], env).region == "eu-west-1"
    assert build_plan("diff", [], {"AWS_DEFAULT_REGION": "us-east-2"}).region == "us-east-2"
    assert build_plan("diff", [], {}, lambda: "sa-east-1").region == "sa-east-1"
    with pytest.raises(DeployError, match="no AWS region"):
        build_plan("deploy", [], {})


def test_destroy_passes_its_arguments_on() -> None:
    destroy = build_plan("destroy", ["--force"], {"AWS_REGION": "eu-west-1"})
    assert destroy.cdk == [CDK, "destroy", "--all", "-c", "motflow:region=eu-west-1", "--force"]


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


# --- an instance-type change of an autoscaled variant is refused at synth, with the steps -----

DEPLOYED = {
    instance_type_change.DEPLOYED_INSTANCE_TYPE: "ml.g4dn.xlarge",
    instance_type_change.DEPLOYED_VARIANT: "variant-abc123",
}


def test_deploy_and_diff_pass_the_deployed_autoscaled_variant_to_the_app() -> None:
    asked: list[tuple[str, str]] = []

    def deployed(stack: str, region: str) -> dict[str, str]:
        asked.append((stack, region))
        return DEPLOYED

    env = {"AWS_REGION": "eu-west-1"}
    plan = build_plan("deploy", ["-c", "name_prefix=cam-a"], env, deployed=deployed)
    assert asked == [("CamATracking", "eu-west-1")]
    assert plan.cdk[5:9] == [
        "-c",
        "motflow:deployed_instance_type=ml.g4dn.xlarge",
        "-c",
        "motflow:deployed_variant=variant-abc123",
    ]
    assert build_plan("diff", [], env, deployed=deployed).cdk[5] == "-c"
    assert asked[-1] == ("MotflowTracking", "eu-west-1")
    assert "deployed_variant" not in " ".join(build_plan("destroy", [], env, deployed=deployed).cdk)


def test_the_app_refuses_a_new_instance_type_while_the_old_variant_autoscales(
    tmp_path: Path, cdk_context
) -> None:
    import aws_cdk as cdk

    from stacks.application import build_stacks, create_app

    context = {**cdk_context, **DEPLOYED, "motflow:instance_type": "ml.g5.xlarge"}
    app = create_app(outdir=str(tmp_path / "out"), context=context)
    environment = cdk.Environment(account="123456789012", region="eu-west-1")
    with pytest.raises(SystemExit) as refused:
        build_stacks(app, environment=environment, build_dir=tmp_path / "build")
    message = str(refused.value)
    assert "from ml.g4dn.xlarge to ml.g5.xlarge" in message
    assert (
        "aws application-autoscaling deregister-scalable-target --service-namespace sagemaker "
        "--scalable-dimension sagemaker:variant:DesiredInstanceCount --resource-id "
        "endpoint/motflow-tracking/variant/variant-abc123"
    ) in message
    assert "make deploy CDK_ARGS='-c motflow:instance_type=ml.g5.xlarge'" in message


def test_the_same_type_or_a_deregistered_variant_deploys() -> None:
    def check(requested: str, context: dict[str, str]) -> str | None:
        return instance_type_change.refusal(
            requested, context, endpoint_name="motflow-tracking", region=None
        )

    assert check("ml.g4dn.xlarge", DEPLOYED) is None  # unchanged
    assert check("ml.g5.xlarge", {}) is None  # first deploy, or the target was deregistered
    assert check("ml.g5.xlarge", DEPLOYED) is not None


def test_without_the_aws_cli_deploy_is_one_line() -> None:
    with pytest.raises(DeployError, match="AWS CLI") as missing:
        require_aws_cli(lambda name: None)
    assert "\n" not in str(missing.value)
    require_aws_cli(lambda name: f"/usr/bin/{name}")


def test_the_tracking_stack_outputs_what_make_deploy_reads(synthesized) -> None:
    outputs = synthesized.templates["MotflowTracking"]["Outputs"]
    assert outputs[contract.OUTPUT_INSTANCE_TYPE]["Value"] == "ml.g4dn.xlarge"
    assert outputs[contract.OUTPUT_VARIANT]["Value"].startswith("variant-")
    assert contract.stack_name("motflow", "Tracking") in synthesized.templates


def test_context_keys_are_prefixed_and_old_ones_still_read_with_a_warning() -> None:
    """Issue 23: `motflow:<setting>` keys; an old unprefixed key still works, and is warned of."""
    import aws_cdk as cdk

    from stacks import context
    from stacks.application import settings_from_app
    from stacks.settings import Settings

    prefixed = settings_from_app(
        cdk.App(context={"motflow:max_capacity": "5", "max_capacity": "3"})
    )
    assert prefixed.max_capacity == 5
    assert Settings.from_context({"motflow:min_capacity": 1}).min_capacity == 1
    cdk_json = Path(__file__).resolve().parents[2] / "cdk.json"
    defaults = json.loads(cdk_json.read_text())["context"]
    assert "motflow:instance_type" in defaults and "instance_type" not in defaults

    app = cdk.App(context={"max_capacity": "3"})
    assert settings_from_app(app).max_capacity == 3
    warnings = [str(m.data) for m in app.node.metadata if m.type == "aws:cdk:warning"]
    assert any(context.legacy_warning(["max_capacity"]) in warning for warning in warnings)
    assert "max_capacity (now motflow:max_capacity)" in context.legacy_warning(["max_capacity"])
