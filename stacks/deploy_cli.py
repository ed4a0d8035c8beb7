"""`make deploy|diff|destroy`: log in to the region's Deep Learning Containers registry when the
image is built, then run the pinned CDK CLI for the same region.

    python -m stacks.deploy_cli deploy [cdk arguments ...]

The region is ``-c region=...`` when given, else ``AWS_REGION``/``AWS_DEFAULT_REGION``, else the
AWS CLI profile's region; it is passed on to cdk as ``-c region=...`` so the app and the login
agree. The registry comes from the same region map as the image (``sagemaker_platform``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stacks.sagemaker_platform import UnsupportedPlatformError, dlc_registry

REPO_ROOT = Path(__file__).resolve().parents[1]
CDK = str(REPO_ROOT / "node_modules" / ".bin" / "cdk")
ACTIONS = ("deploy", "diff", "destroy")
# Only `cdk deploy` builds the endpoint image, whose FROM is the DLC registry.
LOGIN_ACTIONS = frozenset({"deploy"})


class DeployError(RuntimeError):
    """The command cannot be built; the message says what to set."""


@dataclass(frozen=True)
class Plan:
    region: str
    login: tuple[list[str], list[str]] | None  # (password command, docker login command)
    cdk: list[str]


def region_from(
    cdk_args: Sequence[str], env: Mapping[str, str], profile_region: Callable[[], str | None]
) -> str:
    """The deployment region, from the cdk arguments, the environment, or the AWS profile."""
    for index, arg in enumerate(cdk_args):
        value = arg[len("--context=") :] if arg.startswith("--context=") else None
        if arg in ("-c", "--context") and index + 1 < len(cdk_args):
            value = cdk_args[index + 1]
        if value and value.startswith("region="):
            return value.split("=", 1)[1]
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or profile_region()
    if not region:
        raise DeployError(
            "no AWS region: set AWS_REGION, configure a profile region, or pass "
            "CDK_ARGS='-c region=eu-west-1'"
        )
    return region


def build_plan(
    action: str,
    cdk_args: Sequence[str],
    env: Mapping[str, str],
    profile_region: Callable[[], str | None] = lambda: None,
) -> Plan:
    if action not in ACTIONS:
        raise DeployError(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    region = region_from(cdk_args, env, profile_region)
    try:
        registry = dlc_registry(region)
    except UnsupportedPlatformError as error:
        raise DeployError(str(error)) from None
    login = None
    if action in LOGIN_ACTIONS:
        login = (
            ["aws", "ecr", "get-login-password", "--region", region],
            ["docker", "login", "--username", "AWS", "--password-stdin", registry],
        )
    cdk = [CDK, action, "--all", "-c", f"region={region}", *cdk_args]
    return Plan(region=region, login=login, cdk=cdk)


def _profile_region() -> str | None:
    try:
        done = subprocess.run(
            ["aws", "configure", "get", "region"], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        return None
    return done.stdout.strip() or None


def run(plan: Plan) -> int:
    if plan.login is not None:
        password_cmd, login_cmd = plan.login
        password = subprocess.run(password_cmd, capture_output=True, text=True, check=False)
        if password.returncode != 0:
            print(f"motflow: {' '.join(password_cmd)} failed: {password.stderr.strip()}")
            return password.returncode
        login = subprocess.run(login_cmd, input=password.stdout, text=True, check=False)
        if login.returncode != 0:
            print(f"motflow: docker login to {login_cmd[-1]} failed (is Docker running?)")
            return login.returncode
    return subprocess.run(plan.cdk, check=False).returncode


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(f"usage: python -m stacks.deploy_cli {{{','.join(ACTIONS)}}} [cdk arguments]")
        return 2
    try:
        plan = build_plan(args[0], args[1:], os.environ, _profile_region)
    except DeployError as error:
        print(f"motflow: {error}", file=sys.stderr)
        return 2
    print(f"motflow: {args[0]} in {plan.region}", file=sys.stderr)
    return run(plan)


if __name__ == "__main__":
    raise SystemExit(main())
