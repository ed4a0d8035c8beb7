"""Which stack `motflow` talks to: a deployed one (its CloudFormation outputs) or the local one.

Order: ``--local`` means the running local stack; ``--stack NAME`` (or ``MOTFLOW_STACK``) a
deployment; with neither, the running local stack if there is one, else the deployment named
``MotflowTracking``. Region and profile come from ``--region``/``--profile`` or the usual AWS
settings (``AWS_REGION``, ``AWS_PROFILE``, ``~/.aws/config``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from cli.errors import CliError
from local import discovery
from stacks import contract

STACK_ENV = "MOTFLOW_STACK"
DEFAULT_STACK = contract.tracking_stack_name("motflow")
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5)


@dataclass(frozen=True)
class Target:
    """Where jobs live: buckets, table and the clients to reach them."""

    description: str
    session: boto3.Session
    endpoint_url: str | None
    input_bucket: str
    input_prefix: str
    work_bucket: str
    jobs_table: str
    # The deployment's job defaults and whether its classes are trained ones, when the stack
    # says (the local stack's discovery file, a deployment's JobDefaults output): options are
    # then checked as submit checks them.
    deployment: Mapping[str, Any] | None = None

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url, config=_CLIENT_CONFIG)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("which stack")
    where.add_argument("--stack", help=f"deployed tracking stack (default ${STACK_ENV} or local)")
    where.add_argument("--local", action="store_true", help="the running local stack")
    where.add_argument("--region", help="AWS region of the deployed stack")
    where.add_argument("--profile", help="AWS profile for the deployed stack")


def resolve(args: argparse.Namespace) -> Target:
    stack = args.stack or os.environ.get(STACK_ENV, "").strip() or None
    if args.local or stack is None:
        found = discovery.find(discovery.runs_dir())
        if found is not None:
            return local_target(found)
        if args.local:
            raise CliError(
                "no local stack is running",
                "start one with `python -m local up` (or `motflow local up`) and keep it open",
            )
    region = args.region or os.environ.get("AWS_REGION", "").strip() or None
    if stack is None:
        try:
            return deployed_target(DEFAULT_STACK, region, args.profile)
        except CliError as error:
            # Nothing was named: no region, no credentials or no default stack all mean the
            # same to the user, so say that rather than the first AWS setting found missing.
            raise CliError(
                f"no local stack running and no deployed stack configured ({error.cause})",
                "start one with `motflow local up`, or name a deployment with --stack (or"
                f" ${STACK_ENV}) and --region (or AWS_REGION)",
            ) from None
    return deployed_target(stack, region, args.profile)


def local_target(info: dict[str, Any]) -> Target:
    """The local stack, called as its operator role (the stack's managed operator policy)."""
    operator = (info.get("roles") or {}).get("operator")
    credentials = operator or {
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "aws_session_token": "testing",
    }
    session = boto3.Session(region_name=info["region"], **credentials)
    return Target(
        description=f"local stack at {info['endpoint_url']}",
        session=session,
        endpoint_url=info["endpoint_url"],
        input_bucket=info["input_bucket"],
        input_prefix=info["input_prefix"],
        work_bucket=info["work_bucket"],
        jobs_table=info["jobs_table"],
        deployment=info.get(discovery.DEPLOYMENT_FIELD),
    )


def deployed_target(stack: str, region: str | None, profile: str | None) -> Target:
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
        cloudformation = session.client("cloudformation", config=_CLIENT_CONFIG)
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except NoCredentialsError:
        raise CliError(
            "no AWS credentials found",
            "run `aws configure` or set AWS_PROFILE, or start the local stack (`motflow local up`)",
        ) from None
    except NoRegionError:
        raise CliError("no AWS region is set", "pass --region or set AWS_REGION") from None
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        if "does not exist" in message:
            raise CliError(
                f"stack {stack} was not found in {session.region_name}",
                "deploy it with `cdk deploy --all`, or pass --stack/--region, or start the local"
                " stack with `motflow local up`",
            ) from None
        raise CliError(f"CloudFormation refused: {message}", "check your AWS permissions") from None
    except BotoCoreError as error:
        raise CliError(f"AWS is unreachable ({error})", "check your network and region") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    needed = (
        contract.OUTPUT_INPUT_BUCKET,
        contract.OUTPUT_UPLOAD_PREFIX,
        contract.OUTPUT_WORK_BUCKET,
        contract.OUTPUT_JOBS_TABLE,
    )
    missing = [name for name in needed if name not in outputs]
    if missing:
        raise CliError(
            f"stack {stack} has no output(s) {', '.join(missing)}; it is not a motflow tracking"
            " stack or predates them",
            "pass the tracking stack's name with --stack, or redeploy",
        )
    return Target(
        description=f"stack {stack} ({session.region_name})",
        session=session,
        endpoint_url=None,
        input_bucket=outputs[contract.OUTPUT_INPUT_BUCKET],
        input_prefix=outputs[contract.OUTPUT_UPLOAD_PREFIX],
        work_bucket=outputs[contract.OUTPUT_WORK_BUCKET],
        jobs_table=outputs[contract.OUTPUT_JOBS_TABLE],
        deployment=contract.decode_deployment_facts(outputs.get(contract.OUTPUT_JOB_DEFAULTS)),
    )
