"""The model server as the image starts it (`container/serve`): /ping, a manifest invocation that
streams from S3, a worker killed mid-request, a broken model, and a clean shutdown.
"""

from __future__ import annotations

import json
import os
import signal
import tarfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import psutil
import pytest
from moto.server import ThreadedMotoServer

from local.model_server import ModelServer, ping, start_model_server
from local.moto_service import REGION, fake_aws_environment
from stacks import contract
from stacks.model_artifact import build_model_artifact
from stacks.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKERS = 2
BUCKET = "work"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """model.tar.gz exactly as a deployment builds it, unpacked."""
    root = tmp_path_factory.mktemp("ml")
    artifact = build_model_artifact(root / "model.tar.gz", Settings())
    with tarfile.open(artifact, "r:gz") as archive:
        archive.extractall(root / "model", filter="data")
    return root / "model"


def _environment(moto_url: str) -> dict[str, str]:
    return {**os.environ, **fake_aws_environment(moto_url, REGION)}


@pytest.fixture(scope="module")
def server(model_dir: Path, moto_url: str, tmp_path_factory: pytest.TempPathFactory):
    env = contract.model_environment(invocation_timeout_s=600, workers=WORKERS)
    with start_model_server(
        tmp_path_factory.mktemp("run"), model_dir, model_env=env, base_env=_environment(moto_url)
    ) as running:
        yield running


def _post(url: str, body: bytes, content_type: str, timeout: float = 300) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"{url}/invocations", data=body, headers={"Content-Type": content_type}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _workers(server: ModelServer) -> list[psutil.Process]:
    root = psutil.Process(server.process.popen.pid)
    return [
        child for child in root.children(recursive=True) if "spawn" in " ".join(child.cmdline())
    ]


def _s3(moto_url: str):
    env = fake_aws_environment(moto_url, REGION)
    return boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    ).client("s3", endpoint_url=moto_url)


def _upload(moto_url: str, video: Path) -> str:
    s3 = _s3(moto_url)
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    s3.upload_file(str(video), BUCKET, f"videos/{video.name}")
    return f"s3://{BUCKET}/videos/{video.name}"


def test_ping_is_healthy_with_one_process_per_worker(server: ModelServer) -> None:
    status, body = server.ping()
    assert status == 200 and body["status"] == "Healthy", body
    assert len(_workers(server)) == WORKERS


def test_manifest_invocation_streams_the_video_from_s3(
    server: ModelServer, moto_url: str, sample_video: Path
) -> None:
    manifest = {
        "job_id": "job-1",
        "video": _upload(moto_url, sample_video),
        "output": f"s3://{BUCKET}/results/job-1/",
        "options": {"stride": 10},
    }
    status, body = _post(server.url, json.dumps(manifest).encode(), "application/json")
    assert status == 200, body
    summary = json.loads(body)
    assert summary["job_id"] == "job-1" and summary["counts"]["tracks"] >= 1
    s3 = _s3(moto_url)
    keys = {
        o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="results/job-1/")["Contents"]
    }
    assert {"results/job-1/tracks.txt", "results/job-1/summary.json"} <= keys


def test_bad_requests_get_4xx_with_a_message(server: ModelServer) -> None:
    status, body = _post(server.url, b"{not json", "application/json")
    assert status == 400 and b"not valid JSON" in body
    status, body = _post(server.url, b"1,2", "text/csv")
    assert status == 415 and b"unsupported content type" in body


