"""`motflow train`: fine-tune NanoDet-g locally (model/ and model.tar.gz under --out), or with
`--sagemaker` start a SageMaker training job on data in S3 (cli/sagemaker_training.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from model_code.training.command import add_train_arguments, train_locally
from stacks.model_artifact import model_entries, write_archive

ARTIFACT_NAME = "model.tar.gz"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "train",
        help="fine-tune the detector on labelled footage",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_train_arguments(parser)
    job = parser.add_argument_group("SageMaker training job (with --sagemaker)")
    job.add_argument("--sagemaker", action="store_true", help="run as a SageMaker training job")
    job.add_argument("--role", help="training job role ARN (the training stack's output)")
    job.add_argument(
        "--image", help="training image URI (the training stack's TrainingImageUri output)"
    )
    job.add_argument("--instance-type", default="ml.g4dn.xlarge")
    job.add_argument("--region", help="AWS region (default: the AWS configuration's)")
    job.add_argument("--job-name", help="training job name (default: motflow-train-<time>)")
    job.add_argument("--max-runtime", type=int, default=4 * 3600, help="seconds")
    job.add_argument("--volume-size", type=int, default=30, help="GB")
    parser.add_argument("--json", action="store_true", help="print one JSON object for scripts")
    parser.set_defaults(run=run)


def _emit(args: argparse.Namespace, fields: dict[str, str]) -> None:
    if args.json:
        print(json.dumps(fields))
    else:
        print("\n".join(f"{name}={value}" for name, value in fields.items()))


def build_artifact(model_dir: Path, out_path: Path) -> Path:
    """model.tar.gz for the model directory, by the deployment's deterministic builder."""
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    weights = sorted((p.name, p) for p in (model_dir / "weights").iterdir() if p.is_file())
    return write_archive(out_path, model_entries(config, weights))


def run(args: argparse.Namespace) -> int:
    if args.sagemaker:
        from cli.sagemaker_training import launch

        description = launch(args)
        _emit(
            args,
            {
                "training_job": description["TrainingJobName"],
                "status": description["Status"],
                "model_artifact": description["ModelArtifact"],
            },
        )
        return 0
    model_dir = train_locally(args)
    artifact = build_artifact(model_dir, Path(args.out) / ARTIFACT_NAME)
    _emit(args, {"model_dir": str(model_dir), "model_artifact": str(artifact)})
    return 0
