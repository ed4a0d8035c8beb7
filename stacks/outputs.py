"""Stack outputs, each exported as ``<stack name>-<output id>`` so another stack (or app) in the
account and region can `Fn::ImportValue` it instead of copying names by hand."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct


def export_name(stack: Stack, output_id: str) -> str:
    """The export name of the output `output_id` of `stack`."""
    return f"{stack.stack_name}-{output_id}"


def output(
    scope: Construct, output_id: str, value: str, description: str | None = None
) -> CfnOutput:
    """A stack output named `output_id` (its key in the template, wherever `scope` sits in the
    stack: `motflow` finds a deployment by these keys) with its export name."""
    stack = Stack.of(scope)
    cfn_output = CfnOutput(
        scope,
        output_id,
        value=value,
        description=description,
        export_name=export_name(stack, output_id),
    )
    cfn_output.override_logical_id(output_id)
    return cfn_output
