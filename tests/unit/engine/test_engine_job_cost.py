"""The summary carries what the job cost, from the instance type the stack passes in."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from model_code import pricing
from model_code.handler import EngineModel, raw_body_job
from model_code.handler import run_request as predict_fn
from model_code.jobs import FolderOutput, Job, LocalVideo, run_job
from model_code.pipeline import TrackOptions
from model_code.results import SUMMARY_JSON


def tiny_clip(path: Path, frames: int = 3) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            image = np.full((48, 64, 3), 40 * i, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_clip(tmp_path_factory.mktemp("clip") / "tiny.mp4")


@pytest.fixture(scope="module")
def clip(clip_path: Path) -> bytes:
    return clip_path.read_bytes()


@pytest.fixture(scope="module")
def model() -> EngineModel:
    return EngineModel(defaults=TrackOptions())


def test_summary_prices_the_job_on_its_instance_type(clip, model, monkeypatch) -> None:
    monkeypatch.setenv(pricing.INSTANCE_TYPE_ENV, "ml.g4dn.xlarge")
    monkeypatch.setenv(pricing.WORKERS_ENV, "2")
    summary = predict_fn(raw_body_job(clip, ".mp4"), model)
    cost = summary["cost"]
    assert cost["instance_type"] == "ml.g4dn.xlarge"
    assert cost["instance_seconds"] == pytest.approx(summary["timings"]["total_s"] / 2, abs=1e-3)
    assert cost["usd"] == pytest.approx(0.736 * cost["instance_seconds"] / 3600, abs=1e-6)


def test_summary_has_no_cost_outside_sagemaker(clip, model, monkeypatch) -> None:
    monkeypatch.delenv(pricing.INSTANCE_TYPE_ENV, raising=False)
    assert predict_fn(raw_body_job(clip, ".mp4"), model)["cost"] is None


def test_summary_json_carries_the_cost(clip_path, model, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(pricing.INSTANCE_TYPE_ENV, "ml.c5.2xlarge")
    monkeypatch.setenv(pricing.WORKERS_ENV, "1")
    options = TrackOptions()
    (tmp_path / "in").mkdir()
    job = Job(None, LocalVideo(clip_path), FolderOutput())
    run_job(job, options, model.detector(options), tmp_path / "in", tmp_path / "out")
    written = json.loads((tmp_path / "out" / SUMMARY_JSON).read_text())
    assert written["cost"]["instance_type"] == "ml.c5.2xlarge"
    assert written["cost"]["instance_seconds"] == written["timings"]["total_s"]
