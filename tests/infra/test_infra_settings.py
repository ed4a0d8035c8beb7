"""Settings: defaults, context parsing, and errors that name the setting."""

from __future__ import annotations

import json
import re

import pytest

from stacks.settings import (
    MAX_INVOCATION_TIMEOUT_S,
    Settings,
    SettingsError,
)

BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def test_defaults_match_the_documented_deployment() -> None:
    settings = Settings.from_context({})
    assert settings.instance_type == "ml.g4dn.xlarge"
    assert settings.min_capacity == 0
    assert settings.max_capacity >= 1
    assert settings.detector == "yolov3-tiny"
    assert settings.input_prefix == "videos/"
    assert settings.video_suffixes == (".mp4", ".mov", ".avi", ".mkv", ".webm")
    assert settings.removal_policy == "retain"
    assert settings.alarm_email is None


def test_cli_strings_are_parsed_into_types() -> None:
    settings = Settings.from_context(
        {
            "max_capacity": "4",
            "annotate": "true",
            "classes": "person, car",
            "tracker": '{"track_buffer_s": 2.0}',
            "target_backlog_per_instance": "2.5",
            "alarm_email": "ops@example.com",
        }
    )
    assert settings.max_capacity == 4
    assert settings.annotate is True
    assert settings.classes == ("person", "car")
    assert settings.tracker == {"track_buffer_s": 2.0}
    assert settings.target_backlog_per_instance == 2.5
    assert settings.alarm_email == "ops@example.com"


@pytest.mark.parametrize(
    ("context", "setting"),
    [
        ({"instance_type": "g4dn.xlarge"}, "instance_type"),
        ({"instance_type": "ml.g4dn"}, "instance_type"),
        ({"min_capacity": 3, "max_capacity": 2}, "max_capacity"),
        ({"max_concurrent_invocations_per_instance": 0}, "max_concurrent_invocations_per_instance"),
        ({"detector": "yolov9"}, "detector"),
        ({"invocation_timeout_s": MAX_INVOCATION_TIMEOUT_S + 1}, "invocation_timeout_s"),
        ({"detector": "yolox-onnx"}, "weights"),
        ({"weights": "model.onnx"}, "weights"),
        ({"max_capacity": "lots"}, "max_capacity"),
        ({"annotate": "maybe"}, "annotate"),
        ({"name_prefix": "Motflow"}, "name_prefix"),
        ({"input_prefix": "videos"}, "input_prefix"),
        ({"video_suffixes": "mp4"}, "video_suffixes"),
        ({"log_retention_days": 10}, "log_retention_days"),
        ({"removal_policy": "snapshot"}, "removal_policy"),
        ({"alarm_email": "not-an-address"}, "alarm_email"),
        ({"request_ttl_s": 30}, "request_ttl_s"),
        ({"stride": 0}, "stride"),
    ],
)
def test_bad_values_fail_with_the_setting_named(context: dict, setting: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_context(context)
    assert caught.value.setting == setting
    assert f"'{setting}'" in str(caught.value)


def test_yolox_needs_an_existing_weights_file_of_the_right_kind(tmp_path) -> None:
    onnx = tmp_path / "yolox_s.onnx"
    with pytest.raises(SettingsError, match="file not found"):
        Settings.from_context({"detector": "yolox-onnx", "weights": str(onnx)})
    onnx.write_bytes(b"onnx")
    settings = Settings.from_context({"detector": "yolox-onnx", "weights": str(onnx)})
    assert settings.engine_config()["weights"] == "weights/yolox_s.onnx"
    with pytest.raises(SettingsError, match="torchscript"):
        Settings.from_context({"detector": "yolox-torchscript", "weights": str(onnx)})


def test_resource_names_follow_the_prefix_and_are_valid() -> None:
    first = Settings().resource_names("123456789012", "eu-west-1")
    second = Settings(name_prefix="motflow-b").resource_names("123456789012", "eu-west-1")
    for bucket in (first.input_bucket, first.work_bucket, first.log_bucket):
        assert BUCKET_NAME.match(bucket), bucket
        assert bucket.startswith("motflow-") and bucket.endswith("-123456789012-eu-west-1")
    first_values = set(vars(first).values())
    assert len(first_values) == len(vars(first))
    assert not first_values & set(vars(second).values())


def test_submit_environment_is_the_documented_contract() -> None:
    env = Settings(annotate=True, stride=3).submit_environment()
    assert set(env) == {
        "INPUT_PREFIX",
        "VIDEO_SUFFIXES",
        "MAX_VIDEO_BYTES",
        "INVOCATION_TIMEOUT_S",
        "REQUEST_TTL_S",
        "JOB_OPTIONS",
    }
    assert all(isinstance(value, str) for value in env.values())
    assert env["VIDEO_SUFFIXES"] == ".mp4,.mov,.avi,.mkv,.webm"
    assert int(env["INVOCATION_TIMEOUT_S"]) <= MAX_INVOCATION_TIMEOUT_S
    options = json.loads(env["JOB_OPTIONS"])
    assert options == {
        "detector": "yolov3-tiny",
        "stride": 3,
        "classes": ["person"],
        "annotate": True,
    }


def test_model_environment_keeps_every_timeout_at_the_invocation_timeout() -> None:
    env = Settings(invocation_timeout_s=1800, max_concurrent_invocations_per_instance=3)
    model_env = env.model_environment()
    assert model_env["SAGEMAKER_PROGRAM"] == "inference.py"
    for name in (
        "SAGEMAKER_MODEL_SERVER_TIMEOUT",
        "SAGEMAKER_TS_RESPONSE_TIMEOUT",
        "TS_DEFAULT_RESPONSE_TIMEOUT",
    ):
        assert model_env[name] == "1800", name
    for name in (
        "SAGEMAKER_MODEL_SERVER_WORKERS",
        "SAGEMAKER_TS_MIN_WORKERS",
        "SAGEMAKER_TS_MAX_WORKERS",
    ):
        assert model_env[name] == "3", name
    assert model_env["TS_MAX_REQUEST_SIZE"] == model_env["SAGEMAKER_TS_MAX_REQUEST_SIZE"]
    assert int(model_env["TS_MAX_REQUEST_SIZE"]) > 6_553_600


def test_engine_config_is_the_model_directory_contract() -> None:
    config = Settings(stride=2, classes=("person", "car")).engine_config()
    assert config == {
        "detector": "yolov3-tiny",
        "weights": "weights",
        "options": {"stride": 2, "classes": ["person", "car"], "annotate": False},
        "tracker": {},
    }


def test_every_setting_is_documented(repo_root) -> None:
    readme = (repo_root / "README.md").read_text()
    operations = (repo_root / "docs" / "OPERATIONS.md").read_text()
    for name in Settings.__dataclass_fields__:
        assert f"| `{name}` |" in readme, f"README configuration table lacks {name}"
        assert f"| `{name}` |" in operations, f"docs/OPERATIONS.md lacks {name}"
