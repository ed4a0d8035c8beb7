"""moto server (S3, SQS, SNS, DynamoDB) as its own process, plus the client environment for it."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from local.ports import LOCALHOST, free_port, http_status, wait_until
from local.processes import ManagedProcess, managed_process

REPO_ROOT = Path(__file__).resolve().parents[1]

ACCOUNT = "123456789012"
REGION = "us-east-1"
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class MotoServer:
    endpoint_url: str
    process: ManagedProcess


def fake_aws_environment(endpoint_url: str, region: str = REGION) -> dict[str, str]:
    """Variables that point every boto3 client at moto with credentials that are not real."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        # Never read a developer's real profile or credentials.
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@contextlib.contextmanager
def start_moto(run_dir: Path, base_env: Mapping[str, str]) -> Iterator[MotoServer]:
    """Run `python -m moto.server` on a free port until the context exits."""
    port = free_port()
    # moto with DynamoDB conditional writes made atomic, as they are in AWS.
    argv = [sys.executable, "-m", "local.moto_atomic", "-H", LOCALHOST, "-p", str(port)]
    # `local` is importable from the checkout (the `motflow` console script does not put it on
    # the path; the server runs in the run folder).
    env = {
        **base_env,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO_ROOT), base_env.get("PYTHONPATH")))),
    }
    with managed_process(
        "moto server", argv, log_path=run_dir / "logs" / "moto.log", env=env, cwd=run_dir
    ) as process:
        url = f"http://{LOCALHOST}:{port}"
        wait_until(
            lambda: http_status(f"{url}/moto-api/") == 200,
            timeout_s=START_TIMEOUT_S,
            what="moto server",
            abort=process.exit_reason,
        )
        yield MotoServer(endpoint_url=url, process=process)
