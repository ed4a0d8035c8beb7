"""Fine-tuning end to end on tiny scenes the test writes: in each label format, validation loss
falls, and the exported model directory loads in the endpoint handler and finds the new class."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from model_code.boxes import iou_matrix
from model_code.detectors import build_detector
from model_code.detectors.base import DetectorError
from model_code.training.run import run_training
from model_code.training.train import TrainConfig
from tests.unit.training.scenes import LABEL, WRITERS, make_scene, make_sequence

TINY = TrainConfig(
    epochs=3,
    batch_size=4,
    input_size=128,
    lr=2e-3,
    iterations_per_epoch=2,
    warmup_iterations=0,
    patience=3,
    threads=1,
)


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_finetune_lowers_validation_loss_and_loads_in_the_handler(tmp_path, writer):
    from model_code import handler as inference

    WRITERS[writer](tmp_path / "data", make_scene(sequences=3, frames=6))
    lines: list[str] = []
    model_dir, result = run_training(tmp_path / "data", tmp_path / "out", TINY, log=lines.append)

    start, best = result.history[0], result.best
    assert best.val_loss < start.val_loss
    assert best.val_map50 > start.val_map50
    assert sum(line.startswith("epoch=") for line in lines) == len(result.history)

    config = json.loads((model_dir / "config.json").read_text())
    assert config["options"]["classes"] == [LABEL]
    assert config["score_scale"] == round(result.score_scale(), 4)
    engine = inference.load_model(str(model_dir))
    detector = engine.detector(engine.defaults)
    assert tuple(detector.class_names) == (LABEL,)

    frame = make_sequence(seed=7, frames=1)[0]  # a scene the model never saw
    found = detector.detect([frame.image])[0]
    truth = np.array([[x, y, x + w, y + h] for x, y, w, h, _ in frame.boxes], np.float32)
    # The new class starts at a prior score of 0.01, below the handler's 0.1 floor: anything
    # found was learned. The best-scoring detections sit on the objects.
    assert len(found) >= len(truth)
    top = found.boxes[np.argsort(-found.scores)[: len(truth)]]
    assert iou_matrix(truth, top).max(axis=1).min() > 0.5


def test_checkpoint_with_the_wrong_format_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"format": "something-else", "classes": ["a"], "state_dict": {}}, path)
    with pytest.raises(DetectorError, match="not a fine-tuned NanoDet-g checkpoint"):
        build_detector("nanodet-g", weights=path)
