"""The IAM gate: calls through moto are allowed or denied exactly as the role's policy says,
conditions included, and a denial names the role, action and resource."""

from __future__ import annotations

import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local.iam_gate import Authorizer, IamGate
from local.iam_requests import Call, Request, authorizations

ACCOUNT, REGION = "123456789012", "us-east-1"
BUCKET, TABLE = "work-bucket", "jobs"
SIMULATOR_READY = (
    shutil.which("node") is not None
    and (Path(__file__).resolve().parents[3] / "node_modules/@cloud-copilot/iam-simulate").exists()
)
needs_simulator = pytest.mark.skipif(not SIMULATOR_READY, reason="npm ci not run")

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": f"arn:aws:s3:::{BUCKET}/jobs/*",
        },
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{BUCKET}",
            "Condition": {"StringLike": {"s3:prefix": ["jobs/*"]}},
        },
        {
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem"],
            "Resource": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}",
        },
    ],
}


def test_s3_requests_name_their_iam_actions() -> None:
    def calls(method: str, path: str, **headers: str) -> list[Call]:
        return authorizations(Request(method, path, headers, b""), "s3", ACCOUNT, REGION)

    assert calls("HEAD", "/b/jobs/a%20b.json") == [
        Call("s3:GetObject", "arn:aws:s3:::b/jobs/a b.json")
    ]
    assert calls("GET", "/b/k?versionId=3") == [Call("s3:GetObjectVersion", "arn:aws:s3:::b/k")]
    listing = calls("GET", "/b?list-type=2&prefix=jobs%2Fx")
    assert listing == [Call("s3:ListBucket", "arn:aws:s3:::b")]
    assert listing[0].context == {"s3:prefix": "jobs/x"}
    assert calls("POST", "/b/k?uploads") == [Call("s3:PutObject", "arn:aws:s3:::b/k")]
    assert calls("DELETE", "/b/k?uploadId=1") == [
        Call("s3:AbortMultipartUpload", "arn:aws:s3:::b/k")
    ]
    copy = calls("PUT", "/b/k", **{"x-amz-copy-source": "/src/v.mp4?versionId=7"})
    assert copy == [
        Call("s3:PutObject", "arn:aws:s3:::b/k"),
        Call("s3:GetObjectVersion", "arn:aws:s3:::src/v.mp4"),
    ]
    assert calls("GET", "/b?versions&prefix=v") == [Call("s3:ListBucketVersions", "arn:aws:s3:::b")]


def test_dynamodb_index_and_batch_requests_name_each_table() -> None:
    def calls(target: str, body: str) -> list[Call]:
        headers = {"x-amz-target": f"DynamoDB_20120810.{target}"}
        return authorizations(
            Request("POST", "/", headers, body.encode()), "dynamodb", ACCOUNT, REGION
        )

    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t"
    assert calls("Query", '{"TableName": "t", "IndexName": "by_status"}') == [
        Call("dynamodb:Query", f"{table}/index/by_status")
    ]
    assert calls("BatchGetItem", '{"RequestItems": {"t": {}}}') == [
        Call("dynamodb:BatchGetItem", table)
    ]


@pytest.fixture
def gate() -> Iterator[IamGate]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    reset = urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=10).close()  # the in-process backends are shared
    authorizer = Authorizer({"worker": POLICY}, account=ACCOUNT, region=REGION, admin_key="testing")
    try:
        with IamGate(f"http://{host}:{port}", authorizer) as running:
            admin = _client(running, "s3", "testing", "testing")
            admin.create_bucket(Bucket=BUCKET)
            admin.put_object(Bucket=BUCKET, Key="jobs/a.json", Body=b"{}")
            admin.put_object(Bucket=BUCKET, Key="results/s1/tracks.jsonl", Body=b"")
            yield running
    finally:
        authorizer.close()
        server.stop()


def _client(gate: IamGate, service: str, key: str, secret: str):
    return boto3.client(
        service,
        endpoint_url=gate.url,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def _worker(gate: IamGate, service: str):
    credentials = gate.authorizer.credentials["worker"]
    return _client(gate, service, credentials.aws_access_key_id, credentials.aws_secret_access_key)


@needs_simulator
def test_the_gate_allows_what_the_policy_grants_and_denies_the_rest(gate: IamGate) -> None:
    s3 = _worker(gate, "s3")
    assert s3.get_object(Bucket=BUCKET, Key="jobs/a.json")["Body"].read() == b"{}"
    assert s3.head_object(Bucket=BUCKET, Key="jobs/a.json")["ContentLength"] == 2
    s3.put_object(Bucket=BUCKET, Key="jobs/b.json", Body=b"1")
    assert gate.authorizer.denials == []

    with pytest.raises(ClientError) as denied:
        s3.get_object(Bucket=BUCKET, Key="results/s1/tracks.jsonl")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert "s3:GetObject on resource: arn:aws:s3:::work-bucket/results/s1/tracks.jsonl" in str(
        denied.value
    )
    (denial,) = gate.authorizer.denials
    assert denial.role == "worker" and denial.call.action == "s3:GetObject"
    assert "results/s1/tracks.jsonl" in str(denial)


@needs_simulator
def test_the_list_bucket_prefix_condition_is_evaluated(gate: IamGate) -> None:
    s3 = _worker(gate, "s3")
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="jobs/")
    assert [item["Key"] for item in listed["Contents"]] == ["jobs/a.json"]
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.list_objects_v2(Bucket=BUCKET, Prefix="results/")
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.list_objects_v2(Bucket=BUCKET)  # no prefix: the condition key is absent


@needs_simulator
def test_a_missing_key_is_404_with_list_bucket_and_403_without(gate: IamGate) -> None:
    s3 = _worker(gate, "s3")
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=BUCKET, Key="jobs/missing.json")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    gate.authorizer.policies["worker"]["Statement"] = [
        s for s in POLICY["Statement"] if s["Action"] != "s3:ListBucket"
    ]
    with pytest.raises(ClientError) as denied:
        s3.head_object(Bucket=BUCKET, Key="jobs/missing-too.json")
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert gate.authorizer.denials[-1].call.action == "s3:ListBucket"


@needs_simulator
def test_resource_scoped_dynamodb_grants_hold_for_their_table_only(gate: IamGate) -> None:
    admin = _client(gate, "dynamodb", "testing", "testing")
    for name in (TABLE, "other"):
        admin.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        )
    db = _worker(gate, "dynamodb")
    assert "Item" not in db.get_item(TableName=TABLE, Key={"k": {"S": "x"}})
    with pytest.raises(ClientError, match="AccessDenied"):
        db.get_item(TableName="other", Key={"k": {"S": "x"}})
    with pytest.raises(ClientError, match="AccessDenied"):
        db.put_item(TableName=TABLE, Item={"k": {"S": "x"}})
    assert [d.call.action for d in gate.authorizer.denials] == [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
    ]


@needs_simulator
def test_an_unknown_access_key_is_refused(gate: IamGate) -> None:
    s3 = _client(gate, "s3", "AKIAUNKNOWN000000000", "x")
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.get_object(Bucket=BUCKET, Key="jobs/a.json")
