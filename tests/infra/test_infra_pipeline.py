"""What an app composing motflow relies on: the feature flags, and the deployment facts the
`motflow` command reads from the tracking stack's ``JobDefaults`` output."""

from __future__ import annotations

from typing import Any

import pytest

from stacks import context, contract
from stacks.settings import Settings
from tests.infra.deployment_constants import ALT_CONTEXT


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
    # The local stack's discovery file (local/stack.py) holds exactly these two facts.
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
