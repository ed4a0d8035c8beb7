"""The deployment contract: names, layout and the environments handed to the runtimes.

The Lambdas never import ``stacks/``; here the environment the stack builds is fed to the
Lambdas' own parser, so a variable added on one side only, or a value the other side reads
differently, fails a test.
"""

from __future__ import annotations

import json
import re

import pytest

from lambdas import config, jobs
from stacks import contract
from stacks.settings import MAX_INVOCATION_TIMEOUT_S, Settings

BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def built_submit_environment(settings: Settings) -> dict[str, str]:
    return contract.submit_environment(
        jobs_table="motflow-jobs",
        notify_topic_arn="arn:aws:sns:eu-west-1:123456789012:motflow-notifications",
        work_bucket="motflow-work-123456789012-eu-west-1",
        endpoint_name="motflow-tracking",
        defaults=contract.job_defaults(settings),
    )


@pytest.mark.parametrize(
    ("settings", "trained"),
    [
        (Settings(), False),
        (Settings(detector="yolov3-tiny"), False),
        (Settings(weights="s3://models-bucket/runs/job-1/output/model.tar.gz"), True),
    ],
)
def test_submit_knows_whether_the_deployed_classes_are_the_detectors_own(
    settings: Settings, trained: bool
) -> None:
    """Issue 21: classes are checked at submit against the deployed detector's list, except
    for trained weights, whose names only the engine knows."""
    env = built_submit_environment(settings)
    assert env["DETECTOR_CLASSES"] == ("trained" if trained else "builtin")
    assert config.SubmitSettings.from_env(env).trained_classes is trained
    assert json.loads(env["JOB_OPTIONS"])["detector"] == settings.detector


@pytest.mark.parametrize(
    "settings",
    [
        Settings(),
        Settings(
            input_prefix="uploads/in/",
            video_suffixes=(".mp4",),
            max_video_bytes=123,
            invocation_timeout_s=1800,
            request_ttl_s=600,
            stride=3,
            annotate=True,
            job_retention_days=14,
        ),
    ],
)
def test_the_lambdas_read_back_every_value_the_stack_sets(settings: Settings) -> None:
    env = built_submit_environment(settings)
    parsed = config.SubmitSettings.from_env(env)
    assert parsed.jobs_table == env["JOBS_TABLE"]
    assert parsed.notify_topic_arn == env["NOTIFY_TOPIC_ARN"]
    assert parsed.work_bucket == env["WORK_BUCKET"]
    assert parsed.endpoint_name == env["ENDPOINT_NAME"]
    assert parsed.input_prefix == settings.input_prefix
    assert parsed.video_suffixes == settings.video_suffixes
    assert parsed.max_video_bytes == settings.max_video_bytes
    assert parsed.invocation_timeout_s == settings.invocation_timeout_s
    assert parsed.request_ttl_s == settings.request_ttl_s
    assert parsed.job_options == contract.job_defaults(settings).job_options
    assert parsed.job_retention_days == (settings.job_retention_days or 0)
    assert parsed.manifest_key("j") == contract.manifest_key("j")
    assert parsed.results_uri("j") == f"s3://{env['WORK_BUCKET']}/{contract.results_prefix('j')}"
    notify = config.NotifySettings.from_env(
        contract.complete_environment(jobs_table="t", notify_topic_arn="arn:t")
    )
    assert (notify.jobs_table, notify.notify_topic_arn) == ("t", "arn:t")


def test_the_default_size_limit_is_the_stacks_not_a_lambda_default() -> None:
    parsed = config.SubmitSettings.from_env(built_submit_environment(Settings()))
    assert parsed.max_video_bytes == Settings().max_video_bytes == 10 * 1024**3


@pytest.mark.parametrize("name", sorted(built_submit_environment(Settings())))
def test_every_submit_variable_is_required(name: str) -> None:
    env = built_submit_environment(Settings())
    del env[name]
    with pytest.raises(config.ConfigError, match=f"{name} is required"):
        config.SubmitSettings.from_env(env)


