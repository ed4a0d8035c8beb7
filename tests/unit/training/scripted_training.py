"""One tiny training run whose validations are given, for tests of selection and the guard."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from model_code.training import train as training
from model_code.training.frames import Sample
from model_code.training.model import finetune_model


def train_with_validations(
    monkeypatch: pytest.MonkeyPatch, validations: Sequence[training.Validation]
) -> tuple[training.TrainResult, list[str]]:
    """Train a person model for len(validations) - 1 one-iteration epochs on one 64x64 frame,
    `validate` answering the start's and then each epoch's validation in turn; the result and
    the log lines."""
    script = iter(validations)
    monkeypatch.setattr(training, "validate", lambda *args, **kwargs: next(script))
    model, _ = finetune_model(("person",))
    image = np.full((64, 64, 3), 127, np.uint8)
    sample = Sample(image, np.array([[10, 10, 30, 50]], np.float32), np.zeros(1, np.int64), "s")
    config = training.TrainConfig(
        epochs=len(validations) - 1,
        batch_size=1,
        input_size=64,
        iterations_per_epoch=1,
        warmup_iterations=0,
    )
    lines: list[str] = []
    return training.train(model, [sample], [sample], config, log=lines.append), lines
