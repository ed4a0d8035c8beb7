"""What `make deploy` runs, what the image build checks, and what synth refuses.

Nothing here calls docker, aws or a registry: the commands are built and inspected.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.deploy_cli import CDK, DeployError, build_plan
from stacks.sagemaker_platform import DLC_ACCOUNTS, base_image_uri, dlc_registry

DOCKERFILE = Path(__file__).resolve().parents[2] / "container" / "Dockerfile"


# --- 5. make deploy logs in to the region's DLC registry, then runs the pinned CLI -------------


@pytest.mark.parametrize(
    ("region", "registry"),
    [
        ("eu-west-1", "763104351884.dkr.ecr.eu-west-1.amazonaws.com"),
        ("af-south-1", "626614931356.dkr.ecr.af-south-1.amazonaws.com"),
        ("cn-north-1", "727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn"),
    ],
)
def test_deploy_logs_in_to_the_regions_registry_first(region: str, registry: str) -> None:
    plan = build_plan("deploy", ["-c", "max_capacity=4"], {"AWS_REGION": region})
    assert plan.login is not None
    password, login = plan.login
    assert password == ["aws", "ecr", "get-login-password", "--region", region]
    assert login == ["docker", "login", "--username", "AWS", "--password-stdin", registry]
    assert login[-1] == dlc_registry(region)  # the same map the image's FROM comes from
    assert base_image_uri(region, "ml.g4dn.xlarge").startswith(f"{registry}/")
    assert plan.cdk == [CDK, "deploy", "--all", "-c", f"region={region}", "-c", "max_capacity=4"]
    assert CDK.endswith("node_modules/.bin/cdk")  # the pinned CLI, not a global one


def test_the_region_comes_from_context_then_environment_then_profile() -> None:
    env = {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-2"}
    assert build_plan("diff", ["-c", "region=ap-south-2"], env).region == "ap-south-2"
    assert build_plan("diff", ["--context=region=me-central-1"], env).region == "me-central-1"
    assert build_plan("diff", [], env).region == "eu-west-1"
    assert build_plan("diff", [], {"AWS_DEFAULT_REGION": "us-east-2"}).region == "us-east-2"
    assert build_plan("diff", [], {}, lambda: "sa-east-1").region == "sa-east-1"
    with pytest.raises(DeployError, match="no AWS region"):
        build_plan("deploy", [], {})


def test_only_deploy_builds_the_image_and_needs_the_login() -> None:
    env = {"AWS_REGION": "eu-west-1"}
    assert build_plan("diff", [], env).login is None
    destroy = build_plan("destroy", ["--force"], env)
    assert destroy.login is None
    assert destroy.cdk == [CDK, "destroy", "--all", "-c", "region=eu-west-1", "--force"]


def test_an_unpublished_region_or_unknown_action_is_one_clear_line() -> None:
    with pytest.raises(DeployError, match="'mars-east-1' has no AWS Deep Learning Containers"):
        build_plan("deploy", [], {"AWS_REGION": "mars-east-1"})
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


# --- 7. the image: one OpenCV, x86 only, every region the base image is published in -----------


def _run_instruction(dockerfile: str) -> str:
    joined = re.sub(r"\\\n", " ", dockerfile)
    (run,) = [line for line in joined.splitlines() if line.startswith("RUN ")]
    return run


def test_the_gui_opencv_is_removed_before_the_headless_one_is_installed() -> None:
    run = _run_instruction(DOCKERFILE.read_text())
    uninstall = run.index("pip uninstall -y opencv-python")
    install = run.index("pip install --no-cache-dir -r /opt/motflow/requirements-model.txt")
    check = run.index("packages_distributions()['cv2']")
    assert uninstall < install < check


def test_the_build_time_opencv_check_passes_only_for_the_headless_build() -> None:
    run = _run_instruction(DOCKERFILE.read_text())
    code = re.search(r'python -c "(.*)"', run).group(1)
    ast.parse(code)
    # This environment has the image's packages with the headless build only, so it passes.
    probe = code
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "from opencv-python-headless" in done.stdout
    # Two distributions in one cv2/ folder must fail the build.
    mixed = probe.replace(
        "m.packages_distributions()['cv2']", "['opencv-python', 'opencv-python-headless']"
    )
    failed = subprocess.run([sys.executable, "-c", mixed], capture_output=True, text=True)
    assert failed.returncode != 0 and "cv2 comes from" in failed.stderr


def test_every_published_region_has_an_image_and_a_registry() -> None:
    # The Deep Learning Containers registry accounts, as published for pytorch-inference.
    assert len(DLC_ACCOUNTS) >= 38
    for region in DLC_ACCOUNTS:
        assert base_image_uri(region, "ml.c5.xlarge").startswith(f"{dlc_registry(region)}/")


def test_synth_for_a_region_without_the_image_fails_naming_it(tmp_path: Path) -> None:
    from stacks.application import build_stacks, create_app

    # An AWS region (ISO-B partition) where the public DLC registry publishes nothing.
    app = create_app(outdir=str(tmp_path / "out"), context={"region": "us-isob-east-1"})
    with pytest.raises(SystemExit) as caught:
        build_stacks(app, build_dir=tmp_path / "build")
    message = str(caught.value)
    assert message.startswith("motflow: region 'us-isob-east-1' has no AWS Deep Learning")
    assert "\n" not in message


def test_a_digest_pins_the_base_image() -> None:
    digest = "sha256:" + "0f" * 32
    uri = base_image_uri("eu-west-1", "ml.g4dn.xlarge", digest)
    assert uri == f"763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-inference@{digest}"


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
