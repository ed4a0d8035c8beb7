"""Acknowledging cdk-nag findings: always on one construct, always with a reason written in code.

cdk-nag 3 reports wildcard findings one by one (``AwsSolutions-IAM5[Resource::<arn>]``) and an
acknowledgement must name the exact finding. ``acknowledge_wildcards`` derives those names from
the statements we wrote deliberately, so only those wildcards are acknowledged and any new one
still fails the nag test.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct

NAG_PACK = "AwsSolutions"
WILDCARD_RULE = "AwsSolutions-IAM5"


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge ``rule`` (e.g. ``AwsSolutions-S1``) for this construct and its children."""
    Validations.of(construct).acknowledge(Acknowledgment(id=f"{NAG_PACK}::{rule}", reason=reason))


def acknowledge_wildcards(
    construct: IConstruct, statements: Iterable[iam.PolicyStatement], reason: str
) -> list[str]:
    """Acknowledge the wildcard actions and resources of these statements, and nothing else.

    The statements' tokens must belong to the construct's own stack (cross-stack references
    only become imports later in synthesis and would be named differently).
    """
    stack = Stack.of(construct)
    findings: list[str] = []
    for statement in statements:
        document = stack.resolve(statement.to_statement_json())
        for action in _as_list(document.get("Action")):
            if "*" in action:
                findings.append(f"Action::{action}")
        for resource in _as_list(document.get("Resource")):
            flat = flatten_reference(resource)
            if "*" in flat:
                findings.append(f"Resource::{flat}")
    for finding in dict.fromkeys(findings):
        acknowledge(construct, f"{WILDCARD_RULE}[{finding}]", reason)
    return findings


def flatten_reference(node: Any) -> str:
    """A resolved CloudFormation value as cdk-nag names it in findings."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(flatten_reference(item) for item in items)
        if "Fn::Sub" in node:
            return flatten_reference(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flatten_reference(resource)}.{flatten_reference(attribute)}>"
        if "Fn::ImportValue" in node:
            return flatten_reference(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{flatten_reference(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
