"""The local grid: every combination is trained, the best by validation mAP@0.5 is kept."""

from __future__ import annotations

import json

import pytest
import torch

from model_code.training.__main__ import main as training_main
from model_code.training.grid import parse_grid, run_grid
from model_code.training.run import DataOptions
from model_code.training.train import TrainConfig
from tests.unit.training.scenes import WRITERS, make_scene


def test_grid_spec_expands_to_every_combination():
    points = parse_grid("lr=0.001,0.0003 freeze_backbone=true,false")
    assert len(points) == 4
    assert {"lr": "0.0003", "freeze_backbone": "true"} in points
    with pytest.raises(ValueError, match="name=value1,value2"):
        parse_grid("lr")


@pytest.mark.slow
def test_grid_keeps_the_best_point(tmp_path):
    threads = torch.get_num_threads()
    WRITERS["mot"](tmp_path / "data", make_scene(sequences=2, frames=3))
    base = TrainConfig(
        epochs=1, batch_size=2, input_size=96, iterations_per_epoch=1, threads=1,
        warmup_iterations=0,
    )  # fmt: skip
    model_dir, rows = run_grid(
        "lr=0.002,0.00001", tmp_path / "data", tmp_path / "out", base, DataOptions(),
        log=lambda line: None,
    )  # fmt: skip
    torch.set_num_threads(threads)
    assert len(rows) == 2
    best = max(rows, key=lambda r: r["best_val_map50"])
    summary = json.loads((tmp_path / "out" / "grid.json").read_text())
    assert summary["best"]["point"] == best["point"]
    assert (model_dir / "weights" / "nanodet-g.pt").is_file()
    report = json.loads((model_dir / "training.json").read_text())
    assert report["hyperparameters"]["lr"] == float(best["lr"])


def test_module_command_reports_bad_input_in_one_line(tmp_path, capsys):
    code = training_main(["--data", str(tmp_path), "--out", str(tmp_path / "out")])
    assert code == 2
    assert capsys.readouterr().err.startswith("error: ")
