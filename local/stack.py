"""The whole local stack: moto, the model server, the async-endpoint emulator and the event pump.

`local_stack(run_dir)` starts everything on free 127.0.0.1 ports and tears it all down when the
context exits, on error or on interrupt. The Lambdas run in this process, unchanged, with the
environment the CDK stack gives them.
"""

from __future__ import annotations

import contextlib
import json
import os
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from local import discovery
from local.async_endpoint import AsyncEndpointEmulator, EndpointConfig
from local.environment import patched_environ
from local.event_pump import EventPump, Handler, Route, VersionIdFiller, sns_event_from_sqs
from local.iam_gate import Authorizer, Credentials, IamGate, enforcement_enabled, iam_gate
from local.iam_policies import local_role_policies
from local.iam_requests import Call
from local.model_server import ModelServer, start_model_server
from local.moto_service import ACCOUNT, REGION, MotoServer, fake_aws_environment, start_moto
from local.resources import LocalResources, create_resources
from local.schedule import Schedule
from local.stream_pump import StreamPump
from stacks import contract
from stacks.contract import ASYNC_FAILURE_PREFIX, ASYNC_OUTPUT_PREFIX
from stacks.model_artifact import build_model_artifact
from stacks.settings import Settings


class StackError(RuntimeError):
    """The local stack itself failed (not a job): the message says which part and why."""


