"""The synthesized templates against rules AWS documents (stacks/aws_rules.py and the tables here).

Each group is one defect a real account would hit while synth, cdk-nag and cfn-lint stay green.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from stacks import aws_rules, contract
from stacks.constructs.async_endpoint import EndpointSizing
from tests.infra.deployment_constants import ACCOUNT, ALT_CONTEXT, REGION
from tests.infra.test_infra_stacks import (
    ALT_DATA,
    ALT_TRACKING,
    DATA,
    NAMES,
    TRACKING,
    as_list,
    bucket_by_name,
    only,
    resources,
    statements,
)

ALT_NAMES = contract.resource_names(ALT_CONTEXT["name_prefix"], ACCOUNT, REGION)


@pytest.fixture(scope="module")
def templates(synthesized) -> dict[str, dict[str, Any]]:
    return synthesized.templates


# --- 1. alarms reach someone ---------------------------------------------------------------


def _topic_policies(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Topic logical id -> the statements of its topic policy."""
    found: dict[str, list[dict[str, Any]]] = {}
    for policy in resources(template, "AWS::SNS::TopicPolicy").values():
        for topic in policy["Properties"]["Topics"]:
            found.setdefault(topic["Ref"], []).extend(
                policy["Properties"]["PolicyDocument"]["Statement"]
            )
    return found


def _allows_alarms(statements: list[dict[str, Any]]) -> bool:
    for statement in statements:
        principal = statement.get("Principal", {})
        if (
            statement["Effect"] == "Allow"
            and "sns:Publish" in as_list(statement["Action"])
            and aws_rules.ALARM_PUBLISHER in as_list(principal.get("Service"))
        ):
            condition = statement.get("Condition", {})
            source_arn = condition.get("ArnLike", {}).get("aws:SourceArn", "")
            return (
                source_arn == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"
                and condition.get("StringEquals", {}).get("aws:SourceAccount") == ACCOUNT
            )
    return False


@pytest.mark.parametrize("stack", [TRACKING, ALT_TRACKING])
def test_every_topic_an_alarm_notifies_lets_cloudwatch_publish(templates, stack) -> None:
    template = templates[stack]
    policies = _topic_policies(template)
    topics = set(resources(template, "AWS::SNS::Topic"))
    notified = set()
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        for action in alarm["Properties"].get("AlarmActions", []):
            if isinstance(action, dict) and action.get("Ref") in topics:
                notified.add(action["Ref"])
    assert notified, "no alarm notifies a topic"
    for topic in notified:
        assert _allows_alarms(policies.get(topic, [])), f"CloudWatch may not publish to {topic}"


def test_operators_and_users_get_different_topics(templates) -> None:
    template = templates[TRACKING]
    by_name = {
        t["Properties"]["TopicName"]: logical_id
        for logical_id, t in resources(template, "AWS::SNS::Topic").items()
    }
    user_topic = by_name[NAMES.notifications_topic]
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        assert {"Ref": user_topic} not in alarm["Properties"].get("AlarmActions", [])
    outputs = template["Outputs"]
    assert outputs["AlarmsTopicArn"]["Value"] == {"Ref": by_name[NAMES.alarms_topic]}


# --- 2. metrics are read with the dimensions they are published with -----------------------


def _dashboard_metrics(template: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    _, dashboard = only(template, "AWS::CloudWatch::Dashboard")
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    text = "".join(part if isinstance(part, str) else "TOKEN" for part in parts)
    found = []
    for widget in json.loads(text)["widgets"]:
        for row in widget.get("properties", {}).get("metrics", []):
            values = [item for item in row if not isinstance(item, dict)]
            if not values:  # a math expression; the metrics it sums have rows of their own
                assert "expression" in row[0], row
                continue
            assert values[0] != "...", "dashboard rows must spell their dimensions out"
            namespace, name, *pairs = values
            found.append((namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True))))
    return found


