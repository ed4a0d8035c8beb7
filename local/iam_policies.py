"""Each deployed role's IAM policy, read from the synthesized templates (never written twice).

The app is synthesized in-process for the local account and region, so bucket, table and topic
names match the ones the local stack creates. CloudFormation references in policy documents
(``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::ImportValue``) are resolved to the ARNs those
resources have locally. A role is found by what runs under it, not by its logical id:
a Lambda function's ``Handler`` (``submit.handler`` is the submit role), the SageMaker model's
``ExecutionRoleArn`` (the endpoint role), and the managed policy the stack exports for
operators.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stacks import contract
from stacks.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
# Role name -> the Lambda handler that runs under it.
LAMBDA_ROLES = {
    "submit": "submit.handler",
    "complete": "complete.handler",
    "sweeper": "sweeper.handler",
    "notifier": "notifier.handler",
}
ENDPOINT_ROLE = "endpoint"
OPERATOR_ROLE = "operator"

Template = dict[str, Any]
Policy = dict[str, Any]


class PolicyError(RuntimeError):
    """The templates do not say what a role may do (a missing role, an unknown reference)."""


def synthesize(settings: Settings, account: str, region: str) -> dict[str, Template]:
    """The app's templates (stack name -> template) for `settings` in `account` and `region`."""
    # This machine's Node 20 (ENV-NOTES) makes jsii print a banner into `motflow local up`'s
    # output; the Makefile and the tests silence it the same way.
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    import aws_cdk as cdk

    from stacks.application import build_stacks, create_app

    context = json.loads((REPO_ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    with tempfile.TemporaryDirectory(prefix="motflow-synth-") as work:
        outdir, build_dir = Path(work) / "cdk.out", Path(work) / "build"
        app = create_app(outdir=str(outdir), context=context)
        build_stacks(
            app,
            settings,
            environment=cdk.Environment(account=account, region=region),
            build_dir=build_dir,
        )
        try:
            app.synth()
        except Exception as error:  # cdk-nag findings still write the templates
            if not list(outdir.glob("*.template.json")):
                raise PolicyError(f"the app did not synthesize: {error}") from error
        return {
            path.name.removesuffix(".template.json"): json.loads(path.read_text())
            for path in outdir.glob("*.template.json")
        }


def role_policies(
    templates: Mapping[str, Template], account: str, region: str
) -> dict[str, Policy]:
    """Role name -> one policy document holding every statement the templates give that role.

    Roles: ``submit``, ``complete``, ``sweeper`` (each Lambda that exists), ``endpoint`` and
    ``operator`` (when the stack has its managed policy).
    """
    resolver = _Resolver(templates, account, region)
    found: dict[str, Policy] = {}
    for stack, template in templates.items():
        resources = template.get("Resources", {})
        for resource in resources.values():
            kind, properties = resource["Type"], resource.get("Properties", {})
            role_id, role_name = None, None
            if kind == "AWS::Lambda::Function":
                name = next(
                    (n for n, h in LAMBDA_ROLES.items() if h == properties.get("Handler")), None
                )
                role_id, role_name = _role_ref(properties.get("Role")), name
            elif kind == "AWS::SageMaker::Model":
                role_id, role_name = _role_ref(properties.get("ExecutionRoleArn")), ENDPOINT_ROLE
            if role_id and role_name:
                found[role_name] = _policy_of_role(stack, role_id, resources, resolver)
        operator = _operator_policy(stack, template, resolver)
        if operator is not None:
            found[OPERATOR_ROLE] = operator
    missing = [name for name in (*LAMBDA_ROLES, ENDPOINT_ROLE) if name not in found]
    if missing:
        raise PolicyError(f"no role found in the templates for: {', '.join(missing)}")
    return found


_synthesized: dict[str, dict[str, Policy]] = {}
_synthesized_lock = threading.Lock()


def local_role_policies(settings: Settings, account: str, region: str) -> dict[str, Policy]:
    """`role_policies` of the app synthesized for the local stack (cached per settings)."""
    key = json.dumps([dataclasses.asdict(settings), account, region], sort_keys=True, default=str)
    with _synthesized_lock:
        if key not in _synthesized:
            templates = synthesize(settings, account, region)
            _synthesized[key] = role_policies(templates, account, region)
        return copy.deepcopy(_synthesized[key])


def _role_ref(value: Any) -> str | None:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0]
    return None


def _policy_of_role(
    stack: str, role_id: str, resources: Mapping[str, Any], resolver: _Resolver
) -> Policy:
    statements: list[dict[str, Any]] = []
    role = resources[role_id].get("Properties", {})
    for inline in role.get("Policies", []):
        statements += resolver.statements(stack, inline["PolicyDocument"])
    for arn in role.get("ManagedPolicyArns", []):
        raise PolicyError(f"{stack}/{role_id}: managed policy {arn} is not modelled locally")
    for resource in resources.values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        properties = resource["Properties"]
        if {"Ref": role_id} in properties.get("Roles", []):
            statements += resolver.statements(stack, properties["PolicyDocument"])
    return {"Version": "2012-10-17", "Statement": statements}


def _operator_policy(stack: str, template: Template, resolver: _Resolver) -> Policy | None:
    output = template.get("Outputs", {}).get(contract.OUTPUT_OPERATOR_POLICY)
    if output is None:
        return None
    policy_id = output["Value"]["Ref"]
    document = template["Resources"][policy_id]["Properties"]["PolicyDocument"]
    return {"Version": "2012-10-17", "Statement": resolver.statements(stack, document)}


class _Resolver:
    """Resolves CloudFormation intrinsics in policy documents to local names and ARNs."""

    def __init__(self, templates: Mapping[str, Template], account: str, region: str) -> None:
        self._templates = templates
        self._account, self._region = account, region
        self._exports: dict[str, tuple[str, Any]] = {}
        for stack, template in templates.items():
            for output in template.get("Outputs", {}).values():
                name = output.get("Export", {}).get("Name")
                if isinstance(name, str):
                    self._exports[name] = (stack, output["Value"])

    def statements(self, stack: str, document: Mapping[str, Any]) -> list[dict[str, Any]]:
        statements = document["Statement"]
        statements = statements if isinstance(statements, list) else [statements]
        return [
            {**s, "Resource": self.value(stack, s["Resource"])} if "Resource" in s else dict(s)
            for s in statements
        ]

    def value(self, stack: str, value: Any) -> Any:
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return [self.value(stack, item) for item in value]
        if not isinstance(value, dict) or len(value) != 1:
            raise PolicyError(f"{stack}: cannot resolve {json.dumps(value)}")
        ((function, argument),) = value.items()
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(str(self.value(stack, part)) for part in parts)
        if function == "Fn::ImportValue":
            source_stack, exported = self._exports[self.value(stack, argument)]
            return self.value(source_stack, exported)
        if function == "Ref":
            return self._ref(stack, argument)
        if function == "Fn::GetAtt":
            return self._attribute(stack, *argument)
        raise PolicyError(f"{stack}: cannot resolve {function}")

    def _resource(self, stack: str, logical_id: str) -> tuple[str, dict[str, Any]]:
        resource = self._templates[stack]["Resources"][logical_id]
        return resource["Type"], resource.get("Properties", {})

    def _ref(self, stack: str, name: str) -> str:
        pseudo = {
            "AWS::Region": self._region,
            "AWS::AccountId": self._account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        kind, properties = self._resource(stack, name)
        if kind == "AWS::SNS::Topic":
            return self._arn("sns", properties.get("TopicName", name))
        names = {"AWS::S3::Bucket": "BucketName", "AWS::DynamoDB::Table": "TableName"}
        if kind in names and names[kind] in properties:
            return self.value(stack, properties[names[kind]])
        return f"local-unresolved-{name}"

    def _attribute(self, stack: str, name: str, attribute: str) -> str:
        kind, properties = self._resource(stack, name)
        if attribute != "Arn":
            return f"local-unresolved-{name}.{attribute}"
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{self._ref(stack, name)}"
        if kind == "AWS::DynamoDB::Table":
            return self._arn("dynamodb", f"table/{self._ref(stack, name)}")
        if kind == "AWS::SQS::Queue":
            return self._arn("sqs", properties.get("QueueName", name))
        if kind == "AWS::KMS::Key":
            return self._arn("kms", f"key/{name}")
        if kind == "AWS::Logs::LogGroup":
            group = properties.get("LogGroupName", name)
            return self._arn("logs", f"log-group:{self.value(stack, group)}:*")
        return f"arn:aws:local-unresolved:{self._region}:{self._account}:{name}"

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self._region}:{self._account}:{resource}"
