"""`make deploy|diff|destroy`: run the pinned CDK CLI for one region.

    python -m stacks.deploy_cli deploy [cdk arguments ...]

The region is ``-c motflow:region=...`` when given, else ``AWS_REGION``/``AWS_DEFAULT_REGION``,
else the AWS CLI profile's region; it is passed on to cdk as ``-c motflow:region=...`` so the app
and the CLI agree. No registry login is needed: the image's base comes from ECR Public (anonymous
pulls), and the CDK CLI logs in to the bootstrap repository it pushes the image to by itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stacks import context, contract, instance_type_change

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
    given = context_value(cdk_args, "region")
    if given:
        return given
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or profile_region()
    if not region:
        raise DeployError(
            "no AWS region: set AWS_REGION, configure a profile region, or pass "
            "CDK_ARGS='-c motflow:region=eu-west-1'"
        )
    return region


def context_value(cdk_args: Sequence[str], key: str) -> str | None:
    """The value of ``-c motflow:key=value`` (or ``--context``; or the old unprefixed
    ``key=value``) in the cdk arguments, else None. The prefixed key wins."""
    found: dict[str, str] = {}
    for index, arg in enumerate(cdk_args):
        value = arg[len("--context=") :] if arg.startswith("--context=") else None
        if arg in ("-c", "--context") and index + 1 < len(cdk_args):
            value = cdk_args[index + 1]
        for name in (context.key(key), key):
            if value and value.startswith(f"{name}="):
                found[name] = value.split("=", 1)[1]
    return found.get(context.key(key), found.get(key))


def build_plan(
    action: str,
    cdk_args: Sequence[str],
    env: Mapping[str, str],
    profile_region: Callable[[], str | None] = lambda: None,
    deployed: Callable[[str, str], Mapping[str, str]] = lambda stack, region: {},
) -> Plan:
    """The cdk command. For deploy and diff, `deployed(stack, region)` gives the context the app
    checks an instance-type change against (stacks/instance_type_change.py)."""
    if action not in ACTIONS:
        raise DeployError(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    region = region_from(cdk_args, env, profile_region)
    facts: list[str] = []
    if action != "destroy":
        prefix = context_value(cdk_args, "name_prefix") or _default_context("name_prefix")
        stack = contract.stack_name(str(prefix), "Tracking")
        for key, value in deployed(stack, region).items():
            facts += ["-c", f"{context.key(key)}={value}"]
    cdk = [CDK, action, "--all", "-c", f"{context.key('region')}={region}", *facts, *cdk_args]
    return Plan(region=region, cdk=cdk)


def _default_context(key: str) -> object:
    defaults = json.loads((REPO_ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    return context.read(defaults.get, (key,))[0][key]


def _aws(*args: str) -> str | None:
    """stdout of an AWS CLI command, None when it fails (no such stack, no access)."""
    done = subprocess.run(["aws", *args], capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else None


def deployed_autoscaled_variant(stack: str, region: str) -> dict[str, str]:
    """The deployed tracking stack's instance type and variant, while that variant is still an
    autoscaling target; empty for a first deploy or once the target is deregistered."""
    reply = _aws(
        "cloudformation", "describe-stacks", "--stack-name", stack, "--region", region,
        "--query", "Stacks[0].Outputs", "--output", "json",
    )  # fmt: skip
    outputs = {o["OutputKey"]: o["OutputValue"] for o in json.loads(reply or "null") or []}
    instance_type = outputs.get(contract.OUTPUT_INSTANCE_TYPE)
    variant = outputs.get(contract.OUTPUT_VARIANT)
    endpoint = outputs.get(contract.OUTPUT_ENDPOINT)
    if not (instance_type and variant and endpoint):
        return {}
    targets = _aws(
        "application-autoscaling", "describe-scalable-targets", "--service-namespace",
        "sagemaker", "--resource-ids",
        instance_type_change.scalable_resource_id(endpoint, variant),
        "--region", region, "--query", "length(ScalableTargets)", "--output", "text",
    )  # fmt: skip
    if targets is None or targets.strip() == "0":
        return {}
    return {
        instance_type_change.DEPLOYED_INSTANCE_TYPE: instance_type,
        instance_type_change.DEPLOYED_VARIANT: variant,
    }


def require_aws_cli(which: Callable[[str], str | None] = shutil.which) -> None:
    if which("aws") is None:
        raise DeployError(
            "the AWS CLI (`aws`) is not installed; make deploy, diff and destroy need it "
            "(https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)"
        )


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
        require_aws_cli()
        plan = build_plan(
            args[0], args[1:], os.environ, _profile_region, deployed_autoscaled_variant
        )
    except DeployError as error:
        print(f"motflow: {error}", file=sys.stderr)
        return 2
    print(f"motflow: {args[0]} in {plan.region}", file=sys.stderr)
    return run(plan)


if __name__ == "__main__":
    raise SystemExit(main())
