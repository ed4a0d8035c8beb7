"""Settings: defaults, context parsing, and errors that name the setting."""

from __future__ import annotations

import pytest

from stacks.aws_rules import LAMBDA_MIN_UNRESERVED_CONCURRENCY
from stacks.settings import (
    MAX_INVOCATION_TIMEOUT_S,
    Settings,
    SettingsError,
    reserved_concurrency_problem,
)


def test_defaults_match_the_documented_deployment() -> None:
    settings = Settings.from_context({})
    assert settings.instance_type == "ml.g4dn.xlarge"
    assert settings.min_capacity == 0
    assert settings.max_capacity >= 1
    assert settings.detector == "nanodet-g"
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


def test_every_invalid_setting_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_context(
            {"max_capacity": "lots", "stride": 0, "alarm_email": "nope", "detector": "yolov9"}
        )
    named = {setting for setting, _ in caught.value.problems}
    assert named == {"max_capacity", "stride", "alarm_email", "detector"}
    message = str(caught.value)
    assert message.startswith("4 invalid settings: ") and "\n" not in message
    for setting in named:
        assert f"setting '{setting}'" in message


@pytest.mark.parametrize(
    ("reserved", "limit", "allowed"),
    [
        (None, 10, True),  # unset: nothing reserved, works on every account
        (5, 1000, True),
        (900, 1000, True),
        (901, 1000, False),  # would leave 99 unreserved
        (5, 50, False),  # new accounts: nothing can be reserved
        (1, 100, False),
        (0, 1000, False),
    ],
)
def test_reserved_concurrency_follows_lambdas_unreserved_minimum(
    reserved: int | None, limit: int, allowed: bool
) -> None:
    assert LAMBDA_MIN_UNRESERVED_CONCURRENCY == 100
    problem = reserved_concurrency_problem(reserved, limit)
    assert (problem is None) == allowed
    context = {"submit_reserved_concurrency": reserved, "account_concurrency_limit": limit}
    if allowed:
        Settings.from_context(context)
    else:
        with pytest.raises(SettingsError, match="submit_reserved_concurrency"):
            Settings.from_context(context)


def test_reserved_concurrency_is_unset_by_default() -> None:
    assert Settings().submit_reserved_concurrency is None


@pytest.mark.parametrize(
    "instance_type", ["ml.c7g.xlarge", "ml.m6g.large", "ml.c6gn.2xlarge", "ml.g5g.xlarge"]
)
def test_graviton_instance_types_are_refused_by_name(instance_type: str) -> None:
    with pytest.raises(SettingsError, match="Graviton") as caught:
        Settings(instance_type=instance_type)
    assert caught.value.setting == "instance_type"
    assert instance_type in str(caught.value)


def test_base_image_digest_must_be_a_sha256_digest() -> None:
    digest = "sha256:" + "ab" * 32
    assert Settings(base_image_digest=digest).base_image_digest == digest
    with pytest.raises(SettingsError, match="base_image_digest"):
        Settings(base_image_digest="2.6.0-gpu-py312")


def test_engine_config_is_the_model_directory_contract() -> None:
    from stacks import contract

    settings = Settings(stride=2, classes=("person", "car"))
    assert settings.engine_config() == {
        "detector": "nanodet-g",
        "weights": "weights",
        "tracker": {},
    }
    # The job defaults reach the engine by one route: the manifest options submit writes.
    options = contract.job_defaults(settings).job_options
    assert (options["stride"], options["classes"]) == (2, ["person", "car"])


def test_every_setting_is_documented(repo_root) -> None:
    readme = (repo_root / "README.md").read_text()
    operations = (repo_root / "docs" / "OPERATIONS.md").read_text()
    for name in Settings.__dataclass_fields__:
        assert f"| `{name}` |" in readme, f"README configuration table lacks {name}"
        assert f"| `{name}` |" in operations, f"docs/OPERATIONS.md lacks {name}"
