"""The model server, started exactly as the image starts it: `container/serve`.

The image runs `serve` with the model under /opt/ml/model and port 8080; here the same script
runs with the unpacked model directory and a free 127.0.0.1 port, and the SageMaker model's
environment from the stack contract.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from local.ports import LOCALHOST, free_port, wait_until
from local.processes import ManagedProcess, managed_process

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVE_SCRIPT = REPO_ROOT / "container" / "serve"
READY_TIMEOUT_S = 180.0
CLIENT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ModelServer:
    url: str
    log_dir: Path
    process: ManagedProcess

    def ping(self) -> tuple[int, dict]:
        """(status, body) of GET /ping; (0, {}) when nothing answers."""
        return ping(self.url)


def ping(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=CLIENT_TIMEOUT_S) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"{}")
        except ValueError:
            return error.code, {}
    except (OSError, ValueError):
        return 0, {}


def serving_environment(
    model_dir: Path, model_env: Mapping[str, str], base_env: Mapping[str, str], port: int
) -> dict[str, str]:
    """The container's environment: the SageMaker model's variables, the model directory in
    place of /opt/ml/model, the port in place of 8080, and this interpreter as `python`."""
    env = dict(base_env)
    env.update(model_env)
    env["MOTFLOW_MODEL_DIR"] = str(model_dir)
    env["MOTFLOW_SERVER_HOST"] = LOCALHOST
    env["SAGEMAKER_BIND_TO_PORT"] = str(port)
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), base_env.get("PATH", "")))
    return env


@contextlib.contextmanager
def start_model_server(
    run_dir: Path,
    model_dir: Path,
    *,
    model_env: Mapping[str, str],
    base_env: Mapping[str, str],
) -> Iterator[ModelServer]:
    """Run `container/serve` (own process group); yield once /ping says Healthy."""
    log_dir = run_dir / "model-server"
    (log_dir / "tmp").mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = serving_environment(model_dir, model_env, base_env, port)
    env["TMPDIR"] = str(log_dir / "tmp")
    with managed_process(
        "model server",
        [str(SERVE_SCRIPT)],
        log_path=log_dir / "serve.log",
        env=env,
        cwd=log_dir,
    ) as process:
        server = ModelServer(url=f"http://{LOCALHOST}:{port}", log_dir=log_dir, process=process)

        def healthy() -> bool:
            status, body = server.ping()
            if status == 503 and "could not load" in str(body.get("detail", "")):
                raise RuntimeError(f"the model server is unhealthy: {body['detail']}")
            return status == 200

        wait_until(
            healthy,
            timeout_s=READY_TIMEOUT_S,
            what="model server /ping",
            interval_s=0.2,
            abort=process.exit_reason,
        )
        yield server
