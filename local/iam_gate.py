"""IAM for the local stack: every call is checked against its role's synthesized policy.

The gate is an HTTP proxy in front of moto. Each role gets its own access key; the gate reads
the key from the request's SigV4 signature, works out what IAM authorizes for the request
(`local.iam_requests`), and asks `@cloud-copilot/iam-simulate` (a Node process running
`local/iam_simulator.mjs`) whether that role's policy allows it, conditions included. A denied
call is answered as AWS answers it (S3 ``AccessDenied``, DynamoDB ``AccessDeniedException``, SNS
``AuthorizationError``) and recorded, so the run fails naming the role, action and resource.

S3's rule for a missing key is kept too: without ``s3:ListBucket`` on the key's prefix, S3
answers 403, not 404. The administrator key (the harness that creates resources and uploads
videos, and the event plumbing that stands in for AWS services) passes unchecked.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import secrets
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from local.iam_requests import Call, Request, authorizations, signer
from local.ports import LOCALHOST

LOG = logging.getLogger(__name__)

SIMULATOR = Path(__file__).with_name("iam_simulator.mjs")
# Set to "off" to run the local stack without IAM checks (every key acts as administrator).
ENFORCE_ENV = "MOTFLOW_LOCAL_IAM"
ALLOWED = "Allowed"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


def enforcement_enabled(environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    return environ.get(ENFORCE_ENV, "on").strip().lower() not in ("off", "0", "false", "no")


@dataclass(frozen=True)
class Credentials:
    aws_access_key_id: str
    aws_secret_access_key: str

    def as_dict(self) -> dict[str, str]:
        return {
            "aws_access_key_id": self.aws_access_key_id,
            "aws_secret_access_key": self.aws_secret_access_key,
        }

    def environment(self) -> dict[str, str]:
        """The variables that make boto3 (and the AWS CLI) sign with these credentials."""
        return {
            "AWS_ACCESS_KEY_ID": self.aws_access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.aws_secret_access_key,
        }


@dataclass(frozen=True)
class Denial:
    role: str
    call: Call
    reason: str

    def __str__(self) -> str:
        return f"role {self.role} may not {self.call.describe()} ({self.reason})"


@dataclass
class CallLog:
    """Every authorization decided, by role (for the statement-removal test)."""

    calls: dict[str, set[Call]] = field(default_factory=dict)
    contexts: dict[tuple[str, Call], list[dict[str, str]]] = field(default_factory=dict)

    def add(self, role: str, call: Call) -> None:
        self.calls.setdefault(role, set()).add(call)
        seen = self.contexts.setdefault((role, call), [])
        if call.context not in seen:
            seen.append(dict(call.context))

    def records(self) -> list[dict[str, Any]]:
        return [
            {"role": role, "action": call.action, "resource": call.resource, "context": context}
            for role, calls in sorted(self.calls.items())
            for call in sorted(calls, key=lambda c: (c.action, c.resource))
            for context in self.contexts[(role, call)]
        ]


class Simulator:
    """One `iam_simulator.mjs` process; `evaluate` is thread-safe and caches answers."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError(f"IAM checks need Node.js (or set {ENFORCE_ENV}=off)")
        self._process = subprocess.Popen(
            [node, str(SIMULATOR)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=SIMULATOR.parent,
        )
        self._lock = threading.Lock()
        self._cache: dict[str, str] = {}
        probe = self.evaluate(
            {"Version": "2012-10-17", "Statement": []}, "s3:GetObject", "arn:aws:s3:::b/k", {}
        )
        if probe == "Error":
            raise RuntimeError(
                "the IAM simulator did not start; run `npm ci` (package.json pins "
                f"@cloud-copilot/iam-simulate) or set {ENFORCE_ENV}=off"
            )

    def evaluate(
        self,
        policy: Mapping[str, Any],
        action: str,
        resource: str,
        context: Mapping[str, str],
        account: str = "123456789012",
    ) -> str:
        request = {
            "policy": policy,
            "action": action,
            "resource": resource,
            "context": dict(context),
            "account": account,
            "principal": f"arn:aws:iam::{account}:role/motflow-local",
        }
        text = json.dumps(request, sort_keys=True)
        with self._lock:
            if text in self._cache:
                return self._cache[text]
            if self._process.poll() is not None or self._process.stdin is None:
                return "Error"
            try:
                self._process.stdin.write(text + "\n")
                self._process.stdin.flush()
                line = self._process.stdout.readline() if self._process.stdout else ""
            except (BrokenPipeError, OSError):
                return "Error"
            answer = json.loads(line) if line else {"result": "Error"}
            if answer["result"] == "Error":
                LOG.warning("IAM simulator error for %s on %s: %s", action, resource, answer)
            self._cache[text] = answer["result"]
            return answer["result"]

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


class Authorizer:
    """Maps access keys to roles and decides each role's calls against its policy."""

    def __init__(
        self,
        policies: Mapping[str, Mapping[str, Any]],
        *,
        account: str,
        region: str,
        admin_key: str,
        enforce: bool = True,
    ) -> None:
        self.policies = {role: dict(policy) for role, policy in policies.items()}
        self.account, self.region, self.enforce = account, region, enforce
        self.credentials = {
            role: Credentials("ASIA" + secrets.token_hex(8).upper(), secrets.token_hex(20))
            for role in self.policies
        }
        self._roles = {c.aws_access_key_id: role for role, c in self.credentials.items()}
        self._admin_key = admin_key
        self._simulator = Simulator() if enforce else None
        self._lock = threading.Lock()
        self.denials: list[Denial] = []
        self.log = CallLog()

    def role_of(self, access_key: str | None) -> str | None:
        """The role of `access_key`; None for the administrator. Unknown keys are refused."""
        if access_key is None or access_key == self._admin_key:
            return None
        return self._roles.get(access_key, f"unknown access key {access_key}")

    def check(self, role: str, calls: list[Call]) -> Denial | None:
        """The first of `calls` that `role` may not make, recorded; None when all are allowed."""
        for call in calls:
            with self._lock:
                self.log.add(role, call)
            if not self.enforce or self._simulator is None:
                continue
            policy = self.policies.get(role)
            if policy is None:
                return self._deny(role, call, "no such role")
            result = self._simulator.evaluate(
                policy, call.action, call.resource, call.context, self.account
            )
            if result != ALLOWED:
                return self._deny(role, call, f"{result}: no statement of its policy allows it")
        return None

    def refusal(self, headers: Mapping[str, str], calls: list[Call]) -> str | None:
        """Why the signer of a request with `headers` may not make `calls` (None: it may)."""
        signed = signer(Request("POST", "/", dict(headers), b""))
        role = self.role_of(signed[0] if signed else None)
        if role is None:
            return None
        denial = self.check(role, calls)
        return access_denied_message(role, denial.call, self.account) if denial else None

    def allows(self, role: str, call: Call) -> bool:
        """Whether `role`'s policy allows `call` (no recording)."""
        if not self.enforce or self._simulator is None:
            return True
        result = self._simulator.evaluate(
            self.policies[role], call.action, call.resource, call.context, self.account
        )
        return result == ALLOWED

    def record(self, role: str, call: Call) -> None:
        """Log `call` as made by `role` without deciding it."""
        with self._lock:
            self.log.add(role, call)

    def record_denial(self, role: str, call: Call, reason: str) -> Denial:
        return self._deny(role, call, reason)

    def _deny(self, role: str, call: Call, reason: str) -> Denial:
        denial = Denial(role, call, reason)
        with self._lock:
            self.denials.append(denial)
        LOG.error("IAM: %s", denial)
        return denial

    def close(self) -> None:
        if self._simulator is not None:
            self._simulator.close()


def access_denied_message(role: str, call: Call, account: str) -> str:
    """AWS's wording for an identity-policy denial."""
    return (
        f"User: arn:aws:sts::{account}:assumed-role/motflow-local-{role}/local is not "
        f"authorized to perform: {call.action} on resource: {call.resource} because no "
        f"identity-based policy allows the {call.action} action"
    )


class IamGate:
    """An HTTP proxy in front of `upstream_url` that enforces `authorizer`. A context manager."""

    def __init__(self, upstream_url: str, authorizer: Authorizer) -> None:
        self.upstream = urlsplit(upstream_url)
        self.authorizer = authorizer
        self._server = ThreadingHTTPServer((LOCALHOST, 0), _proxy_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="iam-gate", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> IamGate:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def decide(self, request: Request) -> tuple[str | None, list[Call], Denial | None]:
        """(role, calls, denial) for one request; the role is None for the administrator."""
        signed = signer(request)
        access_key, service = signed if signed else (None, "")
        role = self.authorizer.role_of(access_key)
        if role is None:
            return None, [], None
        calls = authorizations(request, service, self.authorizer.account, self.authorizer.region)
        return role, calls, self.authorizer.check(role, calls)

    def forward(self, request: Request) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(
            self.upstream.hostname or LOCALHOST, self.upstream.port, timeout=600
        )
        try:
            headers = {k: v for k, v in request.headers.items() if k not in _HOP_BY_HOP}
            headers["content-length"] = str(len(request.body))
            connection.request(request.method, request.path, body=request.body, headers=headers)
            reply = connection.getresponse()
            return reply.status, reply.getheaders(), reply.read()
        finally:
            connection.close()


def _denied_reply(service: str, role: str, call: Call, account: str) -> tuple[int, dict, bytes]:
    message = access_denied_message(role, call, account)
    request_id = str(uuid.uuid4())
    if service == "s3":
        body = (
            "<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
            f"<Message>{_xml(message)}</Message><RequestId>{request_id}</RequestId></Error>"
        )
        return 403, {"Content-Type": "application/xml"}, body.encode()
    if service in ("sns",):
        body = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>AuthorizationError</Code>"
            f"<Message>{_xml(message)}</Message></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>"
        )
        return 403, {"Content-Type": "text/xml"}, body.encode()
    body = json.dumps({"__type": "AccessDeniedException", "message": message})
    status = 400 if service == "dynamodb" else 403
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": "AccessDenied"}
    return status, headers, body.encode()


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _proxy_handler(gate: IamGate) -> type[BaseHTTPRequestHandler]:
    class ProxyHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            request = Request(
                method=self.command,
                path=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=self._read_body(),
            )
            try:
                role, calls, denial = gate.decide(request)
            except Exception as error:  # a request we cannot classify is refused, loudly
                LOG.exception("IAM gate: cannot classify %s %s", self.command, self.path)
                self._send(500, {"Content-Type": "text/plain"}, str(error).encode())
                return
            signed = signer(request)
            service = signed[1] if signed else ""
            if denial is not None and role is not None:
                self._send(*_denied_reply(service, role, denial.call, gate.authorizer.account))
                return
            status, headers, body = gate.forward(request)
            missing = self._missing_key_denial(role, service, calls, status)
            if missing is not None and role is not None:
                self._send(*_denied_reply(service, role, missing, gate.authorizer.account))
                return
            self._send(status, dict(headers), body, keep_length=self.command == "HEAD")

        def _missing_key_denial(
            self, role: str | None, service: str, calls: list[Call], status: int
        ) -> Call | None:
            """S3 answers 403 for a missing key unless the caller may list its prefix (the key
            read, or a copy's source)."""
            if role is None or service != "s3" or status != 404:
                return None
            reads = ("s3:GetObject", "s3:GetObjectVersion")
            call = next((c for c in calls if c.action in reads), None)
            if call is None:
                return None
            bucket_arn, _, key = call.resource.partition("/")
            listing = Call("s3:ListBucket", bucket_arn, {"s3:prefix": key})
            gate.authorizer.record(role, listing)  # a 404 needs this grant: log it
            if gate.authorizer.allows(role, listing):
                return None
            gate.authorizer.record_denial(
                role, listing, "S3 answers 403 for a missing key without ListBucket"
            )
            return call

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(
            self, status: int, headers: Mapping[str, str], body: bytes, keep_length: bool = False
        ) -> None:
            """Reply; a HEAD reply keeps the upstream's Content-Length (the object's size)."""
            self.send_response(status)
            length = str(len(body))
            for name, value in headers.items():
                if name.lower() == "content-length" and keep_length:
                    length = value
                elif name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", length)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _handle

        def log_message(self, format: str, *args: object) -> None:
            LOG.debug("iam gate: " + format, *args)

    return ProxyHandler


@contextlib.contextmanager
def iam_gate(upstream_url: str, authorizer: Authorizer) -> Iterator[IamGate]:
    """Run a gate for `authorizer` in front of `upstream_url`; close the simulator on exit."""
    try:
        with IamGate(upstream_url, authorizer) as gate:
            yield gate
    finally:
        authorizer.close()
