"""`motflow train --sagemaker`: package the training code, upload it, call CreateTrainingJob.

The job runs our own image (`--image`: the training stack's `TrainingImageUri` output, built from
container/Dockerfile with the same lock as the endpoint and the tests). SageMaker starts it with
`train` (container/train), which unpacks the `code` channel, a deterministic sourcedir.tar.gz
holding model_code/, train_entry.py and the COCO NanoDet-g weights, and runs train_entry.py.
Nothing is installed at run time, so the job runs with network isolation. Channels: `code`,
`train` (and `validation`) from S3. The job's model.tar.gz (OutputDataConfig) is a deployable
model directory: pass its S3 URI as the tracking stack's `weights` setting.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path
from typing import Any

from model_code.detectors.nanodet import WEIGHT_FILES, find_weights_dir
from model_code.training.command import config_from_args
from model_code.training.sagemaker_job import METRIC_DEFINITIONS, SOURCE_WEIGHTS_DIR
from stacks.model_artifact import MODEL_CODE_DIR, engine_files, write_archive

ENTRY_POINT = "train_entry.py"  # what container/train runs
SOURCE_ARCHIVE = "sourcedir.tar.gz"
CODE_CHANNEL = "code"


class LaunchError(ValueError):
    pass


def split_s3(uri: str, what: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or len(uri) <= len("s3://"):
        raise LaunchError(
            f"{what} must be an s3://bucket/prefix/ URI with --sagemaker, got {uri!r}"
        )
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def source_entries(weights_dir: str | Path | None = None) -> list[tuple[str, Path | bytes]]:
    """model_code/ with its training code, the entry script and the COCO weights."""
    code = engine_files(MODEL_CODE_DIR, served_only=False)
    weights = find_weights_dir(weights_dir)
    return sorted(
        [
            *code,
            (ENTRY_POINT, MODEL_CODE_DIR / "training" / "sagemaker_entry.py"),
            *((f"{SOURCE_WEIGHTS_DIR}/{name}", weights / name) for name in WEIGHT_FILES),
        ]
    )


def hyperparameters(args: argparse.Namespace) -> dict[str, str]:
    config, data = config_from_args(args)
    values = {k: v for k, v in config.to_dict().items() if k != "augment"}
    values["val_fraction"] = data.val_fraction
    if data.fmt:
        values["format"] = data.fmt
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items()}


def training_job_request(
    *,
    job_name: str,
    image: str,
    role: str,
    source_uri: str,
    train_uri: str,
    output_uri: str,
    hyperparameters: dict[str, str],
    instance_type: str,
    max_runtime_s: int,
    volume_gb: int,
    validation_uri: str | None = None,
) -> dict[str, Any]:
    """The CreateTrainingJob request (tests validate it against botocore's service model)."""
    channels = [(CODE_CHANNEL, source_uri), ("train", train_uri)]
    channels += [("validation", validation_uri)] if validation_uri else []
    return {
        "TrainingJobName": job_name,
        "AlgorithmSpecification": {
            "TrainingImage": image,
            "TrainingInputMode": "File",
            "MetricDefinitions": METRIC_DEFINITIONS,
        },
        "RoleArn": role,
        "HyperParameters": hyperparameters,
        "InputDataConfig": [
            {
                "ChannelName": name,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "InputMode": "File",
            }
            for name, uri in channels
        ],
        "OutputDataConfig": {"S3OutputPath": output_uri},
        "ResourceConfig": {
            "InstanceType": instance_type,
            "InstanceCount": 1,
            "VolumeSizeInGB": volume_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime_s},
        # The image has every package and SageMaker stages the channels: no network needed.
        "EnableNetworkIsolation": True,
        "Tags": [{"Key": "motflow", "Value": "training"}],
    }


def launch(args: argparse.Namespace, session: Any = None) -> dict[str, Any]:
    """Upload the source archive, start the job, and describe it."""
    import boto3
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    if args.grid:
        raise LaunchError(
            "--grid runs locally; for SageMaker, start a tuning job (docs/TRAINING.md)"
        )
    if not args.role:
        raise LaunchError(
            "--sagemaker needs --role <training role ARN> (the training stack output)"
        )
    if not args.image:
        raise LaunchError(
            "--sagemaker needs --image <training image URI> (the training stack's "
            "TrainingImageUri output)"
        )
    split_s3(args.data, "--data")
    if args.val_data:
        split_s3(args.val_data, "--val-data")
    out_bucket, out_prefix = split_s3(args.out, "--out")
    session = session or boto3.session.Session(region_name=args.region)
    region = args.region or session.region_name
    if not region:
        raise LaunchError("no AWS region: pass --region or configure one")
    with tempfile.TemporaryDirectory(prefix="motflow-source-") as work:
        archive = write_archive(Path(work) / SOURCE_ARCHIVE, source_entries(args.weights))
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:16]
        key = f"{out_prefix.strip('/')}/source/{digest}/{SOURCE_ARCHIVE}".lstrip("/")
        try:
            session.client("s3").upload_file(str(archive), out_bucket, key)
        except (BotoCoreError, ClientError, S3UploadFailedError) as error:
            raise LaunchError(
                f"cannot upload the training code to s3://{out_bucket}/{key}: {error}"
            ) from error
    job_name = args.job_name or time.strftime("motflow-train-%Y%m%d-%H%M%S", time.gmtime())
    prefix = out_prefix.strip("/")
    output_uri = f"s3://{out_bucket}/{prefix}/" if prefix else f"s3://{out_bucket}/"
    request = training_job_request(
        job_name=job_name,
        image=args.image,
        role=args.role,
        source_uri=f"s3://{out_bucket}/{key.rsplit('/', 1)[0]}/",  # the archive's own folder
        train_uri=args.data,
        validation_uri=args.val_data,
        output_uri=output_uri,
        hyperparameters=hyperparameters(args),
        instance_type=args.instance_type,
        max_runtime_s=args.max_runtime,
        volume_gb=args.volume_size,
    )
    client = session.client("sagemaker")
    try:
        client.create_training_job(**request)
        described = client.describe_training_job(TrainingJobName=job_name)
    except (BotoCoreError, ClientError) as error:
        raise LaunchError(f"CreateTrainingJob {job_name} failed: {error}") from error
    return {
        "TrainingJobName": job_name,
        "Status": described.get("TrainingJobStatus", "Unknown"),
        "ModelArtifact": f"{output_uri}{job_name}/output/model.tar.gz",
        "Request": request,
    }
