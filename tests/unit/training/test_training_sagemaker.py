"""SageMaker training conventions: channels, hyperparameters, SM_MODEL_DIR, metric regexes, and
the tuning ranges checked against botocore's CreateHyperParameterTuningJob model."""

from __future__ import annotations

import json
import re

import botocore.session
import pytest
import torch
from botocore.validate import ParamValidator

from model_code.training.sagemaker_job import (
    HYPERPARAMETER_RANGES,
    METRIC_DEFINITIONS,
    TUNING_OBJECTIVE,
    HyperparameterError,
    main,
    parse_hyperparameters,
)
from tests.unit.training.scenes import WRITERS, make_scene


def _sagemaker_shape(operation: str):
    model = botocore.session.get_session().get_service_model("sagemaker")
    return model.operation_model(operation).input_shape


def test_hyperparameters_are_parsed_from_strings_and_unknown_ones_refused():
    config, data = parse_hyperparameters(
        {"epochs": "3", "lr": "0.0005", "freeze_backbone": "true", "format": "mot",
         "sagemaker_program": "train_entry.py"}
    )  # fmt: skip
    assert (config.epochs, config.lr, config.freeze_backbone, data.fmt) == (3, 5e-4, True, "mot")
    with pytest.raises(HyperparameterError, match="unknown hyperparameter 'learning_rate'"):
        parse_hyperparameters({"learning_rate": "0.1"})
    with pytest.raises(HyperparameterError, match="epochs must be a int"):
        parse_hyperparameters({"epochs": "many"})


def test_metric_regexes_read_the_lines_training_prints():
    lines = "epoch=2; train_loss=1.25; val_loss=0.5; val_map50=0.75; epoch_s=1.0;"
    lines += " val_idf1=0.8; val_hota=0.6; val_mota=0.7;\n"
    lines += "best_epoch=2; best_val_map50=0.75; best_val_idf1=0.8; best_val_hota=0.6;\n"
    found = {d["Name"]: re.findall(d["Regex"], lines) for d in METRIC_DEFINITIONS}
    assert found == {
        "train_loss": ["1.25"],
        "val_loss": ["0.5"],
        "val_map50": ["0.75"],
        "best_val_map50": ["0.75"],
        "val_idf1": ["0.8"],
        "val_hota": ["0.6"],
        "val_mota": ["0.7"],
        "best_val_idf1": ["0.8"],
        "best_val_hota": ["0.6"],
    }


def test_tuning_ranges_and_metrics_fit_the_api_shapes():
    shape = _sagemaker_shape("CreateHyperParameterTuningJob")
    request = {
        "HyperParameterTuningJobName": "motflow-tune",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": TUNING_OBJECTIVE,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 8, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": HYPERPARAMETER_RANGES,
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:x",
                "TrainingInputMode": "File",
                "MetricDefinitions": METRIC_DEFINITIONS,
            },
            "RoleArn": "arn:aws:iam::123456789012:role/motflow-training",
            "OutputDataConfig": {"S3OutputPath": "s3://bucket/out/"},
            "ResourceConfig": {
                "InstanceType": "ml.g4dn.xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 30,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
    }
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    lowest = {
        r["Name"]: r.get("MinValue") or r["Values"][-1]
        for kind in HYPERPARAMETER_RANGES.values()
        for r in kind
    }
    config, _ = parse_hyperparameters(lowest)  # every tuned name is one of ours, values valid
    assert config.batch_size == 4 and config.input_size == 416


@pytest.mark.slow
def test_training_job_entry_reads_channels_and_writes_a_deployable_model_dir(
    tmp_path, capsys, monkeypatch
):
    threads = torch.get_num_threads()
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)
    WRITERS["mot"](tmp_path / "train", make_scene(sequences=2, frames=4))
    WRITERS["coco"](tmp_path / "validation", make_scene(sequences=1, frames=3))
    env = {
        "SM_CHANNEL_TRAIN": str(tmp_path / "train"),
        "SM_CHANNEL_VALIDATION": str(tmp_path / "validation"),
        "SM_MODEL_DIR": str(tmp_path / "model"),
        "SM_HPS": json.dumps({"epochs": "1", "input_size": "128", "batch_size": "2"}),
    }
    code = main(["--iterations-per-epoch", "1", "--warmup_iterations", "0"], env)
    torch.set_num_threads(threads)
    assert code == 0
    model = tmp_path / "model"
    assert (model / "config.json").is_file() and (model / "weights" / "nanodet-g.pt").is_file()
    assert (model / "code" / "model_code" / "serving" / "__main__.py").is_file()
    assert not (model / "code" / "model_code" / "training").exists()
    assert (model / "code" / "model_code" / "detectors" / "nanodet.py").is_file()
    report = json.loads((model / "training.json").read_text())
    assert report["hyperparameters"]["iterations_per_epoch"] == 1
    assert report["val_sequences"] == ["seq1"] and len(report["train_sequences"]) == 2
    out = capsys.readouterr().out
    maps = re.findall(next(d["Regex"] for d in METRIC_DEFINITIONS if d["Name"] == "val_map50"), out)
    assert len(maps) == 2  # epoch 0 (the starting model) and epoch 1


def test_training_job_without_train_channel_fails_with_a_reason(tmp_path, capsys):
    env = {"SM_CHANNEL_TRAIN": str(tmp_path / "absent"), "SM_MODEL_DIR": str(tmp_path)}
    assert main([], env) == 1
    assert "no 'train' channel" in capsys.readouterr().err
