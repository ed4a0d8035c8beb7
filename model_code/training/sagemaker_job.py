"""SageMaker training-job conventions: channels, hyperparameters, model dir, metrics, tuning.

Inside a training job (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-running-container.html):
- data channels are folders under /opt/ml/input/data/<channel> ($SM_CHANNEL_<NAME>): `train`
  (required: labels in any supported format) and `validation` (optional: whole sequences kept
  for validation; without it the train channel is split by sequence);
- hyperparameters arrive as strings in /opt/ml/input/config/hyperparameters.json, as $SM_HPS
  (JSON) and, from the PyTorch image's toolkit, as `--name value` arguments; later ones win;
- whatever is written to /opt/ml/model ($SM_MODEL_DIR) becomes the job's model.tar.gz: the model
  directory (config.json, weights/) plus code/, so that archive deploys as it is;
- a failure reason goes to /opt/ml/output/failure (DescribeTrainingJob's FailureReason).
Metrics are the `key=value;` lines `train.py` prints; `METRIC_DEFINITIONS` are their regexes.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from model_code.training.run import DataOptions, run_training
from model_code.training.train import TrainConfig

SM_ROOT = Path("/opt/ml")
HYPERPARAMETERS_FILE = SM_ROOT / "input" / "config" / "hyperparameters.json"
FAILURE_FILE = SM_ROOT / "output" / "failure"
TRAIN_CHANNEL, VALIDATION_CHANNEL = "train", "validation"
# Where the job's source directory carries the COCO NanoDet-g weights (cli/sagemaker.py puts them).
SOURCE_WEIGHTS_DIR = "coco-weights"
# Hyperparameters the SageMaker toolkit adds for itself; not ours to validate.
TOOLKIT_PREFIX = "sagemaker_"
DATA_HYPERPARAMETERS = {"format": str, "val_fraction": float}
_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
METRIC_NAMES = (
    "train_loss",
    "val_loss",
    "val_map50",
    "best_val_map50",
    "val_idf1",
    "val_hota",
    "val_mota",
    "best_val_idf1",
    "best_val_hota",
)
# `\b` keeps val_map50 from matching inside best_val_map50 ("_" is a word character).
METRIC_DEFINITIONS = [{"Name": n, "Regex": rf"\b{n}={_NUMBER};"} for n in METRIC_NAMES]
TUNING_OBJECTIVE = {"Type": "Maximize", "MetricName": "best_val_map50"}
# CreateHyperParameterTuningJob ParameterRanges: what is worth searching for a fine-tune.
HYPERPARAMETER_RANGES = {
    "ContinuousParameterRanges": [
        {"Name": "lr", "MinValue": "0.0001", "MaxValue": "0.003", "ScalingType": "Logarithmic"},
        {
            "Name": "weight_decay",
            "MinValue": "0.001",
            "MaxValue": "0.1",
            "ScalingType": "Logarithmic",
        },
    ],
    "IntegerParameterRanges": [
        {"Name": "batch_size", "MinValue": "4", "MaxValue": "32", "ScalingType": "Auto"},
    ],
    "CategoricalParameterRanges": [
        {"Name": "freeze_backbone", "Values": ["false", "true"]},
        {"Name": "input_size", "Values": ["320", "416"]},
    ],
}


class HyperparameterError(ValueError):
    pass


def _parse(name: str, raw: Any, kind: type) -> Any:
    if isinstance(raw, str) and raw.startswith('"') and raw.endswith('"'):
        raw = json.loads(raw)  # the SageMaker Python SDK JSON-encodes each value
    if kind is bool:
        text = str(raw).strip().lower()
        if text not in ("true", "false", "1", "0"):
            raise HyperparameterError(f"hyperparameter {name} must be true or false, got {raw!r}")
        return text in ("true", "1")
    try:
        return kind(raw)
    except (TypeError, ValueError) as error:
        raise HyperparameterError(
            f"hyperparameter {name} must be a {kind.__name__}, got {raw!r}"
        ) from error


def parse_hyperparameters(values: Mapping[str, Any]) -> tuple[TrainConfig, DataOptions]:
    """TrainConfig and DataOptions from SageMaker's string hyperparameters."""
    kinds = {f.name: f.type for f in fields(TrainConfig) if f.name != "augment"}
    types = {"int": int, "float": float, "bool": bool}
    train: dict[str, Any] = {}
    data: dict[str, Any] = {}
    for name, raw in values.items():
        if name.startswith(TOOLKIT_PREFIX):
            continue
        if name in kinds:
            train[name] = _parse(name, raw, types[str(kinds[name])])
        elif name in DATA_HYPERPARAMETERS:
            data[name if name != "format" else "fmt"] = _parse(
                name, raw, DATA_HYPERPARAMETERS[name]
            )
        else:
            known = ", ".join(sorted([*kinds, *DATA_HYPERPARAMETERS]))
            raise HyperparameterError(f"unknown hyperparameter {name!r}; known: {known}")
    return TrainConfig(**train), DataOptions(**data)


def _argv_hyperparameters(argv: Sequence[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    items = list(argv)
    while items:
        key = items.pop(0)
        if not key.startswith("--") or not items:
            raise HyperparameterError(f"expected --name value pairs, got {key!r}")
        pairs[key[2:].replace("-", "_")] = items.pop(0)
    return pairs


def collect_hyperparameters(argv: Sequence[str], env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if HYPERPARAMETERS_FILE.is_file():
        values.update(json.loads(HYPERPARAMETERS_FILE.read_text(encoding="utf-8")))
    if env.get("SM_HPS"):
        values.update(json.loads(env["SM_HPS"]))
    values.update(_argv_hyperparameters(argv))
    return values


def channel(name: str, env: Mapping[str, str]) -> Path | None:
    path = Path(env.get(f"SM_CHANNEL_{name.upper()}", SM_ROOT / "input" / "data" / name))
    return path if path.is_dir() else None


def copy_code(model_dir: Path, source_root: Path) -> None:
    """code/model_code/ as the endpoint's model directory has it: the engine and its server,
    without the training code (stacks/model_artifact.py leaves it out the same way)."""
    package = source_root / "model_code"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    target = model_dir / "code" / "model_code"
    shutil.copytree(package, target, ignore=ignore, dirs_exist_ok=True)
    shutil.rmtree(target / "training", ignore_errors=True)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    try:
        config, data = parse_hyperparameters(collect_hyperparameters(argv or [], env))
        train_dir = channel(TRAIN_CHANNEL, env)
        if train_dir is None:
            raise HyperparameterError("the training job has no 'train' channel")
        validation_dir = channel(VALIDATION_CHANNEL, env)
        model_root = Path(env.get("SM_MODEL_DIR", SM_ROOT / "model"))
        source_root = Path(__file__).resolve().parents[2]
        weights = source_root / SOURCE_WEIGHTS_DIR
        model_dir, _ = run_training(
            train_dir,
            model_root,
            config,
            data,
            val_dir=validation_dir,
            weights_dir=weights if (weights / "nanodet.json").is_file() else None,
            model_subdir="",
        )
        copy_code(model_dir, source_root)
    except (ValueError, OSError) as error:
        message = f"{type(error).__name__}: {error}"
        print(f"error: {message}", file=sys.stderr)
        if FAILURE_FILE.parent.is_dir():
            FAILURE_FILE.write_text(message[:1024], encoding="utf-8")
        return 1
    return 0
