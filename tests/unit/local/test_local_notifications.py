"""The user's notifications on the local stack: printed by `up`, readable by hand safely."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas import messages
from local.__main__ import print_notifications
from local.resources import create_resources
from local.stack import LocalStack
from stacks import contract

RECORD: dict[str, Any] = {"job_id": "j-1", "status": "SUCCEEDED", "tag": "walk"}


class _Running:
    def exit_reason(self) -> None:
        return None


def test_up_prints_each_notification_and_reading_the_queue_cannot_stop_the_stack(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with mock_aws():
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        names = contract.resource_names("motflow", "123456789012", "us-east-1")
        resources = create_resources(session, names, input_prefix="videos/")
        running = SimpleNamespace(process=_Running())
        stack = SimpleNamespace(
            client=session.client,
            resources=resources,
            authorizer=None,
            moto=running,
            model_server=running,
        )
        sns, sqs = session.client("sns"), session.client("sqs")
        sns.publish(
            TopicArn=resources.notifications_topic_arn,
            **messages.notification(RECORD, "motflow: walk.mp4 tracked", "3 tracks\nin 2 s"),
        )
        # Someone reads the notifications queue by hand and never deletes: no dead letters.
        for _ in range(5):
            reply = sqs.receive_message(
                QueueUrl=resources.notifications_queue_url, VisibilityTimeout=0
            )
            assert len(reply["Messages"]) == 1
        LocalStack.check_alive(stack)  # type: ignore[arg-type]

        # `up` printed it from its own subscription, once.
        assert print_notifications(stack, as_json=False, wait_s=0) == 1  # type: ignore[arg-type]
        err = capsys.readouterr().err
        assert err == "notification: motflow: walk.mp4 tracked\n  3 tracks\n  in 2 s\n"
        assert print_notifications(stack, as_json=True, wait_s=0) == 0  # type: ignore[arg-type]
        sns.publish(
            TopicArn=resources.notifications_topic_arn,
            **messages.notification(RECORD, "s", "t"),
        )
        assert print_notifications(stack, as_json=True, wait_s=0) == 1  # type: ignore[arg-type]
        body = json.loads(capsys.readouterr().out)
        assert body["job_id"] == "j-1" and body["status"] == "SUCCEEDED" and body["text"] == "t"
