"""Labelled data folder in, model directory out: import, split, load frames, fine-tune, export."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_code.tracking import upright_labels
from model_code.training.export import write_model_dir
from model_code.training.frames import load_samples
from model_code.training.importers import cut_sequence, load_labels, split_by_sequence
from model_code.training.labels import LabelSet
from model_code.training.model import finetune_model
from model_code.training.train import TrainConfig, TrainResult, train


@dataclass(frozen=True)
class DataOptions:
    fmt: str | None = None
    val_fraction: float = 0.2
    val_sequences: tuple[str, ...] = ()
    aliases: Mapping[str, str] | None = None


def split(
    labels: LabelSet, data: DataOptions, log: Callable[[str], None]
) -> tuple[LabelSet, LabelSet]:
    """By sequence; a single labelled sequence is cut in time (its last `val_fraction`)."""
    if len(labels.sequences) == 1 and not data.val_sequences:
        only = labels.sequences[0].name
        log(
            f"note: one labelled sequence; validating on the last {data.val_fraction:.0%} of {only}"
        )
        labels = cut_sequence(labels, only, 1 - data.val_fraction)
        return labels.select([f"{only}-a"]), labels.select([f"{only}-b"])
    return split_by_sequence(labels, data.val_fraction, data.val_sequences)


def run_training(
    data_dir: str | Path,
    out_dir: str | Path,
    config: TrainConfig,
    data: DataOptions | None = None,
    *,
    val_dir: str | Path | None = None,
    weights_dir: str | Path | None = None,
    model_subdir: str = "model",
    log: Callable[[str], None] = print,
) -> tuple[Path, TrainResult]:
    """Fine-tune NanoDet-g on `data_dir` (validating on `val_dir` when given, else on a split
    of `data_dir` by sequence); the model directory is written to `out_dir`/`model_subdir`."""
    data = data or DataOptions()
    labels = load_labels(data_dir, data.fmt)
    if val_dir is not None:
        val_labels = load_labels(val_dir, data.fmt)
        classes = dict.fromkeys(labels.classes) | dict.fromkeys(val_labels.classes)
        train_set, val_set = labels, val_labels
        labels = LabelSet(labels.sequences + val_labels.sequences, tuple(classes))
    else:
        train_set, val_set = split(labels, data, log)
    log(
        f"classes={','.join(labels.classes)}; train_sequences={len(train_set.sequences)}; "
        f"train_frames={train_set.frame_count}; val_sequences={len(val_set.sequences)}; "
        f"val_frames={val_set.frame_count};"
    )
    train_samples = load_samples(LabelSet(train_set.sequences, labels.classes), config.input_size)
    val_samples = load_samples(LabelSet(val_set.sequences, labels.classes), config.input_size)
    model, rows = finetune_model(labels.classes, weights_dir, data.aliases, seed=config.seed)
    upright = upright_labels(labels.classes)
    result = train(model, train_samples, val_samples, config, log=log, upright=upright)
    model.load_state_dict(result.best_state)
    report: dict[str, Any] = {
        "classes": list(labels.classes),
        "coco_rows": rows,
        "train_sequences": sorted(s.name for s in train_set.sequences),
        "val_sequences": sorted(s.name for s in val_set.sequences),
        "hyperparameters": config.to_dict(),
        "best_epoch": result.best_epoch,
        "selected_by": result.selected_by,
        "kept_starting_model": result.kept_starting_model,
        "score_scale": result.score_scale(),
        "history": [vars(h) for h in result.history],
    }
    model_dir = write_model_dir(
        Path(out_dir) / model_subdir, model, labels.classes, report, result.score_scale()
    )
    return model_dir, result