def _alarm_metrics(template: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    found = []
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if "MetricName" in props:
            dims = {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}
            found.append((props["Namespace"], props["MetricName"], dims))
        for query in props.get("Metrics", []):
            metric = query.get("MetricStat", {}).get("Metric")
            if metric:
                dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
                found.append((metric["Namespace"], metric["MetricName"], dims))
    return found


def _scaling_metrics(template: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    found = []
    for policy in resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values():
        config = policy["Properties"].get("TargetTrackingScalingPolicyConfiguration", {})
        metric = config.get("CustomizedMetricSpecification")
        if metric:
            dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            found.append((metric["Namespace"], metric["MetricName"], dims))
    return found


@pytest.mark.parametrize(("stack", "names"), [(TRACKING, NAMES), (ALT_TRACKING, ALT_NAMES)])
def test_every_sagemaker_metric_is_read_with_its_documented_dimensions(
    templates, stack, names
) -> None:
    template = templates[stack]
    (variant,) = only(template, "AWS::SageMaker::EndpointConfig")[1]["Properties"][
        "ProductionVariants"
    ]
    values = {"EndpointName": names.endpoint_name, "VariantName": variant["VariantName"]}
    read = _dashboard_metrics(template) + _alarm_metrics(template) + _scaling_metrics(template)
    sagemaker = [
        m
        for m in read
        if m[0] in (aws_rules.SAGEMAKER_NAMESPACE, aws_rules.ENDPOINT_INSTANCE_NAMESPACE)
    ]
    assert {m[1] for m in sagemaker} >= {
        "InvocationFailures",
        "TimeInBacklog",
        "TotalProcessingTime",
        "ApproximateBacklogSize",
        "HasBacklogWithoutCapacity",
    }
    for namespace, name, dims in sagemaker:
        documented = aws_rules.METRIC_DIMENSIONS.get((namespace, name))
        assert documented is not None, f"{namespace} {name} is not in the documented table"
        assert tuple(sorted(dims)) == tuple(sorted(documented)), (name, dims)
        assert dims == {key: values[key] for key in documented}, (name, dims)


# --- 4. missing objects read as missing (404), not as access denied --------------------------

# What each role reads, per bucket: the prefixes of its GetObject and of its ListBucket.
ROLE_READS = {
    "UploadTriggerSubmitRole": {"input": ["videos/"]},
    "AsyncEndpointExecutionRole": {"input": ["videos/"], "work": ["jobs/", "results/"]},
    "JobEventsCompleteRole": {"work": ["async-output/", "async-failures/", "jobs/"]},
}
# Prefixes a role reads only at keys it knows exist, where 403 and 404 mean the same to it
# (complete reads the manifest a job's record names, the endpoint its manifest and a stitch's
# segment results): no ListBucket, so no unneeded grant.
READ_WITHOUT_LIST = {
    "JobEventsCompleteRole": {"work": ["jobs/"]},
    "AsyncEndpointExecutionRole": {"work": ["jobs/", "results/"]},
}


@pytest.mark.parametrize("role", sorted(ROLE_READS))
def test_each_role_may_list_the_prefixes_it_reads(templates, role) -> None:
    stmts = statements(templates[TRACKING], role)
    buckets = {"input": NAMES.input_bucket, "work": NAMES.work_bucket}
    listed: dict[str, list[str]] = {}
    for statement in stmts:
        if "s3:ListBucket" not in as_list(statement["Action"]):
            continue
        condition = statement.get("Condition", {}).get("StringLike", {}).get("s3:prefix")
        assert condition, f"{role}: ListBucket without an s3:prefix condition"
        for resource in as_list(statement["Resource"]):
            listed.setdefault(resource, []).extend(as_list(condition))
    unlisted = READ_WITHOUT_LIST.get(role, {})
    expected = {
        f"arn:aws:s3:::{buckets[bucket]}": [
            f"{prefix}*" for prefix in prefixes if prefix not in unlisted.get(bucket, [])
        ]
        for bucket, prefixes in ROLE_READS[role].items()
    }
    assert {k: sorted(v) for k, v in listed.items()} == {
        k: sorted(v) for k, v in expected.items() if v
    }
    reads = {
        resource
        for statement in stmts
        if "s3:GetObject" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
        if isinstance(resource, str) and "cdk-" not in resource
    }
    assert reads == {
        f"arn:aws:s3:::{buckets[bucket]}/{prefix}*"
        for bucket, prefixes in ROLE_READS[role].items()
        for prefix in prefixes
    }


# --- 6. reserved concurrency only when asked for --------------------------------------------


def test_reserved_concurrency_is_set_only_when_configured(templates) -> None:
    def reserved(stack: str) -> list[Any]:
        return [
            f["Properties"].get("ReservedConcurrentExecutions")
            for f in resources(templates[stack], "AWS::Lambda::Function").values()
            if f["Properties"].get("Handler") == "submit.handler"
        ]

    assert reserved(TRACKING) == [None]
    assert reserved(ALT_TRACKING) == [int(ALT_CONTEXT["submit_reserved_concurrency"])]


# --- 8. an instance-type change never asks AWS to UpdateEndpoint an autoscaled variant -------


def _variants(template: dict[str, Any]) -> dict[str, str]:
    _, config = only(template, "AWS::SageMaker::EndpointConfig")
    return {v["VariantName"]: v["InstanceType"] for v in config["Properties"]["ProductionVariants"]}


def _autoscaled_variants(template: dict[str, Any]) -> dict[str, str]:
    """Scalable-target logical id -> the variant it scales."""
    found = {}
    for logical_id, target in resources(
        template, "AWS::ApplicationAutoScaling::ScalableTarget"
    ).items():
        resource_id = target["Properties"]["ResourceId"]
        tail = resource_id["Fn::Join"][1][-1] if isinstance(resource_id, dict) else resource_id
        found[logical_id] = re.sub(r"^.*/variant/", "", tail)
    return found


def test_changing_the_instance_type_swaps_in_a_new_variant_and_scaling(templates) -> None:
    before, after = templates[TRACKING], templates[ALT_TRACKING]  # g4dn -> c5 (another prefix)
    old, new = _variants(before), _variants(after)
    assert set(old.values()) != set(new.values())
    old_scaled = _autoscaled_variants(before)
    assert set(old_scaled.values()) == set(old)
    # AWS refuses UpdateEndpoint when an autoscaled variant would change its instance type.
    changed = [name for name in old_scaled.values() if name in new and new[name] != old[name]]
    assert changed == []
    # The scaling resources are new resources (CloudFormation creates them after the endpoint
    # update and deletes the old ones in cleanup), not in-place updates of the old target.
    new_scaled = _autoscaled_variants(after)
    assert not set(old_scaled) & set(new_scaled)
    for template in (before, after):
        policies = resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
        (target_id,) = _autoscaled_variants(template)
        for policy in policies.values():
            assert policy["Properties"]["ScalingTargetId"] == {"Ref": target_id}


def test_the_variant_name_is_stable_for_unchanged_hardware() -> None:
    def sizing(instance_type: str, max_capacity: int) -> EndpointSizing:
        return EndpointSizing(instance_type, 0, max_capacity, 2, 4.0)

    assert sizing("ml.g4dn.xlarge", 2).variant_name == sizing("ml.g4dn.xlarge", 8).variant_name
    assert sizing("ml.g4dn.xlarge", 2).variant_name != sizing("ml.g5.xlarge", 2).variant_name
    assert re.fullmatch(r"[a-zA-Z0-9-]{1,63}", sizing("ml.g4dn.xlarge", 2).variant_name)


# --- 9. retention: nothing grows forever unless the operator chose it -------------------------


@pytest.mark.parametrize("stack", [TRACKING, ALT_TRACKING])
def test_every_lambda_function_logs_to_a_group_with_retention(templates, stack) -> None:
    """Lambda creates ``/aws/lambda/<function>`` with no expiry for a function without a log
    group of its own; aws-cdk-lib's bucket-notifications provider is one such function."""
    template = templates[stack]
    groups = resources(template, "AWS::Logs::LogGroup")
    functions = resources(template, "AWS::Lambda::Function")
    assert any("BucketNotificationsHandler" in logical_id for logical_id in functions)
    for logical_id, function in functions.items():
        group = function["Properties"].get("LoggingConfig", {}).get("LogGroup")
        assert group is not None, f"{logical_id} logs to a group that never expires"
        group_id = group["Ref"]
        assert groups[group_id]["Properties"]["RetentionInDays"] == 30, logical_id


@pytest.mark.parametrize(("stack", "names"), [(TRACKING, NAMES), (ALT_TRACKING, ALT_NAMES)])
def test_the_endpoint_log_group_is_in_the_stack_with_retention(templates, stack, names) -> None:
    template = templates[stack]
    groups = [
        (logical_id, g)
        for logical_id, g in resources(template, "AWS::Logs::LogGroup").items()
        if g["Properties"].get("LogGroupName") == names.endpoint_log_group
    ]
    ((group_id, group),) = groups
    assert group["Properties"]["RetentionInDays"] == 30
    endpoint_id, endpoint = only(template, "AWS::SageMaker::Endpoint")
    assert group_id in endpoint["DependsOn"]


def _rules(bucket: dict[str, Any]) -> list[dict[str, Any]]:
    return bucket["Properties"]["LifecycleConfiguration"]["Rules"]


@pytest.mark.parametrize(("stack", "names"), [(DATA, NAMES), (ALT_DATA, ALT_NAMES)])
def test_replaced_uploads_and_async_outputs_expire(templates, stack, names) -> None:
    _, input_bucket = bucket_by_name(templates[stack], names.input_bucket)
    noncurrent = [
        r["NoncurrentVersionExpiration"]["NoncurrentDays"]
        for r in _rules(input_bucket)
        if "NoncurrentVersionExpiration" in r
    ]
    assert noncurrent == [30]
    _, work = bucket_by_name(templates[stack], names.work_bucket)
    expiry = {r.get("Prefix"): r.get("ExpirationInDays") for r in _rules(work)}
    assert expiry[contract.ASYNC_OUTPUT_PREFIX] == 30


def test_results_are_kept_unless_the_operator_sets_a_period(templates) -> None:
    def results_expiry(stack: str, names: contract.ResourceNames) -> list[int]:
        _, work = bucket_by_name(templates[stack], names.work_bucket)
        return [r["ExpirationInDays"] for r in _rules(work) if r.get("Prefix") == "results/"]

    assert results_expiry(DATA, NAMES) == []
    assert results_expiry(ALT_DATA, ALT_NAMES) == [int(ALT_CONTEXT["results_retention_days"])]


def test_the_jobs_table_expires_records_by_their_ttl_attribute(templates) -> None:
    _, table = only(templates[DATA], "AWS::DynamoDB::Table")
    assert table["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": contract.TTL_ATTRIBUTE,
        "Enabled": True,
    }
    env = next(
        f["Properties"]["Environment"]["Variables"]
        for f in resources(templates[ALT_TRACKING], "AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "submit.handler"
    )
    assert env["JOB_RETENTION_DAYS"] == ALT_CONTEXT["job_retention_days"]
