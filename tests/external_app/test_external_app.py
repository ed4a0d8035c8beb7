"""An outside CDK app (``app.py`` here) composes ``MotflowPipeline`` from the installed wheel.

The wheel is built from the checkout and installed into a folder of its own; the app runs with
only that folder on ``PYTHONPATH`` (aws-cdk-lib and cdk-nag come from this interpreter's
site-packages), from an empty working folder, so nothing of the checkout can be imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stacks import contract
from stacks.model_artifact import NANODET_DIR
from stacks.settings import Settings

pytestmark = pytest.mark.slow

APP = Path(__file__).with_name("app.py")
STACK = "AcmeVideo"
ACCOUNT, REGION = "111111111111", "eu-central-1"
# What app.py gives the pipeline.
APP_SETTINGS = Settings(name_prefix="acme-mot", classes=("person", "car"))
# Run as `cdk synth` runs an app, then say where the motflow packages came from.
RUNNER = (
    "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__main__'); "
    "print(sys.modules['motflow'].__file__); print(sys.modules['stacks'].__file__)"
)


def _install(wheel: Path, site: Path) -> Path:
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True)
    return site


@pytest.fixture(scope="module")
def synthesized(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> dict[str, Any]:
    if not NANODET_DIR.is_dir():
        pytest.skip(f"NanoDet-g weights not fetched ({NANODET_DIR}); run `make setup`")
    work = tmp_path_factory.mktemp("external-app")
    site = _install(request.getfixturevalue("motflow_wheel"), work / "site")
    cwd, outdir = work / "app", work / "cdk.out"
    cwd.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(work),
        "PYTHONPATH": str(site),
        "CDK_OUTDIR": str(outdir),
        "CDK_DEFAULT_ACCOUNT": ACCOUNT,
        "CDK_DEFAULT_REGION": REGION,
        "CDK_CONTEXT_JSON": json.dumps({"acme:nanodet_dir": str(NANODET_DIR)}),
        **{k: v for k, v in os.environ.items() if k.startswith("JSII_")},
    }
    ran = subprocess.run(
        [sys.executable, "-c", RUNNER, str(APP)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr[-4000:]
    report = json.loads((outdir / "validation-report.json").read_text())
    return {
        "imported": ran.stdout.split(),
        "site": site,
        "template": json.loads((outdir / f"{STACK}.template.json").read_text()),
        "violations": [v for p in report["pluginReports"] for v in p.get("violations", [])],
    }


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def test_the_app_imports_motflow_from_the_installed_wheel_only(synthesized) -> None:
    motflow_file, stacks_file = (Path(p) for p in synthesized["imported"][-2:])
    site = synthesized["site"]
    assert motflow_file.is_relative_to(site) and stacks_file.is_relative_to(site)
    assert stacks_file.parent == site / "motflow" / "stacks"


def test_cdk_nag_finds_nothing_in_the_composed_stack(synthesized) -> None:
    assert synthesized["violations"] == []


def test_the_pipeline_brings_its_endpoint_table_trigger_and_operator_policy(synthesized) -> None:
    template = synthesized["template"]
    names = contract.resource_names(APP_SETTINGS.name_prefix, ACCOUNT, REGION)
    (config,) = _resources(template, "AWS::SageMaker::EndpointConfig").values()
    assert "AsyncInferenceConfig" in config["Properties"]
    (endpoint,) = _resources(template, "AWS::SageMaker::Endpoint").values()
    assert endpoint["Properties"]["EndpointName"] == names.endpoint_name
    (table,) = _resources(template, "AWS::DynamoDB::Table").values()
    assert table["Properties"]["TableName"] == names.jobs_table
    buckets = {
        r["Properties"]["BucketName"]: logical_id
        for logical_id, r in _resources(template, "AWS::S3::Bucket").items()
    }
    (trigger,) = _resources(template, "Custom::S3BucketNotifications").values()
    (rule,) = trigger["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    assert rule["Filter"]["Key"]["FilterRules"] == [
        {"Name": "prefix", "Value": APP_SETTINGS.input_prefix}
    ]
    # One stack: the trigger names the input bucket, so it must wait for the bucket.
    assert buckets[names.input_bucket] in trigger.get("DependsOn", [])
    policies = _resources(template, "AWS::IAM::ManagedPolicy")
    assert template["Outputs"][contract.OUTPUT_OPERATOR_POLICY]["Value"] == {
        "Ref": next(iter(policies))
    }


def test_the_outputs_are_the_ones_the_motflow_command_reads(synthesized) -> None:
    outputs = synthesized["template"]["Outputs"]
    names = contract.resource_names(APP_SETTINGS.name_prefix, ACCOUNT, REGION)
    assert outputs[contract.OUTPUT_INPUT_BUCKET]["Value"] == names.input_bucket
    assert outputs[contract.OUTPUT_JOBS_TABLE]["Export"]["Name"] == f"{STACK}-JobsTableName"
    facts = contract.decode_deployment_facts(outputs[contract.OUTPUT_JOB_DEFAULTS]["Value"])
    assert facts == contract.deployment_facts(APP_SETTINGS)
    assert outputs["AcmeEndpointName"]["Value"] == names.endpoint_name