@dataclass
class LocalStack:
    run_dir: Path
    settings: Settings
    resources: LocalResources
    session: boto3.Session
    moto: MotoServer
    model_server: ModelServer
    emulator: AsyncEndpointEmulator
    pump: EventPump
    submit: Any
    complete: Any
    jobs: Any
    s3_events: Any
    authorizer: Authorizer | None = None  # each role's credentials and the denials seen
    gate: IamGate | None = None

    @property
    def aws_endpoint_url(self) -> str:
        """Where AWS calls go: moto behind the IAM gate."""
        return self.gate.url if self.gate else self.moto.endpoint_url

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def as_role(self, handler: Handler, role: str) -> Handler:
        """`handler` with its AWS clients signing as `role` (as the stack runs its Lambdas)."""
        if self.authorizer is None:
            return handler
        return _as_role(handler, self.authorizer.credentials[role])

    def upload(self, video: Path, key: str | None = None) -> tuple[str, str]:
        """Put `video` under the input prefix (keeping its base name); return (key, job_id)."""
        key = key or f"{self.settings.input_prefix}{video.name}"
        with open(video, "rb") as body:
            reply = self.client("s3").put_object(
                Bucket=self.resources.input_bucket, Key=key, Body=body
            )
        version = reply.get("VersionId") or self.s3_events.normalise_etag(reply["ETag"])
        return key, self.jobs.job_id_for(self.resources.input_bucket, key, version)

    def job(self, job_id: str) -> dict[str, Any] | None:
        return self.jobs.get_job(job_id, self.resources.jobs_table)

    def wait_terminal(
        self,
        job_ids: list[str],
        timeout_s: float,
        finished_at: dict[str, float] | None = None,
        *,
        partial: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """Records of `job_ids` once all are terminal; StackError on timeout or a dead server.

        `finished_at`, when given, receives the monotonic time each job was seen terminal.
        With `partial`, a timeout returns the records that did finish instead of raising.
        Each distinct job id is waited on once, however often it is listed.
        """
        job_ids = list(dict.fromkeys(job_ids))
        deadline = time.monotonic() + timeout_s
        records: dict[str, dict[str, Any]] = {}
        while True:
            for job_id in job_ids:
                if job_id not in records:
                    record = self.job(job_id)
                    if record and record.get("status") in self.jobs.TERMINAL_STATES:
                        records[job_id] = record
                        if finished_at is not None:
                            finished_at[job_id] = time.monotonic()
            if len(records) == len(job_ids):
                return records
            self.check_alive()
            if time.monotonic() >= deadline and partial:
                return records
            if time.monotonic() >= deadline:
                waiting = {j: (self.job(j) or {}).get("status", "no record") for j in job_ids}
                raise StackError(
                    f"jobs not terminal after {timeout_s:.0f} s: "
                    + ", ".join(f"{j} ({s})" for j, s in waiting.items() if j not in records)
                    + self.diagnostics()
                )
            time.sleep(0.5)

    def check_alive(self) -> None:
        """StackError when a server died or an event went to a dead-letter queue."""
        sqs = self.client("sqs")
        for queue, url in self.resources.dead_letter_queue_urls.items():
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            if int(attributes["ApproximateNumberOfMessages"]):
                raise StackError(
                    f"an event on {queue} failed its handler repeatedly and went to its "
                    f"dead-letter queue{self.diagnostics()}"
                )
        if self.authorizer is not None and self.authorizer.denials:
            raise StackError(
                "IAM denied a call: "
                + "; ".join(map(str, self.authorizer.denials[:5]))
                + self.diagnostics()
            )
        for process in (self.moto.process, self.model_server.process):
            reason = process.exit_reason()
            if reason:
                raise StackError(f"{process.name} stopped while jobs were running: {reason}")

    def diagnostics(self) -> str:
        lines = []
        for route, stats in self.pump.stats.items():
            if stats.failures:
                lines.append(f"{route} handler failed {stats.failures}x: {stats.last_error}")
        lines.append(f"logs: {self.run_dir / 'logs'}, {self.model_server.log_dir}")
        return "\n" + "\n".join(lines)

    def download_results(self, job_id: str, destination: Path) -> list[Path]:
        """Copy s3://<work>/results/<job_id>/* to `destination`; returns the local files."""
        s3 = self.client("s3")
        prefix = contract.results_prefix(job_id)
        files = []
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.resources.work_bucket, Prefix=prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                relative = result_file_name(item["Key"], prefix)
                if relative is None:
                    continue
                target = destination / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(self.resources.work_bucket, item["Key"], str(target))
                files.append(target)
        return files


def result_file_name(key: str, prefix: str) -> str | None:
    """The local name of a result object: a plain file name directly under the job's folder.

    None for bookkeeping objects (the container's attempt claims) and for any key that would
    leave the folder (``..``, absolute parts, control characters).
    """
    relative = key[len(prefix) :] if key.startswith(prefix) else ""
    if (
        not relative
        or "/" in relative
        or "\\" in relative
        or relative in (".", "..")
        or not relative.isprintable()
    ):
        return None
    return relative


def lambda_environment(
    settings: Settings, resources: LocalResources, endpoint_url: str
) -> dict[str, str]:
    """What the CDK stack sets on the submit and complete Lambdas, pointed at the local stack."""
    defaults = contract.job_defaults(settings)
    return {
        **contract.sweeper_environment(
            jobs_table=resources.jobs_table,
            notify_topic_arn=resources.notifications_topic_arn,
            endpoint_name=resources.endpoint_name,
            defaults=defaults,
        ),
        **contract.submit_environment(
            jobs_table=resources.jobs_table,
            notify_topic_arn=resources.notifications_topic_arn,
            work_bucket=resources.work_bucket,
            endpoint_name=resources.endpoint_name,
            defaults=defaults,
        ),
        **contract.retry_environment(
            work_bucket=resources.work_bucket,
            endpoint_name=resources.endpoint_name,
            defaults=defaults,
        ),
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": endpoint_url,
    }


def unpack_model(settings: Settings, run_dir: Path) -> Path:
    """Build model.tar.gz exactly as a deployment does, unpack it to `<run>/ml/model`."""
    artifact = run_dir / "model.tar.gz"
    build_model_artifact(artifact, settings)
    model_dir = run_dir / "ml" / "model"
    model_dir.mkdir(parents=True)
    with tarfile.open(artifact, "r:gz") as archive:
        archive.extractall(model_dir, filter="data")
    return model_dir


def model_environment(settings: Settings, model_dir: Path) -> dict[str, str]:
    """The SageMaker model's environment (the model server maps /opt/ml/model itself)."""
    return contract.deployment_model_environment(settings)


@contextlib.contextmanager
def local_stack(
    run_dir: Path,
    settings: Settings | None = None,
    *,
    sweep_interval_s: float = contract.SWEEP_INTERVAL_S,
) -> Iterator[LocalStack]:
    """Start every component; yield the running stack; stop everything on exit.

    The sweeper runs on the deployed schedule unless `sweep_interval_s` says otherwise; its
    deadlines are the deployed ones either way.
    """
    settings = settings or Settings()
    run_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        moto = _start(stack, "moto server", lambda: start_moto(run_dir, os.environ))
        admin = fake_aws_environment(moto.endpoint_url, REGION)
        authorizer = _start(
            stack,
            "the IAM checks",
            lambda: contextlib.nullcontext(
                Authorizer(
                    local_role_policies(settings, ACCOUNT, REGION),
                    account=ACCOUNT,
                    region=REGION,
                    admin_key=admin["AWS_ACCESS_KEY_ID"],
                    enforce=enforcement_enabled(),
                )
            ),
        )
        gate = stack.enter_context(iam_gate(moto.endpoint_url, authorizer))
        # What each role called, for the statement-removal check (scripts/iam_mutation.py).
        stack.callback(_write_call_log, run_dir / CALL_LOG, authorizer)
        # Every client, in this process and in the model server, talks to moto through the gate.
        stack.enter_context(patched_environ(fake_aws_environment(gate.url, REGION)))
        session = boto3.Session(region_name=REGION)
        roles = authorizer.credentials
        names = contract.resource_names(settings.name_prefix, ACCOUNT, REGION)
        resources = create_resources(session, names, input_prefix=settings.input_prefix)
        model_dir = unpack_model(settings, run_dir)
        model_server = _start(
            stack,
            "the model server",
            lambda: start_model_server(
                run_dir,
                model_dir,
                model_env=model_environment(settings, model_dir),
                base_env=_role_environment(os.environ, roles["endpoint"]),
            ),
        )
        emulator = AsyncEndpointEmulator(
            EndpointConfig(
                endpoint_name=resources.endpoint_name,
                account=ACCOUNT,
                region=REGION,
                model_url=model_server.url,
                output_path=f"s3://{resources.work_bucket}/{ASYNC_OUTPUT_PREFIX}",
                failure_path=f"s3://{resources.work_bucket}/{ASYNC_FAILURE_PREFIX}",
                success_topic_arn=resources.success_topic_arn,
                error_topic_arn=resources.error_topic_arn,
                max_concurrent_invocations=settings.max_concurrent_invocations_per_instance,
            ),
            _role_session(roles["endpoint"]),
            authorize=lambda headers: authorizer.refusal(
                headers, [Call("sagemaker:InvokeEndpointAsync", _endpoint_arn(resources))]
            ),
        )
        stack.enter_context(emulator)
        stack.enter_context(patched_environ(lambda_environment(settings, resources, emulator.url)))
        # The handlers' EMF metric lines go to a file, not into the CLI's stdout (job_metrics).
        (run_dir / "logs").mkdir(parents=True, exist_ok=True)
        metrics_file = str(run_dir / "logs" / "job-metrics.jsonl")
        stack.enter_context(patched_environ({"MOTFLOW_METRICS_FILE": metrics_file}))
        from lambdas import complete, jobs, notifier, s3_events, submit, sweeper

        pump = EventPump(
            session,
            [
                Route(
                    "submit",
                    resources.uploads_queue_url,
                    _as_role(submit.handler, roles["submit"]),
                    VersionIdFiller(session.client("s3")),
                    contract.SUBMIT_TIMEOUT_S,
                ),
                Route(
                    "complete-success",
                    resources.success_queue_url,
                    _as_role(complete.handler, roles["complete"]),
                    sns_event_from_sqs,
                    contract.COMPLETE_TIMEOUT_S,
                ),
                Route(
                    "complete-error",
                    resources.error_queue_url,
                    _as_role(complete.handler, roles["complete"]),
                    sns_event_from_sqs,
                    contract.COMPLETE_TIMEOUT_S,
                ),
            ],
        )
        stack.enter_context(pump)
        # The jobs table's stream -> the notifier, as the deployed event source mapping does.
        stack.enter_context(
            StreamPump(
                session,
                resources.jobs_table,
                _as_role(notifier.handler, roles["notifier"]),
                batch_size=contract.NOTIFIER_BATCH_SIZE,
                retry_attempts=contract.NOTIFIER_RETRY_ATTEMPTS,
            )
        )
        stack.enter_context(
            Schedule(
                "sweeper",
                _as_role(sweeper.handler, roles["sweeper"]),
                sweep_interval_s,
                account=ACCOUNT,
                region=REGION,
                timeout_s=contract.SWEEPER_TIMEOUT_S,
            )
        )
        stack.callback(_discovery_path(run_dir).unlink, missing_ok=True)
        discovery.write(
            run_dir,
            {
                "endpoint_url": gate.url,
                "region": REGION,
                "pid": os.getpid(),
                "input_bucket": resources.input_bucket,
                "input_prefix": settings.input_prefix,
                "work_bucket": resources.work_bucket,
                "jobs_table": resources.jobs_table,
                "notifications_topic_arn": resources.notifications_topic_arn,
                "endpoint_name": resources.endpoint_name,
                "roles": {role: c.as_dict() for role, c in roles.items()},
                discovery.DEPLOYMENT_FIELD: contract.deployment_facts(settings),
            },
        )
        yield LocalStack(
            run_dir=run_dir,
            settings=settings,
            resources=resources,
            session=session,
            moto=moto,
            model_server=model_server,
            emulator=emulator,
            pump=pump,
            submit=submit,
            complete=complete,
            jobs=jobs,
            s3_events=s3_events,
            authorizer=authorizer,
            gate=gate,
        )


CALL_LOG = "iam-calls.jsonl"


def _write_call_log(path: Path, authorizer: Authorizer) -> None:
    lines = (json.dumps(record, sort_keys=True) for record in authorizer.log.records())
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _as_role(handler: Handler, credentials: Credentials) -> Handler:
    """`handler` with its AWS clients signing as its deployed role."""
    from lambdas import clients

    def run_as_role(event: dict[str, Any], context: Any) -> Any:
        with clients.credentials_for_context(credentials.as_dict()):
            return handler(event, context)

    return run_as_role


def _role_session(credentials: Credentials) -> boto3.Session:
    return boto3.Session(region_name=REGION, **credentials.as_dict())


def _role_environment(environ: Any, credentials: Credentials) -> dict[str, str]:
    """`environ` with the role's credentials in place of the administrator's."""
    env = {k: v for k, v in environ.items() if k != "AWS_SESSION_TOKEN"}
    env.update(credentials.environment())
    return env


def _endpoint_arn(resources: LocalResources) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{resources.endpoint_name}"


def _discovery_path(run_dir: Path) -> Path:
    return run_dir / discovery.DISCOVERY_FILE


def _start(stack: contextlib.ExitStack, what: str, start: Any) -> Any:
    try:
        return stack.enter_context(start())
    except (RuntimeError, TimeoutError, OSError) as error:
        raise StackError(f"could not start {what}: {error}") from error
