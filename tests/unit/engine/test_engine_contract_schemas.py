"""The job manifest and config.json each have one schema (docs/schemas/), and every writer and
reader agrees with it: what the schema accepts the handler accepts, and what it refuses the
handler refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from model_code import handler
from model_code.detectors import DETECTOR_NAMES
from model_code.training.export import engine_config as trained_engine_config
from stacks.settings import Settings
from tests.schemas import is_valid, schema, validate

MANIFEST = "job-manifest.schema.json"
CONFIG = "model-config.schema.json"
BASE = {
    "job_id": "clip-1a2b",
    "video": "s3://input-bucket/videos/a.mp4",
    "output": "s3://work-bucket/results/clip-1a2b/",
}


def test_the_handler_knows_exactly_the_manifest_fields_of_the_schema() -> None:
    assert set(handler.MANIFEST_KEYS) == set(schema(MANIFEST)["properties"])
    assert set(schema(MANIFEST)["required"]) == {"job_id", "video", "output"}


@pytest.mark.parametrize(
    "manifest",
    [
        BASE,
        {**BASE, "video_version": '"9b2cf535f27731c974343645a3985328"', "attempt": 2},
        {**BASE, "video_version": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", "options": {"stride": 3}},
        {**BASE, "segment": {"index": 0, "start_s": 0, "end_s": 300.5}},
        {**BASE, "stitch": ["s3://work-bucket/results/a/", "s3://work-bucket/results/b/"]},
        {k: v for k, v in BASE.items() if k != "output"},
        {**BASE, "extra": 1},
        {**BASE, "job_id": "a b"},
        {**BASE, "job_id": "a/b"},
        {**BASE, "job_id": ""},
        {**BASE, "video": "http://input-bucket/a.mp4"},
        {**BASE, "video": "s3://input-bucket/"},
        {**BASE, "video_version": 7},
        {**BASE, "video_version": " "},
        {**BASE, "attempt": 0},
        {**BASE, "attempt": True},
        {**BASE, "segment": {"index": -1, "start_s": 0, "end_s": 1}},
        {**BASE, "segment": {"index": 0, "start_s": 0}},
        {**BASE, "stitch": ["s3://work-bucket/results/a/"]},
        {**BASE, "stitch": "s3://work-bucket/results/a/"},
    ],
)
def test_schema_and_handler_agree_on_each_manifest(manifest: dict[str, Any]) -> None:
    try:
        handler.parse_request(json.dumps(manifest), "application/json")
        accepted = True
    except handler.HttpError:
        accepted = False
    assert accepted == is_valid(manifest, MANIFEST), manifest


def test_the_reader_knows_exactly_the_config_fields_of_the_schema() -> None:
    assert set(handler.CONFIG_KEYS) == set(schema(CONFIG)["properties"])


def test_the_config_schema_names_every_detector_the_engine_builds() -> None:
    assert schema(CONFIG)["properties"]["detector"]["enum"] == list(DETECTOR_NAMES)


@pytest.mark.parametrize(
    "settings",
    [Settings(), Settings(detector="yolov3-tiny", tracker={"high_threshold": 0.5})],
)
def test_the_deployment_writes_a_valid_config(settings: Settings) -> None:
    config = validate(settings.engine_config(), CONFIG)
    # The deployment's job defaults reach the engine by the manifest only (submit's JOB_OPTIONS).
    assert "options" not in config


def test_training_writes_a_valid_config() -> None:
    validate(trained_engine_config(("person", "car"), score_scale=0.71), CONFIG)
    validate(trained_engine_config(("person",)), CONFIG)


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"detector": "nanodet-g", "score_scale": 0.8},
        {"options": {"classes": ["person"]}, "tracker": {}},
        {"score_scale": 0},
        {"score_scale": 1.5},
        {"score_scale": True},
        {"unknown": 1},
        {"options": []},
        {"tracker": "fast"},
    ],
)
def test_schema_and_reader_agree_on_each_config(config: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(config))
    try:
        handler.read_model_config(tmp_path)
        accepted = True
    except handler.ModelConfigError:
        accepted = False
    assert accepted == is_valid(config, CONFIG), config
