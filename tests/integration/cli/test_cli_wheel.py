"""The built wheel in a fresh virtualenv: boto3 alone runs the job verbs (issue 23, Install)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest

from local.moto_service import fake_aws_environment, start_moto
from local.resources import create_jobs_table
from stacks import contract

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[3]
# The client's runtime: boto3 and what it needs, at the versions the repository pins.
RUNTIME = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")
STACK = "MotflowWheelTest"
TEMPLATE = {
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {
        contract.OUTPUT_INPUT_BUCKET: {"Value": "wheel-input"},
        contract.OUTPUT_UPLOAD_PREFIX: {"Value": "videos/"},
        contract.OUTPUT_WORK_BUCKET: {"Value": "wheel-work"},
        contract.OUTPUT_JOBS_TABLE: {"Value": "wheel-jobs"},
    },
}


def _pins() -> list[str]:
    lines = (REPO_ROOT / "requirements" / "model.txt").read_text().splitlines()
    return [line for line in lines if line.split("==")[0].lower() in RUNTIME]


def test_the_wheel_installs_a_client_that_needs_only_boto3(
    tmp_path: Path, motflow_wheel: Path
) -> None:
    with zipfile.ZipFile(motflow_wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
    assert all(top.startswith("motflow") for top in tops), tops

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps"]
    subprocess.run([*pip, str(motflow_wheel), *_pins()], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    installed = {path.name for path in site.iterdir()}
    assert "torch" not in installed and "numpy" not in installed
    assert not {"cli", "lambdas", "local", "stacks", "model_code"} & installed
    (record,) = site.glob("motflow-*.dist-info/RECORD")
    entries = {line.split(",")[0].split("/")[0] for line in record.read_text().splitlines()}
    assert {e for e in entries if not e.startswith("..")} <= {"motflow", record.parent.name}

    motflow = str(venv / "bin" / "motflow")
    empty = tmp_path / "elsewhere"  # not the checkout: nothing found through the working folder
    empty.mkdir()
    bare = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}  # no PYTHONPATH to the checkout
    shown = subprocess.run(
        [motflow, "--help"], capture_output=True, text=True, cwd=empty, env=bare, timeout=60
    )
    assert shown.returncode == 0 and "submit" in shown.stdout, shown.stderr

    base = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO_ROOT)}
    with start_moto(tmp_path, base) as moto:
        aws = fake_aws_environment(moto.endpoint_url)
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        cloudformation = session.client("cloudformation", endpoint_url=moto.endpoint_url)
        cloudformation.create_stack(StackName=STACK, TemplateBody=json.dumps(TEMPLATE))
        create_jobs_table(session.client("dynamodb", endpoint_url=moto.endpoint_url), "wheel-jobs")
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **aws}
        env.pop("AWS_DEFAULT_REGION")  # AWS_REGION alone names the region
        listed = subprocess.run(
            [motflow, "list", "--json", "--stack", STACK],
            capture_output=True, text=True, cwd=empty, env=env, timeout=60,
        )  # fmt: skip
        assert listed.returncode == 0, listed.stderr
        assert json.loads(listed.stdout) == []
        missing = subprocess.run(
            [motflow, "status", "nope-0000000000000000", "--stack", STACK],
            capture_output=True, text=True, cwd=empty, env=env, timeout=60,
        )  # fmt: skip
        assert missing.returncode == 2
        assert missing.stderr.startswith(f"error: no job nope-0000000000000000 on stack {STACK}")
    found = subprocess.run(
        [python, "-c", "import importlib.util as u; print(u.find_spec('torch'))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert found.stdout.strip() == "None"
