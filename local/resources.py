"""Create the deployment's buckets, topics, table, queues and event wiring inside moto."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from stacks import contract
from stacks.contract import ResourceNames

# How often a message may be received (and its handler fail) before it moves to the queue's DLQ:
# the first try and Lambda's two async retries (stacks/constructs/handler_function.py).
MAX_RECEIVE_COUNT = 3


@dataclass(frozen=True)
class LocalResources:
    """What exists in moto after `create_resources`: names, ARNs and queue URLs."""

    input_bucket: str
    work_bucket: str
    jobs_table: str
    endpoint_name: str
    success_topic_arn: str
    error_topic_arn: str
    notifications_topic_arn: str
    uploads_queue_url: str
    success_queue_url: str
    error_queue_url: str
    notifications_queue_url: str
    # A second subscription of the notifications topic: `motflow local up` prints and deletes
    # what arrives here, so it never competes with someone reading the queue above.
    console_queue_url: str
    dead_letter_queue_urls: dict[str, str]


def create_resources(
    session: boto3.Session, names: ResourceNames, *, input_prefix: str
) -> LocalResources:
    """Create everything the Lambdas and the emulator talk to, named as in a deployment."""
    s3 = session.client("s3")
    sns = session.client("sns")
    sqs = session.client("sqs")
    dynamodb = session.client("dynamodb")

    for bucket in (names.input_bucket, names.work_bucket):
        s3.create_bucket(Bucket=bucket)
    # As in the data stack: jobs read exactly the uploaded version of a video.
    s3.put_bucket_versioning(
        Bucket=names.input_bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    create_jobs_table(dynamodb, names.jobs_table)

    topic_arns = {
        name: sns.create_topic(Name=name)["TopicArn"]
        for name in (names.success_topic, names.error_topic, names.notifications_topic)
    }
    dead_letters: dict[str, str] = {}
    # A failed event comes back once the function's timeout has passed, as Lambda's async
    # retries do after a deployed invocation: so a dead attempt's submit lease has expired.
    uploads_url, uploads_arn = _create_queue_with_dlq(
        sqs, f"{names.input_bucket}-uploads", dead_letters, contract.SUBMIT_TIMEOUT_S
    )
    s3.put_bucket_notification_configuration(
        Bucket=names.input_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": uploads_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": _filter_rules(input_prefix)}},
                }
            ]
        },
    )
    queue_urls = {}
    for topic_name, topic_arn in topic_arns.items():
        if topic_name == names.notifications_topic:
            # The user's messages have no handler here: a mailbox without a dead-letter queue,
            # so reading it by hand (receiving without deleting) cannot look like a failing
            # handler to `LocalStack.check_alive` and stop the stack.
            url, arn = _create_mailbox(sqs, f"{topic_name}-events")
        else:
            url, arn = _create_queue_with_dlq(
                sqs, f"{topic_name}-events", dead_letters, contract.COMPLETE_TIMEOUT_S
            )
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
        queue_urls[topic_name] = url
    console_url, console_arn = _create_mailbox(sqs, f"{names.notifications_topic}-console")
    sns.subscribe(
        TopicArn=topic_arns[names.notifications_topic], Protocol="sqs", Endpoint=console_arn
    )

    return LocalResources(
        input_bucket=names.input_bucket,
        work_bucket=names.work_bucket,
        jobs_table=names.jobs_table,
        endpoint_name=names.endpoint_name,
        success_topic_arn=topic_arns[names.success_topic],
        error_topic_arn=topic_arns[names.error_topic],
        notifications_topic_arn=topic_arns[names.notifications_topic],
        uploads_queue_url=uploads_url,
        success_queue_url=queue_urls[names.success_topic],
        error_queue_url=queue_urls[names.error_topic],
        notifications_queue_url=queue_urls[names.notifications_topic],
        console_queue_url=console_url,
        dead_letter_queue_urls=dead_letters,
    )


def _filter_rules(input_prefix: str) -> list[dict[str, str]]:
    """The deployment's upload trigger filter (stacks/contract.py) as S3 API filter rules."""
    rules = contract.upload_key_filter(input_prefix)
    return [{"Name": name, "Value": value} for name, value in rules.items()]


def create_jobs_table(dynamodb: Any, table_name: str) -> None:
    """The jobs table as the data stack defines it (stacks/contract.py names)."""
    dynamodb.create_table(
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            *(
                {"AttributeName": name, "AttributeType": "S"}
                for name in (
                    contract.TABLE_KEY,
                    contract.STATUS_INDEX_PARTITION,
                    contract.STATUS_INDEX_SORT,
                    contract.DEADLINE_INDEX_PARTITION,
                )
            ),
            {"AttributeName": contract.DEADLINE_INDEX_SORT, "AttributeType": "N"},
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": contract.STREAM_VIEW},
        KeySchema=[{"AttributeName": contract.TABLE_KEY, "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": contract.STATUS_INDEX,
                "KeySchema": [
                    {"AttributeName": contract.STATUS_INDEX_PARTITION, "KeyType": "HASH"},
                    {"AttributeName": contract.STATUS_INDEX_SORT, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                # Sparse: only records with a deadline are in it (lambdas/jobs.py).
                "IndexName": contract.DEADLINE_INDEX,
                "KeySchema": [
                    {"AttributeName": contract.DEADLINE_INDEX_PARTITION, "KeyType": "HASH"},
                    {"AttributeName": contract.DEADLINE_INDEX_SORT, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
    )
    dynamodb.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": contract.TTL_ATTRIBUTE},
    )


def _create_queue_with_dlq(
    sqs: Any, name: str, dead_letters: dict[str, str], visibility_s: int
) -> tuple[str, str]:
    """A queue whose messages move to `<name>-dlq` after MAX_RECEIVE_COUNT failed receives,
    each redelivered `visibility_s` after a failed attempt.

    The DLQ's URL is recorded in `dead_letters` under `name`.
    """
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = _queue_arn(sqs, dlq_url)
    dead_letters[name] = dlq_url
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
    url = sqs.create_queue(
        QueueName=name,
        Attributes={"RedrivePolicy": json.dumps(redrive), "VisibilityTimeout": str(visibility_s)},
    )["QueueUrl"]
    return url, _queue_arn(sqs, url)


def _create_mailbox(sqs: Any, name: str) -> tuple[str, str]:
    """A queue that only collects messages for people and tests to read: no redrive."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, _queue_arn(sqs, url)


def _queue_arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]
