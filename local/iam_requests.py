"""What an AWS request asks IAM for: the actions, resources and condition keys of one HTTP call.

Covers the services the local stack serves (S3, DynamoDB, SNS, SQS, STS) the way their
service authorization references define the actions: S3 names the action after the object
operation (``HeadObject`` is ``s3:GetObject``, ``ListObjectsV2`` is ``s3:ListBucket`` with the
``s3:prefix`` key, a multipart upload is ``s3:PutObject``, a copy also reads its source),
DynamoDB after the operation on each table or index it names, SNS and SQS after the operation
on the topic or queue. Anything else is named ``<service>:<Operation>`` on ``*``, so a role
that has no grant for it is denied rather than waved through.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree import ElementTree

# SigV4 signing names that differ from the IAM service prefix.
IAM_PREFIX = {"monitoring": "cloudwatch", "email": "ses", "execute-api": "execute-api"}
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/[^/]+/([^/,\s]+)/aws4_request")
# S3 bucket sub-resources that are reads of the bucket's configuration.
_BUCKET_READS = {
    "location": "s3:GetBucketLocation",
    "versioning": "s3:GetBucketVersioning",
    "notification": "s3:GetBucketNotification",
    "policy": "s3:GetBucketPolicy",
    "encryption": "s3:GetEncryptionConfiguration",
    "lifecycle": "s3:GetLifecycleConfiguration",
    "tagging": "s3:GetBucketTagging",
    "acl": "s3:GetBucketAcl",
    "uploads": "s3:ListBucketMultipartUploads",
    "versions": "s3:ListBucketVersions",
}


@dataclass(frozen=True)
class Call:
    """One IAM authorization: `action` on `resource` with condition `context`."""

    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def describe(self) -> str:
        keys = "".join(f" [{k}={v}]" for k, v in sorted(self.context.items()))
        return f"{self.action} on {self.resource}{keys}"


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # the raw path and query, as sent
    headers: dict[str, str]  # lower-case names
    body: bytes


def signer(request: Request) -> tuple[str, str] | None:
    """(access key id, IAM service prefix) of a SigV4-signed request; None when unsigned."""
    text = request.headers.get("authorization", "")
    if not text:
        query = parse_qs(urlsplit(request.path).query)
        text = "Credential=" + query.get("X-Amz-Credential", [""])[0]
    match = _CREDENTIAL.search(text)
    if match is None:
        return None
    return match[1], IAM_PREFIX.get(match[2], match[2])


def authorizations(request: Request, service: str, account: str, region: str) -> list[Call]:
    """Every IAM authorization `request` needs."""
    if service == "s3":
        return _s3(request)
    operation, params = _operation(request)
    arn = f"arn:aws:{service}:{region}:{account}:"
    if service == "sts" and operation == "GetCallerIdentity":
        return []  # needs no permission
    if service == "dynamodb":
        return _dynamodb(operation, params, arn)
    if service == "sns":
        topic = params.get("TopicArn") or params.get("TargetArn")
        if operation == "CreateTopic":
            topic = arn + str(params.get("Name", ""))
        return [Call(f"sns:{operation}", str(topic or "*"))]
    if service == "sqs":
        url = params.get("QueueUrl") or params.get("QueueName") or ""
        name = str(url).rstrip("/").rsplit("/", 1)[-1]
        return [Call(f"sqs:{operation}", arn + name if name else "*")]
    return [Call(f"{service}:{operation}", "*")]


def _operation(request: Request) -> tuple[str, dict[str, object]]:
    """The operation and parameters of a JSON (X-Amz-Target) or query (Action=) request."""
    target = request.headers.get("x-amz-target")
    if target:
        try:
            params = json.loads(request.body or b"{}")
        except ValueError:
            params = {}
        return target.rsplit(".", 1)[-1], params if isinstance(params, dict) else {}
    form = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    form.update(parse_qs(urlsplit(request.path).query, keep_blank_values=True))
    params = {name: values[0] for name, values in form.items()}
    return str(params.get("Action", "Unknown")), params


def _dynamodb(operation: str, params: dict[str, object], arn: str) -> list[Call]:
    def table(name: object, index: object = None) -> str:
        return f"{arn}table/{name}" + (f"/index/{index}" if index else "")

    if operation in ("BatchGetItem", "BatchWriteItem"):
        items = params.get("RequestItems") or {}
        return [Call(f"dynamodb:{operation}", table(name)) for name in dict(items)]
    if operation in ("TransactGetItems", "TransactWriteItems"):
        calls = []
        for item in params.get("TransactItems") or []:
            for kind, spec in dict(item).items():
                action = {"Get": "GetItem", "Put": "PutItem", "Update": "UpdateItem"}.get(
                    kind, "DeleteItem" if kind == "Delete" else "ConditionCheckItem"
                )
                calls.append(Call(f"dynamodb:{action}", table(spec.get("TableName"))))
        return calls
    if "TableName" in params:
        return [Call(f"dynamodb:{operation}", table(params["TableName"], params.get("IndexName")))]
    return [Call(f"dynamodb:{operation}", "*")]


def _s3(request: Request) -> list[Call]:
    parts = urlsplit(request.path)
    query = parse_qs(parts.query, keep_blank_values=True)
    bucket, _, key = parts.path.lstrip("/").partition("/")
    bucket, key = unquote(bucket), unquote(key)
    method = request.method.upper()
    if not bucket:
        return [Call("s3:ListAllMyBuckets", "*")]
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if key:
        return _s3_object(method, query, request, bucket_arn, key)
    if method in ("GET", "HEAD"):
        listing = {}
        for name in ("prefix", "delimiter"):
            if name in query:
                listing[f"s3:{name}"] = query[name][0]
        sub = next((name for name in _BUCKET_READS if name in query), None)
        if sub in ("versions", "uploads"):
            return [Call(_BUCKET_READS[sub], bucket_arn, listing)]
        if sub:
            return [Call(_BUCKET_READS[sub], bucket_arn)]
        if method == "GET" and query and not {"list-type", "prefix", "delimiter"} & set(query):
            return [Call(f"s3:GetBucket{_title(next(iter(query)))}", bucket_arn)]
        return [Call("s3:ListBucket", bucket_arn, listing)]
    if method == "POST" and "delete" in query:
        return [
            Call("s3:DeleteObject", f"{bucket_arn}/{element.text}")
            for element in ElementTree.fromstring(request.body or b"<Delete/>").iter()
            if element.tag.endswith("Key")
        ]
    sub = next(iter(query), "") if query else ""
    verb = {"PUT": "Put", "DELETE": "Delete", "POST": "Put"}.get(method, method.title())
    if not sub:
        return [Call("s3:CreateBucket" if method == "PUT" else f"s3:{verb}Bucket", bucket_arn)]
    return [Call(f"s3:{verb}Bucket{_title(sub)}", bucket_arn)]


def _s3_object(
    method: str, query: dict[str, list[str]], request: Request, bucket_arn: str, key: str
) -> list[Call]:
    resource = f"{bucket_arn}/{key}"
    versioned = "versionId" in query
    if method in ("GET", "HEAD"):
        if "uploadId" in query:
            return [Call("s3:ListMultipartUploadParts", resource)]
        for sub in ("tagging", "acl", "attributes", "retention", "legal-hold"):
            if sub in query:
                name = {"attributes": "Attributes", "legal-hold": "LegalHold"}.get(sub, _title(sub))
                return [Call(f"s3:GetObject{'Version' if versioned else ''}{name}", resource)]
        return [Call("s3:GetObjectVersion" if versioned else "s3:GetObject", resource)]
    if method in ("PUT", "POST"):
        if "tagging" in query:
            return [Call("s3:PutObjectTagging", resource)]
        calls = [Call("s3:PutObject", resource)]
        source = request.headers.get("x-amz-copy-source")
        if source:
            path, _, version = unquote(source).lstrip("/").partition("?versionId=")
            action = "s3:GetObjectVersion" if version else "s3:GetObject"
            calls.append(Call(action, f"arn:aws:s3:::{path}"))
        return calls
    if method == "DELETE":
        if "uploadId" in query:
            return [Call("s3:AbortMultipartUpload", resource)]
        return [Call("s3:DeleteObjectVersion" if versioned else "s3:DeleteObject", resource)]
    return [Call(f"s3:{method.title()}Object", resource)]


def _title(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", name))
