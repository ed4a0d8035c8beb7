"""Writes a fine-tuned detector as a model directory the endpoint loads as it is.

    config.json                 {"detector": "nanodet-g", "weights": "weights/nanodet-g.pt",
                                 "options": {"classes": [...], ...}, "score_scale": 0.71}
                                 (inference.read_model_config)
    weights/nanodet-g.pt        save_checkpoint's state dict and class names (weights_only-safe)
    training.json               what was trained on, the hyperparameters and the per-epoch metrics

`cli.train` turns the same folder into a deterministic model.tar.gz with stacks/model_artifact.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from model_code.detectors.nanodet import NanoDet, save_checkpoint

DETECTOR = "nanodet-g"
WEIGHTS_ENTRY = "weights/nanodet-g.pt"
CONFIG_FILE = "config.json"
REPORT_FILE = "training.json"


def engine_config(
    classes: tuple[str, ...], score_scale: float | None = None, score_threshold: float = 0.1
) -> dict[str, Any]:
    """config.json for the model directory: the fine-tuned detector, its classes and the top of
    its score scale (`TrainResult.score_scale`), from which the engine scales the tracker's
    thresholds."""
    config: dict[str, Any] = {
        "detector": DETECTOR,
        "weights": WEIGHTS_ENTRY,
        "options": {"classes": list(classes), "score_threshold": score_threshold},
    }
    if score_scale is not None:
        config["score_scale"] = round(score_scale, 4)
    return config


def write_model_dir(
    out: Path,
    model: NanoDet,
    classes: tuple[str, ...],
    report: dict[str, Any],
    score_scale: float | None = None,
) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "weights").mkdir(exist_ok=True)
    save_checkpoint(model, classes, out / WEIGHTS_ENTRY)
    config = json.dumps(engine_config(classes, score_scale), indent=2, sort_keys=True) + "\n"
    (out / CONFIG_FILE).write_text(config, encoding="utf-8")
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return out
