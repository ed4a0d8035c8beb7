"""The local moto server applies DynamoDB conditional writes atomically, as AWS does."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from local.moto_service import REGION, fake_aws_environment, start_moto

RACERS = 12
KEYS = 8


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory):
    run_dir: Path = tmp_path_factory.mktemp("moto")
    # No PYTHONPATH, as under the `motflow` console script: the server must still find `local`.
    with start_moto(run_dir, {"PATH": ""}) as moto:
        env = fake_aws_environment(moto.endpoint_url, REGION)
        dynamodb = boto3.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=REGION,
        ).client("dynamodb", endpoint_url=moto.endpoint_url)
        dynamodb.create_table(
            TableName="race",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield dynamodb


def test_only_one_of_many_racing_conditional_writes_wins(table) -> None:
    def claim(args: tuple[str, int]) -> bool:
        key, racer = args
        try:
            table.update_item(
                TableName="race",
                Key={"pk": {"S": key}},
                UpdateExpression="SET holder = :racer",
                ConditionExpression="attribute_not_exists(holder)",
                ExpressionAttributeValues={":racer": {"N": str(racer)}},
            )
        except ClientError as error:
            assert error.response["Error"]["Code"] == "ConditionalCheckFailedException"
            return False
        return True

    for k in range(KEYS):  # a large item makes moto's check-then-write window wide
        table.put_item(
            TableName="race",
            Item={"pk": {"S": f"item-{k}"}, "bulk": {"L": [{"N": str(i)} for i in range(3000)]}},
        )
    jobs = [(f"item-{k}", r) for k in range(KEYS) for r in range(RACERS)]
    with ThreadPoolExecutor(RACERS) as pool:
        won = list(pool.map(claim, jobs))
    for k in range(KEYS):
        assert sum(won[k * RACERS : (k + 1) * RACERS]) == 1, f"item-{k}"
