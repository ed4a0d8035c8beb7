"""Builds the motflow stacks into a CDK app; shared by ``app.py`` and the infrastructure tests."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aws_cdk import Annotations, App, Environment, Tags, Validations
from cdk_nag import AwsSolutionsChecks

from stacks import context, contract, instance_type_change
from stacks.data_stack import DataStack
from stacks.settings import Settings, SettingsError
from stacks.tracking_stack import DEFAULT_BUILD_DIR, TrackingStack
from stacks.training_stack import TrainingStack

FALLBACK_REGION = "us-east-1"
# Context (not a setting: the local stack always creates its own buckets): process uploads to
# an existing bucket of the user's instead of creating the input bucket.
INPUT_BUCKET_NAME = "input_bucket_name"


def create_app(**kwargs: Any) -> App:
    """A CDK app with cdk-nag's AWS Solutions checks run at synth.

    Any unacknowledged finding makes ``app.synth()`` fail, so ``cdk synth``, ``cdk diff`` and
    ``cdk deploy`` all refuse the app, not only the test suite.
    """
    app = App(**kwargs)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def settings_from_app(app: App) -> Settings:
    """Settings from the app's context (cdk.json plus ``-c motflow:key=value``); an old
    unprefixed key is still read, with a warning on the app (stacks/context.py)."""
    values, legacy = context.read(app.node.try_get_context, Settings.__dataclass_fields__)
    if legacy:
        Annotations.of(app).add_warning_v2(
            "motflow:legacy-context-keys", context.legacy_warning(legacy)
        )
    return Settings.from_context(values)


def deployment_environment(settings: Settings) -> Environment:
    """The target account and region: the CLI's (``CDK_DEFAULT_*``) unless context sets a region.

    Context comes first, so that ``make deploy`` (which passes ``-c motflow:region=...``) and the
    app agree on the region.
    """
    region = settings.region or os.environ.get("CDK_DEFAULT_REGION") or FALLBACK_REGION
    return Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=region)


def build_stacks(
    app: App,
    settings: Settings | None = None,
    *,
    environment: Environment | None = None,
    build_dir: Path = DEFAULT_BUILD_DIR,
) -> tuple[DataStack, TrackingStack]:
    try:
        settings = settings or settings_from_app(app)
    except SettingsError as exc:
        raise SystemExit(f"motflow: {exc}") from None
    env = environment or deployment_environment(settings)
    prefix = settings.name_prefix
    refused = instance_type_change.refusal(
        settings.instance_type,
        context.read(
            app.node.try_get_context,
            (instance_type_change.DEPLOYED_INSTANCE_TYPE, instance_type_change.DEPLOYED_VARIANT),
        )[0],
        endpoint_name=contract.resource_names(prefix, "", "").endpoint_name,
        region=settings.region,
    )
    if refused:
        raise SystemExit(f"motflow: {refused}")
    input_bucket_name = existing_input_bucket(app.node.try_get_context)
    data = DataStack(
        app,
        f"{_stack_name(prefix)}Data",
        settings=settings,
        input_bucket_name=input_bucket_name,
        env=env,
        description=f"{prefix}: videos, results, jobs table and key (stateful, retained)",
    )
    tracking = TrackingStack(
        app,
        f"{_stack_name(prefix)}Tracking",
        settings=settings,
        data=data,
        build_dir=build_dir,
        env=env,
        description=f"{prefix}: async tracking endpoint, Lambdas, topics, monitoring",
    )
    tracking.add_stack_dependency(data)
    if settings.training:
        TrainingStack(
            app,
            f"{_stack_name(prefix)}Training",
            settings=settings,
            build_dir=build_dir,
            env=env,
            description=f"{prefix}: training image, data bucket and training job role",
        )
    Tags.of(app).add("project", prefix)
    return data, tracking


def existing_input_bucket(get: Callable[[str], Any]) -> str | None:
    """The existing bucket ``-c motflow:input_bucket_name=...`` names, checked as S3 names are."""
    name = context.read(get, (INPUT_BUCKET_NAME,))[0][INPUT_BUCKET_NAME]
    if name is None or name == "":
        return None
    try:
        return contract.checked_bucket_name(str(name))
    except ValueError as error:
        raise SystemExit(f"motflow: {context.key(INPUT_BUCKET_NAME)}: {error}") from None


def _stack_name(prefix: str) -> str:
    return contract.stack_name(prefix, "")
