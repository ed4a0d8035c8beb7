"""`make deploy|diff|destroy`: run the pinned CDK CLI for one region.

    python -m stacks.deploy_cli deploy [cdk arguments ...]

The region is ``-c region=...`` when given, else ``AWS_REGION``/``AWS_DEFAULT_REGION``, else the
AWS CLI profile's region; it is passed on to cdk as ``-c region=...`` so the app and the CLI
agree. No registry login is needed: the image's base comes from ECR Public (anonymous pulls), and
the CDK CLI logs in to the bootstrap repository it pushes the image to by itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CDK = str(REPO_ROOT / "node_modules" / ".bin" / "cdk")
ACTIONS = ("deploy", "diff", "destroy")


class DeployError(RuntimeError):
    """The command cannot be built; the message says what to set."""


@dataclass(frozen=True)
class Plan:
    region: str
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
    cdk = [CDK, action, "--all", "-c", f"region={region}", *cdk_args]
    return Plan(region=region, cdk=cdk)


def _profile_region() -> str | None:
    try:
        done = subprocess.run(
            ["aws", "configure", "get", "region"], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        return None
    return done.stdout.strip() or None


def run(plan: Plan) -> int:
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
