"""The optional training stack (context training=true) and weights=s3://… model artifacts."""

from __future__ import annotations

import json

import pytest

from stacks import aws_rules
from stacks.settings import Settings, SettingsError
from tests.infra.deployment_constants import ACCOUNT, REGION

ARTIFACT = "s3://train-bucket/runs/motflow-train-1/output/model.tar.gz"


def test_weights_may_name_a_trained_model_artifact_in_s3():
    settings = Settings.from_context({"detector": "nanodet-g", "weights": ARTIFACT})
    assert settings.model_artifact_s3 == (
        "train-bucket",
        "runs/motflow-train-1/output/model.tar.gz",
    )
    with pytest.raises(SettingsError, match="must be s3://<bucket>/<key>.tar.gz"):
        Settings.from_context({"weights": "s3://train-bucket/runs/model.pt"})
    assert Settings.from_context({}).model_artifact_s3 is None
    assert Settings.from_context({"training": "true"}).training is True


@pytest.fixture(scope="module")
def training_outdir(tmp_path_factory):
    return tmp_path_factory.mktemp("cdk.out.training")


@pytest.fixture(scope="module")
def training_app(training_outdir, tmp_path_factory, cdk_context):
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    from stacks.application import build_stacks

    outdir = training_outdir
    context = {
        **cdk_context,
        "motflow:training": "true",
        "motflow:detector": "nanodet-g",
        "motflow:weights": ARTIFACT,
    }
    app = cdk.App(outdir=str(outdir), context=context)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    build_stacks(
        app,
        environment=cdk.Environment(account=ACCOUNT, region=REGION),
        build_dir=tmp_path_factory.mktemp("build"),
    )
    app.synth()  # raises on any unacknowledged cdk-nag finding
    return {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in outdir.glob("*.template.json")
    }


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _resources(template, kind):
    return [r for r in template["Resources"].values() if r["Type"] == kind]


@pytest.mark.slow
def test_training_stack_role_is_scoped_to_its_bucket_prefixes(training_app):
    template = training_app["MotflowTraining"]
    role = _resources(template, "AWS::IAM::Role")[0]
    principal = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
    assert principal == {"Service": "sagemaker.amazonaws.com"}
    statements = {
        s["Sid"]: s
        for p in _resources(template, "AWS::IAM::Policy")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    }
    assert statements["WriteRuns"]["Action"] == "s3:PutObject"
    assert "runs/*" in json.dumps(statements["WriteRuns"]["Resource"])
    assert "labels/*" not in json.dumps(statements["WriteRuns"]["Resource"])
    assert statements["TrainingMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}
    }
    assert not any("s3:*" in json.dumps(s["Action"]) for s in statements.values())
    granted = {a for s in statements.values() for a in _as_list(s["Action"])}
    missing = aws_rules.TRAINING_ROLE_ACTIONS - granted
    assert not missing, f"the documented CreateTrainingJob role policy also grants {missing}"
    assert {"TrainingDataUri", "TrainingOutputUri", "TrainingRoleArn"} <= set(template["Outputs"])


@pytest.mark.slow
def test_tracking_stack_serves_the_trained_artifact_as_it_is(training_app):
    template = training_app["MotflowTracking"]
    model = _resources(template, "AWS::SageMaker::Model")[0]
    container = model["Properties"]["PrimaryContainer"]
    assert container["ModelDataUrl"] == ARTIFACT
    policies = json.dumps(_resources(template, "AWS::IAM::Policy"))
    assert "train-bucket/runs/motflow-train-1/output/model.tar.gz" in policies


@pytest.mark.slow
def test_training_runs_our_image_and_pulls_only_from_its_asset_repository(
    training_app, training_outdir
):
    manifest = json.loads((training_outdir / "MotflowTraining.assets.json").read_text())
    (image,) = manifest["dockerImages"].values()
    assert image["source"]["dockerFile"] == "container/Dockerfile"
    assert image["source"]["dockerBuildArgs"]["TORCH_BUILD"] == "cuda"  # runs on CPU types too
    template = training_app["MotflowTraining"]
    assert "TrainingImageUri" in template["Outputs"]
    statements = {
        s["Sid"]: s
        for p in _resources(template, "AWS::IAM::Policy")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    }
    pull = json.dumps(statements["PullTrainingImage"]["Resource"])
    assert "container-assets" in pull  # the CDK bootstrap's image repository, by name
    assert "763104351884" not in json.dumps(template)  # no Deep Learning Containers account
