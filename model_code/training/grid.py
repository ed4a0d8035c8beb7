"""A small local hyperparameter grid: every combination, the best by validation mAP@0.5 kept."""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from model_code.training.run import DataOptions, run_training
from model_code.training.sagemaker_job import parse_hyperparameters
from model_code.training.train import TrainConfig


def parse_grid(spec: str) -> list[dict[str, str]]:
    """`lr=0.001,0.0003 batch_size=4,8` -> the 4 combinations, as hyperparameter strings."""
    axes: dict[str, list[str]] = {}
    for item in spec.split():
        name, _, values = item.partition("=")
        if not name or not values:
            raise ValueError(f"grid item {item!r} must look like name=value1,value2")
        axes[name] = [v for v in values.split(",") if v]
    return [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]


def run_grid(
    spec: str,
    data_dir: Path,
    out_dir: Path,
    base: TrainConfig,
    data: DataOptions,
    *,
    weights_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> tuple[Path, list[dict[str, Any]]]:
    """Train every combination under out_dir/grid/N; copy the best to out_dir/model."""
    rows = []
    for number, point in enumerate(parse_grid(spec), 1):
        overrides, _ = parse_hyperparameters(point)
        changed = {k: getattr(overrides, k) for k in point}
        config = replace(base, **changed)
        log(f"grid_point={number}; " + " ".join(f"{k}={v}" for k, v in point.items()))
        model_dir, result = run_training(
            data_dir, out_dir / "grid" / str(number), config, data, weights_dir=weights_dir, log=log
        )
        rows.append(
            {
                "point": number,
                **point,
                "best_val_map50": result.best.val_map50,
                "dir": str(model_dir),
            }
        )
    best = max(rows, key=lambda r: r["best_val_map50"])
    target = out_dir / "model"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(best["dir"], target)
    (out_dir / "grid.json").write_text(json.dumps({"best": best, "points": rows}, indent=2) + "\n")
    log(f"grid_best={best['point']}; best_val_map50={best['best_val_map50']:.5f};")
    return target, rows
