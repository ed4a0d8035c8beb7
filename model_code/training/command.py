"""The `train` command's arguments and its local run, shared by `python -m model_code.training`
and `motflow train` (which adds --sagemaker and the model.tar.gz)."""

from __future__ import annotations

import argparse
from pathlib import Path

from model_code.training.grid import run_grid
from model_code.training.importers import FORMATS
from model_code.training.run import DataOptions, run_training
from model_code.training.train import TrainConfig

DEFAULTS = TrainConfig()


def _alias(text: str) -> tuple[str, str]:
    name, _, coco = text.partition("=")
    if not name or not coco:
        raise argparse.ArgumentTypeError(f"--alias wants yours=coco_name, got {text!r}")
    return name, coco


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="labelled data folder (GT, COCO or MOT)")
    parser.add_argument("--out", required=True, help="output folder (model/ is written there)")
    parser.add_argument("--epochs", type=int, default=DEFAULTS.epochs)
    parser.add_argument("--format", choices=FORMATS, help="label format (default: detected)")
    parser.add_argument("--val-data", help="a separate validation folder (default: split --data)")
    parser.add_argument("--val-fraction", type=float, default=0.2, help="share of sequences")
    parser.add_argument("--val-sequences", default="", help="comma-separated sequence names")
    parser.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
    parser.add_argument("--lr", type=float, default=DEFAULTS.lr)
    parser.add_argument("--weight-decay", type=float, default=DEFAULTS.weight_decay)
    parser.add_argument("--input-size", type=int, default=DEFAULTS.input_size)
    parser.add_argument("--patience", type=int, default=DEFAULTS.patience)
    parser.add_argument("--iterations-per-epoch", type=int, default=0)
    parser.add_argument("--freeze-backbone", action="store_true")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--val-fps",
        type=float,
        default=DEFAULTS.val_fps,
        help="frame rate of the labelled validation frames; they are tracked at this rate",
    )
    parser.add_argument(
        "--alias", type=_alias, action="append", default=[], help="yours=coco_name, e.g. ped=person"
    )
    parser.add_argument(
        "--grid", help='local grid, e.g. "lr=0.001,0.0003 freeze_backbone=true,false"'
    )
    parser.add_argument("--weights", help="folder with the COCO NanoDet-g weights (default: cache)")


def config_from_args(args: argparse.Namespace) -> tuple[TrainConfig, DataOptions]:
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        input_size=args.input_size,
        patience=args.patience,
        iterations_per_epoch=args.iterations_per_epoch,
        freeze_backbone=args.freeze_backbone,
        threads=args.threads,
        seed=args.seed,
        val_fps=args.val_fps,
    )
    data = DataOptions(
        fmt=args.format,
        val_fraction=args.val_fraction,
        val_sequences=tuple(s for s in args.val_sequences.split(",") if s),
        aliases=dict(args.alias),
    )
    return config, data


def train_locally(args: argparse.Namespace) -> Path:
    """Run the fine-tune (or the grid) the arguments describe; return the model directory."""
    config, data = config_from_args(args)
    out = Path(args.out)
    weights = Path(args.weights) if args.weights else None
    if args.grid:
        model_dir, _ = run_grid(args.grid, Path(args.data), out, config, data, weights_dir=weights)
        return model_dir
    model_dir, _ = run_training(
        args.data,
        out,
        config,
        data,
        val_dir=args.val_data,
        weights_dir=weights,
    )
    return model_dir
