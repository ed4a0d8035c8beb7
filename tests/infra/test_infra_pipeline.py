"""What an app composing motflow relies on: the feature flags, and the deployment facts the
`motflow` command reads from the tracking stack's ``JobDefaults`` output."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks import context, contract
from stacks.settings import Settings
from tests.infra.deployment_constants import ACCOUNT, ALT_CONTEXT, REGION


def _settings(cdk_context: dict[str, Any], extra: dict[str, Any]) -> Settings:
    merged = {**cdk_context, **{context.key(k): v for k, v in extra.items()}}
    return Settings.from_context(context.read(merged.get, Settings.__dataclass_fields__)[0])


@pytest.mark.parametrize("extra", [{}, ALT_CONTEXT], ids=["default", "alternate"])
def test_the_job_defaults_output_holds_what_the_local_stack_publishes(
    synthesized, cdk_context: dict[str, Any], extra: dict[str, Any]
) -> None:
    settings = _settings(cdk_context, extra)
    stack = contract.tracking_stack_name(settings.name_prefix)
    output = synthesized.templates[stack]["Outputs"][contract.OUTPUT_JOB_DEFAULTS]
    facts = contract.decode_deployment_facts(output["Value"])
    # The local stack's discovery file (local/stack.py, `contract.deployment_facts`) holds these.
    assert facts == {
        "job_options": dict(contract.job_defaults(settings).job_options),
        "trained_classes": settings.trained_classes,
    }
    assert facts["job_options"]["detector"] == settings.detector
    assert output["Export"]["Name"] == f"{stack}-{contract.OUTPUT_JOB_DEFAULTS}"


def test_cdk_json_sets_the_feature_flags_the_construct_documents(
    cdk_context: dict[str, Any],
) -> None:
    from stacks.pipeline import FEATURE_FLAGS

    flags = {name: value for name, value in cdk_context.items() if name.startswith("@aws-cdk/")}
    assert flags == dict(FEATURE_FLAGS)


def test_apply_feature_flags_fills_in_and_reports_what_the_app_overrides() -> None:
    import aws_cdk as cdk

    from stacks.pipeline import FEATURE_FLAGS, apply_feature_flags

    overridden = "@aws-cdk/aws-iam:minimizePolicies"
    app = cdk.App(context={overridden: False})
    assert apply_feature_flags(app) == [overridden]
    assert app.node.try_get_context(overridden) is False
    for name, value in FEATURE_FLAGS.items():
        if name != overridden:
            assert app.node.try_get_context(name) == value, name


# --- an existing input bucket ------------------------------------------------------------------
EXISTING = "acme-existing-videos"


@pytest.fixture(scope="module")
def existing_bucket_template(tmp_path_factory, cdk_context: dict[str, Any]) -> dict[str, Any]:
    import aws_cdk as cdk

    from stacks.application import create_app
    from stacks.pipeline import MotflowPipeline

    outdir = tmp_path_factory.mktemp("existing-bucket")
    flags = {k: v for k, v in cdk_context.items() if not k.startswith(context.PREFIX)}
    app = create_app(outdir=str(outdir / "cdk.out"), context=flags)
    stack = cdk.Stack(app, "Composed", env=cdk.Environment(account=ACCOUNT, region=REGION))
    MotflowPipeline(
        stack,
        "Pipeline",
        settings=Settings(name_prefix="byob"),
        build_dir=outdir / "build",
        input_bucket_name=EXISTING,
    )
    app.synth()  # cdk-nag on: a finding raises
    return json.loads((outdir / "cdk.out" / "Composed.template.json").read_text())


def test_an_existing_bucket_is_used_not_created(existing_bucket_template) -> None:
    template = existing_bucket_template
    names = contract.resource_names("byob", ACCOUNT, REGION)
    created = {
        r["Properties"]["BucketName"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::S3::Bucket"
    }
    assert created == {names.work_bucket, names.log_bucket}
    (trigger,) = [
        r for r in template["Resources"].values() if r["Type"] == "Custom::S3BucketNotifications"
    ]
    # Not managed: the provider merges its rule with the bucket's other notifications.
    assert trigger["Properties"]["BucketName"] == EXISTING
    assert trigger["Properties"]["Managed"] is False
    assert template["Outputs"][contract.OUTPUT_INPUT_BUCKET]["Value"] == EXISTING


def test_the_roles_that_read_uploads_are_granted_the_existing_bucket(
    existing_bucket_template,
) -> None:
    granted = [
        logical_id
        for logical_id, r in existing_bucket_template["Resources"].items()
        if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        and f":s3:::{EXISTING}/videos/*" in json.dumps(r["Properties"])
    ]
    # submit, the endpoint and the operators' managed policy
    assert len(granted) == 3, granted


@pytest.mark.parametrize(
    ("given", "expected"),
    [({}, None), ({"motflow:input_bucket_name": "acme.videos-1"}, "acme.videos-1")],
)
def test_the_app_reads_the_existing_bucket_from_context(
    given: dict[str, Any], expected: str | None
) -> None:
    from stacks.application import existing_input_bucket

    assert existing_input_bucket(given.get) == expected


@pytest.mark.parametrize("name", ["Acme_Videos", "ab", "10.0.0.1", "a..b", "-acme"])
def test_a_name_s3_would_refuse_stops_the_app(name: str) -> None:
    from stacks.application import existing_input_bucket

    with pytest.raises(SystemExit, match="motflow:input_bucket_name"):
        existing_input_bucket({"motflow:input_bucket_name": name}.get)
