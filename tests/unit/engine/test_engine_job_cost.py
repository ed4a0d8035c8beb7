"""The summary carries what the job cost, from the instance type the stack passes in."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from model_code import pricing
from model_code.inference import EngineModel, RawVideoJob, predict_fn
from model_code.pipeline import TrackOptions


def tiny_clip(path: Path, frames: int = 3) -> bytes:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            image = np.full((48, 64, 3), 40 * i, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.read_bytes()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return tiny_clip(tmp_path_factory.mktemp("clip") / "tiny.mp4")


@pytest.fixture(scope="module")
def model() -> EngineModel:
    return EngineModel(defaults=TrackOptions())


def test_summary_prices_the_job_on_its_instance_type(clip, model, monkeypatch) -> None:
    monkeypatch.setenv(pricing.INSTANCE_TYPE_ENV, "ml.g4dn.xlarge")
    monkeypatch.setenv(pricing.WORKERS_ENV, "2")
    summary = predict_fn(RawVideoJob(clip, ".mp4"), model)
    cost = summary["cost"]
    assert cost["instance_type"] == "ml.g4dn.xlarge"
    assert cost["instance_seconds"] == pytest.approx(summary["timings"]["total_s"] / 2, abs=1e-3)
    assert cost["usd"] == pytest.approx(0.736 * cost["instance_seconds"] / 3600, abs=1e-6)


def test_summary_has_no_cost_outside_sagemaker(clip, model, monkeypatch) -> None:
    monkeypatch.delenv(pricing.INSTANCE_TYPE_ENV, raising=False)
    assert predict_fn(RawVideoJob(clip, ".mp4"), model)["cost"] is None
