"""An instance-type change of an autoscaled endpoint is refused at synth, with the two steps.

AWS refuses UpdateEndpoint when it would change the instance type of, or remove, a variant that
is registered as an Application Auto Scaling target; the target must be deregistered first
(SageMaker developer guide, "Update or delete endpoints that use auto scaling",
https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-delete.html). A new
variant name does not help: the old, registered variant would be removed. CloudFormation cannot
order "deregister the old target" before "update the endpoint" (the old target is deleted in the
cleanup phase, after the update), so one deploy would fail and roll back.

`make deploy` (stacks/deploy_cli.py) reads the deployed stack's instance type and variant and,
while that variant is still a scalable target, passes them as context; the app then refuses a
different ``instance_type`` here and prints the procedure. Deregistering the old target is step
one; the next ``make deploy`` finds it gone and goes ahead, and registers the new variant.
"""

from __future__ import annotations

from collections.abc import Mapping

# Context keys make deploy sets from the deployed tracking stack (absent on a first deploy).
DEPLOYED_INSTANCE_TYPE = "deployed_instance_type"
DEPLOYED_VARIANT = "deployed_variant"
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def scalable_resource_id(endpoint_name: str, variant_name: str) -> str:
    return f"endpoint/{endpoint_name}/variant/{variant_name}"


def refusal(
    requested: str, context: Mapping[str, object], *, endpoint_name: str, region: str | None
) -> str | None:
    """Why this synth must not deploy (the two-step procedure), or None when it may."""
    deployed = context.get(DEPLOYED_INSTANCE_TYPE)
    variant = context.get(DEPLOYED_VARIANT)
    if not deployed or not variant or deployed == requested:
        return None
    where = f" --region {region}" if region else ""
    return (
        f"the endpoint's instance type would change from {deployed} to {requested}, and AWS "
        "refuses to update or remove a variant registered for autoscaling "
        "(docs/OPERATIONS.md, 'Changing the instance type'). Change it in two steps:\n"
        "  1. aws application-autoscaling deregister-scalable-target --service-namespace "
        f"sagemaker --scalable-dimension {SCALABLE_DIMENSION} --resource-id "
        f"{scalable_resource_id(endpoint_name, str(variant))}{where}\n"
        f"  2. make deploy CDK_ARGS='-c motflow:instance_type={requested}'   (it sees the old "
        "variant is no longer autoscaled, deploys the new one and registers it for autoscaling)"
    )