def test_ping_answers_while_every_worker_is_busy_and_a_killed_worker_is_replaced(
    server: ModelServer, sample_video: Path
) -> None:
    body = sample_video.read_bytes()
    replies: list[tuple[int, bytes]] = []
    senders = [
        threading.Thread(target=lambda: replies.append(_post(server.url, body, "video/mp4")))
        for _ in range(WORKERS)
    ]
    for sender in senders:
        sender.start()
    busy = _wait_for_busy_workers(server, WORKERS)
    started = time.monotonic()
    status, _ = server.ping()
    assert status == 200 and time.monotonic() - started < 2.0
    assert len(replies) < WORKERS, replies  # the victim's request is still in it
    victim = busy[0]  # the later starter, mid-request
    victim.send_signal(signal.SIGKILL)
    for sender in senders:
        sender.join(timeout=300)
    statuses = sorted(code for code, _ in replies)
    assert statuses == [200, 500], replies
    died = next(text for code, text in replies if code == 500)
    assert died.startswith(b"Worker died."), died  # lambdas/reasons.py treats it as transient
    _wait(lambda: server.ping()[0] == 200 and len(_workers(server)) == WORKERS, 120)
    assert victim.pid not in {worker.pid for worker in _workers(server)}
    assert _post(server.url, body, "video/mp4")[0] == 200


def _wait_for_busy_workers(server: ModelServer, count: int) -> list[psutil.Process]:
    """Workers that have spent 0.3 s of CPU on a request and are still spending it (CPU time
    grew over the last 0.3 s, looked at every 0.05 s), the one that has spent least first: on a
    fast machine the first request may be near its end when the second worker is seen busy."""
    workers = _workers(server)
    start = {w.pid: sum(w.cpu_times()[:2]) for w in workers}
    looks = [start]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.05)
        looks = [*looks[-5:], {w.pid: sum(w.cpu_times()[:2]) for w in workers}]
        now, before = looks[-1], looks[0]
        busy = [
            w for w in workers if now[w.pid] - start[w.pid] >= 0.3 and now[w.pid] > before[w.pid]
        ]
        if len(busy) >= count:
            return sorted(busy, key=lambda w: now[w.pid] - start[w.pid])
    raise AssertionError("the workers never got busy")


def _wait(condition, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def test_a_model_that_does_not_load_is_unhealthy_and_refuses_work(
    model_dir: Path, tmp_path: Path, moto_url: str
) -> None:
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "code").symlink_to(model_dir / "code", target_is_directory=True)
    (broken / "config.json").write_text(json.dumps({"detector": "nanodet-g", "weights": "gone"}))
    env = contract.model_environment(invocation_timeout_s=60, workers=1)
    with (
        pytest.raises(RuntimeError, match="could not load the model: ModelConfigError"),
        start_model_server(
            tmp_path / "run", broken, model_env=env, base_env=_environment(moto_url)
        ),
    ):
        pass


@pytest.mark.parametrize(("grace_s", "expected"), [(600, 200), (0, 503)])
def test_sigterm_finishes_or_fails_in_flight_work_and_leaves_no_process(
    model_dir: Path, tmp_path: Path, moto_url: str, sample_video: Path, grace_s: int, expected: int
) -> None:
    env = contract.model_environment(invocation_timeout_s=600, workers=1)
    base_env = {**_environment(moto_url), "MOTFLOW_SHUTDOWN_GRACE_S": str(grace_s)}
    with start_model_server(
        tmp_path / "run", model_dir, model_env=env, base_env=base_env
    ) as running:
        workers = _workers(running)
        reply: list[tuple[int, bytes]] = []
        sender = threading.Thread(
            target=lambda: reply.append(_post(running.url, sample_video.read_bytes(), "video/mp4"))
        )
        sender.start()
        _wait_for_busy_workers(running, 1)
        assert not reply  # still in flight
        running.process.popen.send_signal(signal.SIGTERM)
        _wait(lambda: ping(running.url)[0] in (0, 503), 10)  # not healthy once stopping
        sender.join(timeout=300)
        # uvicorn re-raises the captured SIGTERM once shut down, so the exit is "by SIGTERM".
        assert running.process.popen.wait(timeout=60) in (0, -signal.SIGTERM)
        # Within the grace time the job finishes; past it, the caller gets a 503 to retry on.
        assert reply and reply[0][0] == expected, reply
        assert not any(worker.is_running() for worker in workers)
