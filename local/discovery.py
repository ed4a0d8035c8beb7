"""The running local stack's discovery file, so `motflow` can find and talk to it.

While `local_stack` runs it keeps ``<run>/stack.json``: the AWS endpoint (moto behind the IAM
gate), region, the process that owns the stack, each deployed role's credentials (``roles``:
calls signed with them are checked against that role's synthesized policy), and the
deployment names (the same ones a deployed stack publishes as CloudFormation outputs). The
file is removed when the stack stops; a file whose owner died is ignored. Pure Python: the
`motflow` command reads it without starting anything.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DISCOVERY_FILE = "stack.json"
# The folder of run folders: $MOTFLOW_STATE_DIR, else .local-runs in the working directory (where
# `motflow local up` was started), never the install location.
STATE_DIR_ENV = "MOTFLOW_STATE_DIR"
RUNS_FOLDER = ".local-runs"
# Points `motflow` at one stack's file (or its run folder) instead of the newest running one.
DISCOVERY_ENV = "MOTFLOW_LOCAL_STACK"
FIELDS = (
    "endpoint_url",
    "region",
    "pid",
    "input_bucket",
    "input_prefix",
    "work_bucket",
    "jobs_table",
    "notifications_topic_arn",
    "endpoint_name",
    # role name -> {"aws_access_key_id", "aws_secret_access_key"}: sign as that deployed role
    "roles",
)
# Optional: {"job_options": the deployment's job defaults, "trained_classes": bool}, so `motflow`
# can check options as submit will (lambdas/job_options.check_for_deployment) before uploading.
DEPLOYMENT_FIELD = "deployment"


def runs_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the local stack keeps its run folders and `motflow` looks for them."""
    environ = os.environ if environ is None else environ
    named = environ.get(STATE_DIR_ENV, "").strip()
    return Path(named) if named else Path.cwd() / RUNS_FOLDER


def write(run_dir: Path, info: Mapping[str, Any]) -> Path:
    missing = [name for name in FIELDS if name not in info]
    if missing:
        raise ValueError(f"discovery file: missing {', '.join(missing)}")
    path = run_dir / DISCOVERY_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(dict(info), indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)
    return path


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read(path: Path) -> dict[str, Any] | None:
    """The discovery file's content, or None when it is absent, unreadable or its owner died."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or any(name not in info for name in FIELDS):
        return None
    return info if _alive(info["pid"]) else None


def find(runs_dir: Path, environ: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The stack named by ``MOTFLOW_LOCAL_STACK``, else the newest live one under `runs_dir`."""
    environ = os.environ if environ is None else environ
    named = environ.get(DISCOVERY_ENV, "").strip()
    if named:
        path = Path(named)
        return read(path / DISCOVERY_FILE if path.is_dir() else path)
    candidates = sorted(runs_dir.glob(f"*/{DISCOVERY_FILE}"), key=_mtime, reverse=True)
    for path in candidates:
        info = read(path)
        if info is not None:
            return info
    return None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