@pytest.mark.parametrize("name", ["JOBS_TABLE", "NOTIFY_TOPIC_ARN"])
def test_every_complete_variable_is_required(name: str) -> None:
    env = contract.complete_environment(jobs_table="t", notify_topic_arn="arn:t")
    del env[name]
    with pytest.raises(config.ConfigError, match=f"{name} is required"):
        config.NotifySettings.from_env(env)


def test_the_table_names_the_lambdas_use_are_the_contracts() -> None:
    assert jobs.TABLE_KEY == contract.TABLE_KEY
    assert jobs.STATUS_INDEX == contract.STATUS_INDEX
    assert jobs.TTL_ATTRIBUTE == contract.TTL_ATTRIBUTE


def test_outputs_never_land_under_the_input_prefix() -> None:
    for prefix in contract.WORK_PREFIXES:
        assert prefix.endswith("/") and not prefix.startswith(Settings().input_prefix)
    assert len(set(contract.WORK_PREFIXES)) == len(contract.WORK_PREFIXES)


def test_resource_names_follow_the_prefix_and_are_valid() -> None:
    first = contract.resource_names("motflow", "123456789012", "eu-west-1")
    second = contract.resource_names("motflow-b", "123456789012", "eu-west-1")
    for bucket in (first.input_bucket, first.work_bucket, first.log_bucket):
        assert BUCKET_NAME.match(bucket), bucket
        assert bucket.startswith("motflow-") and bucket.endswith("-123456789012-eu-west-1")
    longest = contract.resource_names("a" * 20, "123456789012", "ap-southeast-7")
    assert all(BUCKET_NAME.match(b) for b in (longest.input_bucket, longest.log_bucket))
    # Only the dashboard shares a name (the endpoint's): they are different kinds of resource.
    assert len(set(vars(first).values())) == len(vars(first)) - 1
    assert not set(vars(first).values()) & set(vars(second).values())
    assert first.endpoint_log_group == "/aws/sagemaker/Endpoints/motflow-tracking"


def test_submit_options_are_the_documented_defaults() -> None:
    env = built_submit_environment(Settings(annotate=True, stride=3))
    assert env["VIDEO_SUFFIXES"] == ".mp4,.mov,.avi,.mkv,.webm"
    assert int(env["INVOCATION_TIMEOUT_S"]) <= MAX_INVOCATION_TIMEOUT_S
    assert json.loads(env["JOB_OPTIONS"]) == {
        "detector": Settings().detector,
        "stride": 3,
        "classes": ["person"],
        "annotate": True,
        "preview": True,
    }


def test_model_environment_is_what_the_model_server_reads() -> None:
    from model_code.serving.settings import ServerSettings

    settings = Settings(invocation_timeout_s=1800, max_concurrent_invocations_per_instance=3)
    server = ServerSettings.from_environ(contract.deployment_model_environment(settings))
    assert server.workers == settings.max_concurrent_invocations_per_instance
    assert server.invocation_timeout_s == settings.invocation_timeout_s
    # The server gives up only after SageMaker has (pitfall 4).
    assert server.worker_timeout_s > settings.invocation_timeout_s
    assert server.max_request_bytes >= 1024**3  # async inputs may be up to 1 GB
    assert (server.model_dir.as_posix(), server.port) == ("/opt/ml/model", 8080)


def test_model_environment_takes_engine_extras_but_not_overrides() -> None:
    env = contract.model_environment(
        invocation_timeout_s=60, workers=1, extra={"MOTFLOW_INSTANCE_TYPE": "ml.g4dn.xlarge"}
    )
    assert env["MOTFLOW_INSTANCE_TYPE"] == "ml.g4dn.xlarge"
    with pytest.raises(ValueError, match="MOTFLOW_SERVER_WORKERS"):
        contract.model_environment(
            invocation_timeout_s=60, workers=1, extra={"MOTFLOW_SERVER_WORKERS": "9"}
        )
