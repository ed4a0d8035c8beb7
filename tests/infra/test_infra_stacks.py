"""Assertions on the synthesized templates, one group per bullet of the infrastructure issue."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match

from stacks import aws_rules, contract
from stacks.base_images import BASE_IMAGES, DEFAULT_BASE_IMAGE
from stacks.settings import Settings
from tests.infra.deployment_constants import ACCOUNT, ALT_CONTEXT, ALT_DIGEST, REGION

DATA = "MotflowData"
TRACKING = "MotflowTracking"
ALT_DATA = "MotflowCpuData"
ALT_TRACKING = "MotflowCpuTracking"
NAMES = contract.resource_names("motflow", ACCOUNT, REGION)
ALT_NAMES = contract.resource_names(ALT_CONTEXT["name_prefix"], ACCOUNT, REGION)


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def only(template: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    found = resources(template, kind)
    assert len(found) == 1, f"expected one {kind}, found {sorted(found)}"
    return next(iter(found.items()))


def statements(template: dict[str, Any], policy_prefix: str) -> list[dict[str, Any]]:
    found = []
    for logical_id, policy in resources(template, "AWS::IAM::Policy").items():
        if logical_id.startswith(policy_prefix):
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    assert found, f"no policy starting with {policy_prefix}"
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions_on(stmts: list[dict[str, Any]], action: str) -> list[Any]:
    return [r for s in stmts if action in as_list(s["Action"]) for r in as_list(s["Resource"])]


@pytest.fixture(scope="module")
def templates(synthesized) -> dict[str, dict[str, Any]]:
    assert {DATA, TRACKING, ALT_DATA, ALT_TRACKING} <= set(synthesized.templates)
    return synthesized.templates


# --- DataStack -----------------------------------------------------------------------------


def bucket_by_name(template: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    for logical_id, bucket in resources(template, "AWS::S3::Bucket").items():
        if bucket["Properties"].get("BucketName") == name:
            return logical_id, bucket
    raise AssertionError(f"bucket {name} not in template")


def test_buckets_block_public_access_and_require_tls(templates) -> None:
    data = templates[DATA]
    buckets = resources(data, "AWS::S3::Bucket")
    assert {b["Properties"]["BucketName"] for b in buckets.values()} == {
        NAMES.input_bucket,
        NAMES.work_bucket,
        NAMES.log_bucket,
    }
    tls_protected = set()
    for policy in resources(data, "AWS::S3::BucketPolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                assert statement["Effect"] == "Deny"
                tls_protected.add(policy["Properties"]["Bucket"]["Ref"])
    assert tls_protected == set(buckets)
    for bucket in buckets.values():
        assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert bucket["DeletionPolicy"] == "Retain"


def test_data_buckets_use_the_kms_key_and_log_access(templates) -> None:
    data = templates[DATA]
    key_id, key = only(data, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    log_id, log_bucket = bucket_by_name(data, NAMES.log_bucket)
    sse = log_bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    for name in (NAMES.input_bucket, NAMES.work_bucket):
        _, bucket = bucket_by_name(data, name)
        props = bucket["Properties"]
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert sse["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {
            "Fn::GetAtt": [key_id, "Arn"]
        }
        assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": log_id}


def test_input_is_versioned_and_work_expires_manifests_and_failures(templates) -> None:
    data = templates[DATA]
    _, input_bucket = bucket_by_name(data, NAMES.input_bucket)
    assert input_bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    _, work_bucket = bucket_by_name(data, NAMES.work_bucket)
    rules = {
        rule.get("Prefix"): rule
        for rule in work_bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    }
    settings = Settings()
    assert rules["jobs/"]["ExpirationInDays"] == settings.manifest_retention_days
    assert rules["async-failures/"]["ExpirationInDays"] == settings.failure_retention_days


def test_jobs_table_keys_index_pitr_kms_and_retention(templates) -> None:
    _, table = only(templates[DATA], "AWS::DynamoDB::Table")
    props = table["Properties"]
    assert table["DeletionPolicy"] == "Retain"
    assert props["TableName"] == NAMES.jobs_table
    assert props["KeySchema"] == [{"AttributeName": "job_id", "KeyType": "HASH"}]
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["SSESpecification"]["SSEType"] == "KMS"
    indexes = {index["IndexName"]: index for index in props["GlobalSecondaryIndexes"]}
    assert indexes["by_status"]["KeySchema"] == [
        {"AttributeName": "status", "KeyType": "HASH"},
        {"AttributeName": "created_at", "KeyType": "RANGE"},
    ]
    # Issue 21: the sparse deadline index the sweeper queries, and the notifier's stream.
    assert indexes["by_deadline"]["KeySchema"] == [
        {"AttributeName": "deadline_pk", "KeyType": "HASH"},
        {"AttributeName": "deadline", "KeyType": "RANGE"},
    ]
    assert indexes["by_deadline"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert types == {
        "job_id": "S",
        "status": "S",
        "created_at": "S",
        "deadline_pk": "S",
        "deadline": "N",
    }


def test_the_notifier_reads_the_table_stream_with_retries_and_a_failure_destination(
    templates,
) -> None:
    """Lambda's stream event source mapping: batch item failures, bounded retries, an SQS
    on-failure destination (AWS documents these as the mapping's own properties)."""
    _, mapping = only(templates[TRACKING], "AWS::Lambda::EventSourceMapping")
    props = mapping["Properties"]
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["MaximumRetryAttempts"] == contract.NOTIFIER_RETRY_ATTEMPTS
    assert "OnFailure" in props["DestinationConfig"]


def test_destroy_policy_is_opt_in(templates) -> None:
    _, table = only(templates[ALT_DATA], "AWS::DynamoDB::Table")
    assert table["DeletionPolicy"] == "Delete"


# --- TrackingStack: image and model artifact ---------------------------------------------------


def test_image_is_built_on_the_supported_base_with_the_instances_torch(synthesized) -> None:
    base = BASE_IMAGES[DEFAULT_BASE_IMAGE]
    for stack, base_uri, torch in (
        (TRACKING, base.uri(), "cuda"),  # ml.g4dn.xlarge, no digest set: the tag
        (ALT_TRACKING, base.uri(ALT_DIGEST), "cpu"),  # ml.c5.2xlarge; base_image_digest pins it
    ):
        manifest = json.loads((synthesized.outdir / f"{stack}.assets.json").read_text())
        (image,) = manifest["dockerImages"].values()
        assert image["source"]["dockerFile"] == "container/Dockerfile"
        assert image["source"]["dockerBuildArgs"] == {"BASE_IMAGE": base_uri, "TORCH_BUILD": torch}
        assert image["source"]["platform"] == "linux/amd64"
        context = synthesized.outdir / image["source"]["directory"]
        files = {p.relative_to(context).as_posix() for p in context.rglob("*") if p.is_file()}
        assert {
            "container/Dockerfile",
            "container/serve",
            "container/train",
            "container/build_check.py",
            "requirements/model.txt",
            # The model directory the build check loads: the deployment's own model.tar.gz.
            "model/config.json",
            "model/code/model_code/__init__.py",
            "model/weights/nanodet.bin",
        } <= files
        assert not [f for f in files if f.startswith(("lambdas/", "tests/", "local/", ".venv/"))]
        assert (context / "container" / "serve").stat().st_mode & 0o111  # executable


def test_model_artifact_keeps_its_tar_gz_name(synthesized, templates) -> None:
    _, model = only(templates[TRACKING], "AWS::SageMaker::Model")
    url = model["Properties"]["PrimaryContainer"]["ModelDataUrl"]
    assert isinstance(url, str) and url.endswith(".tar.gz"), url
    manifest = json.loads((synthesized.outdir / f"{TRACKING}.assets.json").read_text())
    uploads = {
        destination["objectKey"]: entry["source"]["path"]
        for entry in manifest["files"].values()
        for destination in entry["destinations"].values()
    }
    key = url.split("/", 3)[3]
    assert key in uploads
    staged = synthesized.outdir / uploads[key]
    assert re.fullmatch(r"[0-9a-f]{64}\.tar\.gz", key), key
    with tarfile.open(staged) as tar:
        assert {"config.json", "code/model_code/handler.py"} <= set(tar.getnames())


# --- TrackingStack: async endpoint ---------------------------------------------------------


def test_model_environment_comes_from_settings(templates) -> None:
    for stack, settings in (
        (TRACKING, Settings()),
        (ALT_TRACKING, Settings.from_context(ALT_CONTEXT)),
    ):
        _, model = only(templates[stack], "AWS::SageMaker::Model")
        assert model["Properties"]["PrimaryContainer"]["Environment"] == (
            contract.deployment_model_environment(settings)
        )


def test_endpoint_config_is_asynchronous_with_encrypted_outputs(templates) -> None:
    template = templates[TRACKING]
    _, config = only(template, "AWS::SageMaker::EndpointConfig")
    props = config["Properties"]
    assert "EndpointConfigName" not in props  # CloudFormation names it: replacements never clash
    async_config = props["AsyncInferenceConfig"]
    assert async_config["ClientConfig"]["MaxConcurrentInvocationsPerInstance"] == (
        Settings().max_concurrent_invocations_per_instance
    )
    output = async_config["OutputConfig"]
    assert output["S3OutputPath"] == f"s3://{NAMES.work_bucket}/async-output/"
    assert output["S3FailurePath"] == f"s3://{NAMES.work_bucket}/async-failures/"
    assert "Fn::ImportValue" in output["KmsKeyId"]
    topics = {
        logical_id: topic["Properties"]["TopicName"]
        for logical_id, topic in resources(template, "AWS::SNS::Topic").items()
    }
    assert topics[output["NotificationConfig"]["SuccessTopic"]["Ref"]] == NAMES.success_topic
    assert topics[output["NotificationConfig"]["ErrorTopic"]["Ref"]] == NAMES.error_topic
    (variant,) = props["ProductionVariants"]
    assert variant["InstanceType"] == "ml.g4dn.xlarge"
    # g4dn has NVMe instance storage: a volume key would make CreateEndpointConfig fail.
    assert "KmsKeyId" not in props
    _, alt_config = only(templates[ALT_TRACKING], "AWS::SageMaker::EndpointConfig")
    assert "KmsKeyId" in alt_config["Properties"]
    assert alt_config["Properties"]["ProductionVariants"][0]["InstanceType"] == "ml.c5.2xlarge"


def test_endpoint_keeps_its_scaled_capacity_across_deploys(templates) -> None:
    _, endpoint = only(templates[TRACKING], "AWS::SageMaker::Endpoint")
    assert endpoint["Properties"]["EndpointName"] == NAMES.endpoint_name
    assert endpoint["Properties"]["RetainAllVariantProperties"] is True


def test_scalable_target_runs_zero_to_n_after_the_endpoint(templates) -> None:
    template = templates[TRACKING]
    endpoint_id, _ = only(template, "AWS::SageMaker::Endpoint")
    _, target = only(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    props = target["Properties"]
    assert (props["MinCapacity"], props["MaxCapacity"]) == (0, Settings().max_capacity)
    assert props["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert endpoint_id in target["DependsOn"]
    assert props["RoleARN"].endswith("AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint")
    _, alt_target = only(templates[ALT_TRACKING], "AWS::ApplicationAutoScaling::ScalableTarget")
    assert alt_target["Properties"]["MaxCapacity"] == 4


def test_target_tracking_on_backlog_per_instance(templates) -> None:
    policies = resources(templates[TRACKING], "AWS::ApplicationAutoScaling::ScalingPolicy")
    tracking = [
        p for p in policies.values() if p["Properties"]["PolicyType"] == "TargetTrackingScaling"
    ]
    (policy,) = tracking
    config = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    metric = config["CustomizedMetricSpecification"]
    assert metric["MetricName"] == "ApproximateBacklogSizePerInstance"
    assert metric["Namespace"] == "AWS/SageMaker"
    assert metric["Dimensions"] == [{"Name": "EndpointName", "Value": NAMES.endpoint_name}]
    assert config["TargetValue"] == Settings().target_backlog_per_instance


def test_step_scaling_leaves_zero_on_backlog_without_capacity(templates) -> None:
    template = templates[TRACKING]
    policies = resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
    (step_id,) = [k for k, p in policies.items() if p["Properties"]["PolicyType"] == "StepScaling"]
    step = policies[step_id]["Properties"]["StepScalingPolicyConfiguration"]
    # Exactly one instance: +1 would be re-applied while the first one boots (bench/scale_sim.py).
    assert step["AdjustmentType"] == "ExactCapacity"
    assert step["StepAdjustments"] == [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]
    alarms = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "HasBacklogWithoutCapacity"
    ]
    (alarm,) = alarms
    assert alarm["Dimensions"] == [{"Name": "EndpointName", "Value": NAMES.endpoint_name}]
    assert alarm["Namespace"] == "AWS/SageMaker"
    assert alarm["AlarmActions"] == [{"Ref": step_id}]
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["Threshold"] == 1


def test_execution_role_is_least_privilege(templates) -> None:
    stmts = statements(templates[TRACKING], "AsyncEndpointExecutionRole")
    work, inputs = f"arn:aws:s3:::{NAMES.work_bucket}", f"arn:aws:s3:::{NAMES.input_bucket}"
    reads = actions_on(stmts, "s3:GetObject")
    assert f"{inputs}/videos/*" in reads and f"{work}/jobs/*" in reads
    assert all(r.endswith(".tar.gz") for r in reads if "cdk-" in r)
    assert sorted(actions_on(stmts, "s3:PutObject")) == sorted(
        f"{work}/{prefix}*" for prefix in ("results/", "async-output/", "async-failures/")
    )
    assert not [r for r in actions_on(stmts, "s3:PutObject") if inputs in str(r)]
    assert actions_on(stmts, "ecr:BatchGetImage")[0].endswith(
        ":repository/" + (f"cdk-hnb659fds-container-assets-{ACCOUNT}-{REGION}")
    )
    log_resources = actions_on(stmts, "logs:PutLogEvents")
    assert log_resources == [
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/"
        f"{NAMES.endpoint_name}:log-stream:*"
    ]
    metric_statement = next(s for s in stmts if s["Action"] == "cloudwatch:PutMetricData")
    assert "cloudwatch:namespace" in metric_statement["Condition"]["StringEquals"]


def test_no_wildcard_actions_and_star_resources_only_where_unscopable(templates) -> None:
    unscopable = {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"}
    for stack in (DATA, TRACKING, ALT_DATA, ALT_TRACKING):
        for policy in resources(templates[stack], "AWS::IAM::Policy").values():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = as_list(statement["Action"])
                assert not [a for a in actions if "*" in a], statement
                if "*" in as_list(statement["Resource"]):
                    assert set(actions) <= unscopable, statement
        for role in resources(templates[stack], "AWS::IAM::Role").values():
            for arn in role["Properties"].get("ManagedPolicyArns", []):
                # Only aws-cdk-lib's own deploy-time bucket-notification provider.
                assert "AWSLambdaBasicExecutionRole" in json.dumps(arn)


# --- upload trigger ------------------------------------------------------------------------


def function_by_handler(template: dict[str, Any], handler: str) -> tuple[str, dict[str, Any]]:
    for logical_id, function in resources(template, "AWS::Lambda::Function").items():
        if function["Properties"].get("Handler") == handler:
            return logical_id, function
    raise AssertionError(f"no function with handler {handler}")


def test_uploads_trigger_on_the_prefix_alone_as_the_contract_says(templates) -> None:
    """Issue 11 item 6: no suffix filter, so every upload reaches submit (which rejects a bad
    suffix with a reason); the local stack builds its filter from the same contract function."""
    template = templates[TRACKING]
    submit_id, _ = function_by_handler(template, "submit.handler")
    _, notifications = only(template, "Custom::S3BucketNotifications")
    props = notifications["Properties"]
    assert props["BucketName"] == NAMES.input_bucket
    (config,) = props["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    assert config["Events"] == ["s3:ObjectCreated:*"]
    assert config["LambdaFunctionArn"] == {"Fn::GetAtt": [submit_id, "Arn"]}
    rules = {r["Name"]: r["Value"] for r in config["Filter"]["Key"]["FilterRules"]}
    assert rules == contract.upload_key_filter(Settings().input_prefix) == {"prefix": "videos/"}


def test_outputs_never_land_where_the_trigger_listens(templates) -> None:
    _, config = only(templates[TRACKING], "AWS::SageMaker::EndpointConfig")
    output = config["Properties"]["AsyncInferenceConfig"]["OutputConfig"]
    for path in (output["S3OutputPath"], output["S3FailurePath"]):
        assert not path.startswith(f"s3://{NAMES.input_bucket}/")
    stmts = statements(templates[TRACKING], "")
    for resource in actions_on(stmts, "s3:PutObject"):
        assert NAMES.input_bucket not in str(resource)


def test_submit_lambda_environment_permissions_and_failure_handling(templates) -> None:
    template = templates[TRACKING]
    submit_id, submit = function_by_handler(template, "submit.handler")
    props = submit["Properties"]
    env = props["Environment"]["Variables"]
    expected = contract.submit_environment(
        jobs_table=NAMES.jobs_table,
        notify_topic_arn="<token>",
        work_bucket=NAMES.work_bucket,
        endpoint_name=NAMES.endpoint_name,
        defaults=contract.job_defaults(Settings()),
    )
    assert set(env) == set(expected)
    for name, value in expected.items():
        if name not in ("JOBS_TABLE", "NOTIFY_TOPIC_ARN"):  # tokens: resolved at deploy time
            assert env[name] == value, name
    assert "ReservedConcurrentExecutions" not in props  # unset by default (defect 6)
    assert props["Runtime"] == "python3.14"
    stmts = statements(template, "UploadTriggerSubmitRole")
    assert actions_on(stmts, "sagemaker:InvokeEndpointAsync") == [
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{NAMES.endpoint_name}"
    ]
    assert actions_on(stmts, "s3:PutObject") == [f"arn:aws:s3:::{NAMES.work_bucket}/jobs/*"]
    assert actions_on(stmts, "s3:GetObject") == [f"arn:aws:s3:::{NAMES.input_bucket}/videos/*"]
    all_actions = {a for s in stmts for a in as_list(s["Action"])}
    assert not [a for a in all_actions if a.startswith("sagemaker:") and "Async" not in a]
    assert "dynamodb:Scan" not in all_actions and "dynamodb:DeleteItem" not in all_actions
    assert_failure_destination_and_logs(template, submit_id, submit)


def assert_failure_destination_and_logs(template, function_id, function) -> None:
    """The function's on-failure destination is a queue of its own (issue 11 item 4)."""
    invoke_configs = [
        c["Properties"]
        for c in resources(template, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    (invoke_config,) = invoke_configs
    destination = invoke_config["DestinationConfig"]["OnFailure"]["Destination"]
    queue_id = destination["Fn::GetAtt"][0]
    queue = resources(template, "AWS::SQS::Queue")[queue_id]
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    users = [
        c["Properties"]["FunctionName"]
        for c in resources(template, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == destination
    ]
    assert users == [{"Ref": function_id}], "each handler needs its own failed-events queue"
    log_group_ref = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = template["Resources"][log_group_ref]
    assert log_group["Properties"]["RetentionInDays"] == Settings().log_retention_days


def test_lambda_code_is_one_plain_asset(synthesized, templates) -> None:
    template = templates[TRACKING]
    keys = {
        json.dumps(f["Properties"]["Code"])
        for f in resources(template, "AWS::Lambda::Function").values()
        if "S3Key" in f["Properties"].get("Code", {})
    }
    assert len(keys) == 1
    asset_dirs = [
        p for p in synthesized.outdir.glob("asset.*") if p.is_dir() and (p / "submit.py").exists()
    ]
    assert asset_dirs
    for directory in asset_dirs:
        assert (directory / "complete.py").exists()
        assert not list(directory.rglob("__pycache__"))


# --- job events ----------------------------------------------------------------------------


def test_topics_are_encrypted_and_tls_only(templates) -> None:
    template = templates[TRACKING]
    topics = resources(template, "AWS::SNS::Topic")
    assert {t["Properties"]["TopicName"] for t in topics.values()} == {
        NAMES.success_topic,
        NAMES.error_topic,
        NAMES.notifications_topic,
        NAMES.alarms_topic,
    }
    for topic in topics.values():
        assert "KmsMasterKeyId" in topic["Properties"]
    protected = set()
    for policy in resources(template, "AWS::SNS::TopicPolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                assert statement["Effect"] == "Deny"
                protected.update(t["Ref"] for t in policy["Properties"]["Topics"])
    assert protected == set(topics)


def test_complete_lambda_hears_success_and_error_and_reads_outputs(templates) -> None:
    template = templates[TRACKING]
    complete_id, complete = function_by_handler(template, "complete.handler")
    assert set(complete["Properties"]["Environment"]["Variables"]) == {
        "JOBS_TABLE",
        "NOTIFY_TOPIC_ARN",
        *contract.retry_environment(
            work_bucket="", endpoint_name="", defaults=contract.job_defaults(Settings())
        ),
    }
    topic_names = {
        k: v["Properties"]["TopicName"] for k, v in resources(template, "AWS::SNS::Topic").items()
    }
    subscribed = {
        topic_names[s["Properties"]["TopicArn"]["Ref"]]
        for s in resources(template, "AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == "lambda"
        and s["Properties"]["Endpoint"] == {"Fn::GetAtt": [complete_id, "Arn"]}
    }
    assert subscribed == {NAMES.success_topic, NAMES.error_topic}
    stmts = statements(template, "JobEventsCompleteRole")
    work = f"arn:aws:s3:::{NAMES.work_bucket}"
    assert sorted(actions_on(stmts, "s3:GetObject")) == [
        f"{work}/async-failures/*",
        f"{work}/async-output/*",
        f"{work}/jobs/*",
    ]
    # A transient failure is resubmitted: a new attempt's manifest, on this endpoint only.
    assert actions_on(stmts, "s3:PutObject") == [f"{work}/jobs/*"]
    assert actions_on(stmts, "sagemaker:InvokeEndpointAsync") == [
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{NAMES.endpoint_name}"
    ]
    assert_failure_destination_and_logs(template, complete_id, complete)


def test_sweeper_reads_its_settings_and_may_request_a_stitch_on_this_endpoint_only(
    templates,
) -> None:
    template = templates[TRACKING]
    _sweeper_id, sweeper = function_by_handler(template, "sweeper.handler")
    expected = contract.sweeper_environment(
        jobs_table="", notify_topic_arn="", endpoint_name=NAMES.endpoint_name,
        defaults=contract.job_defaults(Settings()),
    )  # fmt: skip
    env = sweeper["Properties"]["Environment"]["Variables"]
    assert set(env) == set(expected)
    assert env["ENDPOINT_NAME"] == NAMES.endpoint_name
    stmts = statements(template, "JobSweeperRole")
    # parents.advance reads a long video's segments with BatchGetItem, in complete and here.
    for role in ("JobSweeperRole", "JobEventsCompleteRole"):
        assert len(actions_on(statements(template, role), "dynamodb:BatchGetItem")) == 1, role
    assert actions_on(stmts, "sagemaker:InvokeEndpointAsync") == [
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{NAMES.endpoint_name}"
    ]


def test_email_subscription_only_when_configured(templates) -> None:
    def emails(stack: str) -> list[str]:
        return [
            s["Properties"]["Endpoint"]
            for s in resources(templates[stack], "AWS::SNS::Subscription").values()
            if s["Properties"]["Protocol"] == "email"
        ]

    assert emails(TRACKING) == []
    assert emails(ALT_TRACKING) == [ALT_CONTEXT["alarm_email"]]


# --- monitoring ----------------------------------------------------------------------------


def test_dashboard_shows_the_pipeline(templates) -> None:
    _, dashboard = only(templates[TRACKING], "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in (
        "ApproximateBacklogSize",
        "ApproximateAgeOfOldestRequest",
        "TimeInBacklog",
        "TotalProcessingTime",
        "ModelLatency",
        "InvocationFailures",
        "CPUUtilization",  # sample count per minute = instance count
        "Errors",
        "ApproximateNumberOfMessagesVisible",
        # the Lambdas' EMF job metrics (lambdas/job_metrics.py), for this stack's jobs table
        '\\"Motflow\\",\\"Jobs\\",\\"JobsTable\\",\\"' + NAMES.jobs_table,
        "VideoSeconds",
        "CostUsd",
    ):
        assert metric in body, metric
    # an errors line for each handler, the sweeper's included
    for function_id, function in resources(templates[TRACKING], "AWS::Lambda::Function").items():
        if handler_of(templates[TRACKING], function_id) in ("submit", "complete", "sweeper"):
            assert json.dumps({"Ref": function_id}) in body, function["Properties"]["Handler"]


def test_alarms_notify_the_operators_topic_not_the_users(templates) -> None:
    template = templates[TRACKING]
    notify_id = next(
        k
        for k, v in resources(template, "AWS::SNS::Topic").items()
        if v["Properties"]["TopicName"] == NAMES.alarms_topic
    )
    watched = {}
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("MetricName") == "HasBacklogWithoutCapacity":
            continue
        stats = [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]
        for name in {metric["MetricName"] for metric in stats}:
            watched.setdefault(name, []).append(props)
        assert props["AlarmActions"] == [{"Ref": notify_id}]
    assert set(watched) == {
        "InvocationFailures",
        "ApproximateAgeOfOldestRequest",
        "Errors",
        "ApproximateNumberOfMessagesVisible",
    }
    alarmed = {
        handler_of(template, m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"])
        for alarm in watched["Errors"]
        for m in alarm["Metrics"]
        if "MetricStat" in m
    }
    assert alarmed == {"submit", "complete", "sweeper", "notifier"}
    (oldest,) = watched["ApproximateAgeOfOldestRequest"]
    assert oldest["Threshold"] == Settings().oldest_request_alarm_s


def test_the_failed_events_alarm_covers_every_handlers_queue(templates) -> None:
    """One alarm sums the visible messages of the submit, complete, sweeper and notifier on-failure
    queues, so an event that failed every retry in any handler reaches the operators."""
    template = templates[TRACKING]
    queues = {
        logical_id
        for logical_id, queue in resources(template, "AWS::SQS::Queue").items()
        if "FailedEvents" in logical_id
    }
    destinations = {
        config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
        for config in resources(template, "AWS::Lambda::EventInvokeConfig").values()
    }
    assert len(queues) == 4 and destinations == queues  # submit, complete, sweeper, notifier
    (alarm,) = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if any(
            m.get("MetricStat", {}).get("Metric", {}).get("MetricName")
            == "ApproximateNumberOfMessagesVisible"
            for m in a["Properties"].get("Metrics", [])
        )
    ]
    stats = [m for m in alarm["Metrics"] if "MetricStat" in m]
    watched = {m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for m in stats}
    assert watched == queues
    (expression,) = [m["Expression"] for m in alarm["Metrics"] if "Expression" in m]
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    # SQS publishes only an active queue's metrics: one failed event in any one queue, with the
    # other queues silent, must still give a data point at or above the threshold.
    ids = [m["Id"] for m in stats]
    stamps = [0, 300, 600]
    for failing in ids:
        series = {failing: {300: 1.0}}
        fired = aws_rules.evaluate_metric_math(expression, series, stamps)
        assert fired.get(300, 0) >= alarm["Threshold"], (failing, expression, fired)
        assert fired[0] < alarm["Threshold"] and fired[600] < alarm["Threshold"]
    # and with no data at all the alarm has zeros, not missing data
    assert aws_rules.evaluate_metric_math(expression, {}, stamps) == dict.fromkeys(stamps, 0)


def test_metric_math_without_fill_has_no_point_where_any_queue_is_silent() -> None:
    """The evaluator keeps CloudWatch's rule: a plain sum is missing where an operand is."""
    series = {"q0": {300: 1.0}, "q1": {0: 0.0, 300: 0.0}}
    assert aws_rules.evaluate_metric_math("q0 + q1", series, [0, 300, 600]) == {300: 1.0}
    assert aws_rules.evaluate_metric_math("q0 + q1 + q2", series, [0, 300]) == {}
    assert aws_rules.evaluate_metric_math(
        "FILL(q0, 0) + FILL(q1, 0) + FILL(q2, 0)", series, [0, 300, 600]
    ) == {0: 0.0, 300: 1.0, 600: 0.0}
    with pytest.raises(ValueError):
        aws_rules.evaluate_metric_math("SUM(METRICS())", series, [0])


def test_each_failed_events_queue_url_is_a_stack_output(templates) -> None:
    """scripts/replay_failed_events.py takes a queue URL: the stack says each one."""
    template = templates[TRACKING]
    destinations = {
        handler_of(template, config["Properties"]["FunctionName"]["Ref"]): config["Properties"][
            "DestinationConfig"
        ]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
        for config in resources(template, "AWS::Lambda::EventInvokeConfig").values()
    }
    outputs = template["Outputs"]
    assert set(destinations) == set(contract.OUTPUT_FAILED_EVENTS)
    for handler, queue_id in destinations.items():
        assert outputs[contract.OUTPUT_FAILED_EVENTS[handler]]["Value"] == {"Ref": queue_id}


def handler_of(template: dict[str, Any], function_id: str) -> str:
    """The module name of a Lambda function's handler (``submit`` for ``submit.handler``)."""
    return template["Resources"][function_id]["Properties"]["Handler"].split(".")[0]


# --- two deployments -----------------------------------------------------------------------


def test_two_prefixes_coexist_without_shared_names(templates) -> None:
    def named(stack: str) -> set[str]:
        names = set()
        for resource in templates[stack]["Resources"].values():
            for prop in ("BucketName", "TableName", "TopicName", "EndpointName", "DashboardName"):
                value = resource.get("Properties", {}).get(prop)
                if isinstance(value, str):
                    names.add(value)
        return names

    first = named(DATA) | named(TRACKING)
    second = named(ALT_DATA) | named(ALT_TRACKING)
    assert set(vars(NAMES).values()) <= first
    assert set(vars(ALT_NAMES).values()) <= second
    assert not first & second


def test_template_assertions_api_sees_the_same_endpoint(synthesized) -> None:
    synthesized.template(TRACKING).has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "AsyncInferenceConfig": Match.object_like(
                {
                    "OutputConfig": Match.object_like(
                        {"S3OutputPath": Match.string_like_regexp("async-output/$")}
                    )
                }
            )
        },
    )


def test_the_operator_docs_list_every_action_of_the_operator_policy(templates) -> None:
    """docs/OPERATIONS.md tells people without the managed policy what `motflow` calls."""
    template = templates[TRACKING]
    policy_id = template["Outputs"][contract.OUTPUT_OPERATOR_POLICY]["Value"]["Ref"]
    document = template["Resources"][policy_id]["Properties"]["PolicyDocument"]
    actions = {a for s in document["Statement"] for a in as_list(s["Action"])}
    docs = (Path(__file__).resolve().parents[2] / "docs" / "OPERATIONS.md").read_text(
        encoding="utf-8"
    )
    section = docs[docs.index("## Jobs from the command line") :]
    section = re.sub(r"\s+", " ", section.split("\n## ", 1)[0])
    listed = set(re.findall(r"`([a-z0-9]+:[A-Za-z]+)`", section))
    assert actions - listed == set(), "docs/OPERATIONS.md does not name these"


def test_lambdas_log_json_and_outputs_are_exported(templates: dict[str, dict[str, Any]]) -> None:
    """Issue 23: Lambda's native JSON log format; every output has `<stack>-<id>` export name."""
    for stack in (TRACKING, ALT_TRACKING):
        functions = {  # motflow's handlers, not CDK's own inline ones (index.handler)
            logical_id: function
            for logical_id, function in resources(templates[stack], "AWS::Lambda::Function").items()
            if function["Properties"].get("Handler") != "index.handler"
        }
        assert len(functions) >= 4
        for logical_id, function in functions.items():
            config = function["Properties"].get("LoggingConfig") or {}
            assert config.get("LogFormat") == "JSON", logical_id
        outputs = templates[stack]["Outputs"]
        assert contract.OUTPUT_WORK_BUCKET in outputs
        for output_id, output in outputs.items():
            assert output["Export"]["Name"] == f"{stack}-{output_id}", output_id
