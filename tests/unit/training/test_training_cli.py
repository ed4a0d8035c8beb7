"""`motflow --version`, `motflow train` (local: model dir + deterministic model.tar.gz) and
`motflow train --sagemaker` against a moto server, its request checked with botocore's model."""

from __future__ import annotations

import io
import tarfile

import boto3
import botocore.session
import pytest
import torch
from botocore.validate import ParamValidator
from moto.server import ThreadedMotoServer

from cli import __version__
from cli.main import main
from cli.sagemaker_training import CODE_CHANNEL, ENTRY_POINT
from cli.train import build_artifact
from model_code import __version__ as engine_version
from tests.unit.training.scenes import WRITERS, make_scene

ROLE = "arn:aws:iam::123456789012:role/motflow-training"
# The training stack's TrainingImageUri output: our image in the CDK asset repository.
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/cdk-hnb659fds-container-assets:abc123"


def test_version_is_the_engine_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert (
        capsys.readouterr().out.strip() == f"motflow {engine_version}" == f"motflow {__version__}"
    )


def test_bad_data_folder_is_one_line_and_exit_2(tmp_path, capsys):
    code = main(["train", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "data folder not found" in err


@pytest.mark.slow
def test_local_train_writes_model_dir_and_a_reproducible_artifact(tmp_path, capsys):
    threads = torch.get_num_threads()
    WRITERS["groundtruth"](tmp_path / "data", make_scene(sequences=2, frames=4))
    args = ["train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out")]
    args += ["--epochs", "1", "--input-size", "128", "--batch-size", "2"]
    args += ["--iterations-per-epoch", "1", "--threads", "1"]
    assert main(args) == 0
    torch.set_num_threads(threads)
    artifact = tmp_path / "out" / "model.tar.gz"
    assert f"model_artifact={artifact}" in capsys.readouterr().out
    with tarfile.open(artifact) as tar:
        names = set(tar.getnames())
    assert {"config.json", "weights/nanodet-g.pt", "code/model_code/handler.py"} <= names
    assert "code/model_code/detectors/nanodet.py" in names
    again = build_artifact(tmp_path / "out" / "model", tmp_path / "again.tar.gz")
    assert again.read_bytes() == artifact.read_bytes()


@pytest.fixture
def moto(monkeypatch):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield
    server.stop()


@pytest.mark.integration
def test_sagemaker_launch_uploads_code_and_creates_the_training_job(moto, capsys):
    region = "eu-west-1"
    s3 = boto3.client("s3", region_name=region)
    s3.create_bucket(
        Bucket="train-bucket", CreateBucketConfiguration={"LocationConstraint": region}
    )
    args = ["train", "--sagemaker", "--data", "s3://train-bucket/labels/"]
    args += ["--out", "s3://train-bucket/runs", "--role", ROLE, "--region", region]
    args += ["--image", IMAGE]
    args += ["--job-name", "motflow-test-job", "--epochs", "12", "--freeze-backbone"]
    assert main(args) == 0, capsys.readouterr().err
    assert "model_artifact=s3://train-bucket/runs/motflow-test-job/output/model.tar.gz" in (
        capsys.readouterr().out
    )
    job = boto3.client("sagemaker", region_name=region).describe_training_job(
        TrainingJobName="motflow-test-job"
    )
    assert job["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    hps = job["HyperParameters"]
    assert (hps["epochs"], hps["freeze_backbone"]) == ("12", "true")
    assert not [name for name in hps if name.startswith("sagemaker_")]  # no toolkit in the image
    channels = {c["ChannelName"]: c for c in job["InputDataConfig"]}
    source = channels[CODE_CHANNEL]["DataSource"]["S3DataSource"]["S3Uri"]
    bucket, prefix = source[len("s3://") :].split("/", 1)
    (listed,) = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    body = s3.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        names = set(tar.getnames())
    # container/train runs ENTRY_POINT from this archive; the packages come from the image.
    assert {ENTRY_POINT, "coco-weights/nanodet.bin"} <= names
    assert "requirements.txt" not in names
    assert "model_code/training/sagemaker_job.py" in names


def test_the_training_job_request_fits_the_api_model():
    from cli.sagemaker_training import training_job_request

    request = training_job_request(
        job_name="motflow-train-1",
        image=IMAGE,
        role=ROLE,
        source_uri="s3://b/out/source/0123/",
        train_uri="s3://b/train/",
        validation_uri="s3://b/val/",
        output_uri="s3://b/out/",
        hyperparameters={"epochs": "3"},
        instance_type="ml.g5.xlarge",
        max_runtime_s=3600,
        volume_gb=30,
    )
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateTrainingJob").input_shape
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    assert [c["ChannelName"] for c in request["InputDataConfig"]] == [
        CODE_CHANNEL,
        "train",
        "validation",
    ]
    assert request["EnableNetworkIsolation"] is True


def test_sagemaker_needs_s3_uris_and_a_role(capsys):
    assert main(["train", "--sagemaker", "--data", "local/dir", "--out", "s3://b/o"]) == 2
    assert "--role" in capsys.readouterr().err
    args = ["train", "--sagemaker", "--data", "local/dir", "--out", "s3://b/o", "--role", ROLE]
    assert main(args) == 2
    assert "--image" in capsys.readouterr().err
    assert main([*args, "--image", IMAGE]) == 2
    assert "--data must be an s3://" in capsys.readouterr().err
