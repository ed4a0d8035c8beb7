"""The `motflow` command's pure parts: the entry point, stack discovery, display, parsing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from cli import display, jobs_api
from cli import main as cli
from cli.errors import CliError
from local import discovery
from model_code import __version__
from stacks import contract

REPO_ROOT = Path(__file__).resolve().parents[3]
INFO = {
    "endpoint_url": "http://127.0.0.1:1",
    "region": "us-east-1",
    "input_bucket": "in",
    "input_prefix": "videos/",
    "work_bucket": "work",
    "jobs_table": "jobs",
    "notifications_topic_arn": "arn:aws:sns:us-east-1:123456789012:n",
    "endpoint_name": "e",
    "roles": {"operator": {"aws_access_key_id": "ASIA0", "aws_secret_access_key": "s"}},
}


def test_the_console_script_and_version_come_from_one_place(
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["motflow"] == "motflow.console:main"
    assert project["tool"]["setuptools"]["dynamic"]["version"]["attr"] == "model_code.__version__"
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"motflow {__version__}"
    reply = subprocess.run(
        [sys.executable, "-m", "cli", "list", "--local"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), discovery.DISCOVERY_ENV: "/nonexistent"},
        timeout=60,
    )
    assert reply.returncode == 2 and reply.stdout == ""
    assert reply.stderr == (
        "error: no local stack is running; start one with `python -m local up`"
        " (or `motflow local up`) and keep it open\n"
    )


def test_discovery_finds_the_newest_live_stack_and_ignores_dead_ones(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    old, new, stale = (tmp_path / name for name in ("old", "new", "stale"))
    for folder in (old, new, stale):
        folder.mkdir()
    discovery.write(old, {**INFO, "pid": os.getpid(), "jobs_table": "old"})
    discovery.write(new, {**INFO, "pid": os.getpid(), "jobs_table": "new"})
    os.utime(old / discovery.DISCOVERY_FILE, (1, 1))
    discovery.write(stale, {**INFO, "pid": int(dead.stdout), "jobs_table": "stale"})
    assert discovery.find(tmp_path, {})["jobs_table"] == "new"
    assert discovery.find(tmp_path, {discovery.DISCOVERY_ENV: str(old)})["jobs_table"] == "old"
    assert discovery.find(tmp_path, {discovery.DISCOVERY_ENV: str(stale)}) is None
    with pytest.raises(ValueError, match="missing endpoint_url"):
        discovery.write(tmp_path, {k: v for k, v in INFO.items() if k != "endpoint_url"})


def test_the_tracking_stack_name_matches_the_app() -> None:
    from stacks.application import _stack_name

    for prefix in ("motflow", "team-a-motflow"):
        assert contract.tracking_stack_name(prefix) == f"{_stack_name(prefix)}Tracking"


def test_running_is_a_queued_job_whose_container_reports_progress() -> None:
    record = {"job_id": "j", "status": "QUEUED", "created_at": "2026-12-01T10:00:00.000Z"}
    progress = {"frame": 30, "frames_total": 120, "fps": 12.5, "eta_s": 7.2}
    assert jobs_api.job_view(record, None)["status"] == "QUEUED"
    running = jobs_api.job_view(record, progress)
    assert running["status"] == "RUNNING" and running["progress"] == progress
    done = jobs_api.job_view({**record, "status": "SUCCEEDED"}, progress)
    assert done["status"] == "SUCCEEDED" and done["progress"] is None


def test_a_long_video_shows_its_segments() -> None:
    record = {"job_id": "p", "status": "QUEUED", "segments": ["p-s000", "p-s001", "p-s002"]}
    waiting = jobs_api.job_view(record, None, {"total": 3, "succeeded": 0, "failed": 0})
    assert waiting["status"] == "QUEUED"
    running = jobs_api.job_view(record, None, {"total": 3, "succeeded": 2, "failed": 0})
    assert running["status"] == "RUNNING"
    assert ("segments  2/3 segments done") in display.status_lines(running)
    assert display.segments_text({"total": 3, "succeeded": 1, "failed": 1}) == (
        "1/3 segments done, 1 failed"
    )
    assert display.segments_text(None) == ""


def test_progress_text_shows_bar_frames_rate_and_eta() -> None:
    text = display.progress_text({"frame": 30, "frames_total": 120, "fps": 12.5, "eta_s": 95})
    assert text == f"[{'#' * 6}{'-' * 18}]  25%  30/120 frames  12.5 fps  ETA 1 min 35 s"
    assert display.progress_text({"frame": 7, "frames_total": None, "fps": 2}) == (
        "frame 7  2.0 fps"
    )
    assert display.progress_text(None) == ""


def test_option_and_duration_parsing_name_the_problem() -> None:
    assert jobs_api.parse_options(
        ["stride=2", "tracker.track_buffer_s=9", "classes=person,car"]
    ) == {
        "stride": 2,
        "tracker": {"track_buffer_s": 9},
        "classes": ["person", "car"],
    }
    assert jobs_api.parse_duration("90m") == timedelta(minutes=90)
    for bad, message in ((["stride"], "--option expects KEY=VALUE"), (["stride=x"], "'stride'")):
        with pytest.raises(CliError, match=message):
            jobs_api.parse_options(bad)
    with pytest.raises(CliError, match="like 30m"):
        jobs_api.parse_duration("soon")


def test_status_lines_for_a_failed_job_show_the_reason() -> None:
    view = jobs_api.job_view(
        {
            "job_id": "j",
            "status": "FAILED",
            "reason": "The video cannot be opened.",
            "options": {"tracker": {"track_buffer_s": 9}},
        },
        None,
    )
    lines = display.status_lines(view)
    assert lines[:3] == [
        "job      j",
        "status   FAILED",
        "reason   The video cannot be opened.",
    ]
    assert 'options  tracker={"track_buffer_s":9}' in lines
    assert json.loads(json.dumps(view, default=str))["status"] == "FAILED"


def _motflow(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """`motflow ARGS` in-process with no local stack and no AWS settings: (exit code, stderr)."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "MOTFLOW_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv(discovery.DISCOVERY_ENV, "/nonexistent")
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(name, "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code = cli.main(args)
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err


def test_no_stack_at_all_says_so_and_a_bad_file_is_named_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _motflow(["status", "X"], monkeypatch, capsys)
    assert code == 2
    assert err.startswith("error: no local stack running and no deployed stack configured"), err
    assert "motflow local up" in err and "AWS_REGION" in err
    # The file is checked before any stack: a folder is called a folder, a typo no such file.
    code, err = _motflow(["submit", str(tmp_path)], monkeypatch, capsys)
    assert code == 2 and f"{tmp_path} is a folder, not a video file" in err
    code, err = _motflow(["submit", str(tmp_path / "nope.mp4")], monkeypatch, capsys)
    assert code == 2 and "no such file" in err


def test_aws_region_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    from cli import target

    seen: dict[str, object] = {}

    def deployed(stack: str, region: str | None, profile: str | None) -> str:
        seen.update(stack=stack, region=region)
        return "target"

    monkeypatch.setattr(target, "deployed_target", deployed)
    monkeypatch.setenv(discovery.DISCOVERY_ENV, "/nonexistent")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.delenv(target.STACK_ENV, raising=False)
    args = cli.parser().parse_args(["status", "X"])
    assert target.resolve(args) == "target" and seen["region"] == "eu-west-3"
    args = cli.parser().parse_args(["status", "X", "--region", "ap-south-1", "--stack", "S"])
    assert target.resolve(args) == "target" and seen == {"stack": "S", "region": "ap-south-1"}


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["submit"],
        ["status"],
        ["list"],
        ["results"],
        ["watch"],
        ["retry"],
        ["open"],
        ["train"],
        ["local"],
        ["local", "run"],
        ["local", "up"],
    ],
)
def test_help_and_json_everywhere(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main([*command, "--help"])
    shown = capsys.readouterr().out
    assert done.value.code == 0 and shown.startswith("usage: motflow")
    if command and command != ["local"]:
        assert "--json" in shown, f"motflow {' '.join(command)} has no --json"


def test_a_cause_that_ends_its_sentence_is_not_followed_by_a_stray_semicolon() -> None:
    error = CliError("job j is REJECTED: classes: 'persn' is not a class.", "fix it")
    assert str(error) == "job j is REJECTED: classes: 'persn' is not a class; fix it"


def test_results_of_a_rejected_job_and_a_missing_source_bucket_name_their_cause(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3
    from moto import mock_aws

    from cli import target

    with mock_aws():
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        session.client("s3").create_bucket(Bucket="in-bucket")
        where = target.Target("test stack", session, None, "in-bucket", "videos/", "work", "jobs")
        monkeypatch.setattr(target, "resolve", lambda args: where)
        monkeypatch.setattr(
            jobs_api,
            "job",
            lambda where, job_id: {"job_id": job_id, "status": "REJECTED", "reason": "Bad."},
        )
        assert cli.main(["results", "j"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: job j is REJECTED: Bad; it has no results;"), err
        assert "motflow retry j" in err and ".;" not in err
        assert cli.main(["submit", "s3://no-such-bucket/clip.mp4"]) == 2
        err = capsys.readouterr().err
        assert "NoSuchBucket" in err and "check the bucket in s3://no-such-bucket/clip.mp4" in err
        assert "motflow status" not in err


def test_watch_ends_with_the_jobs_message() -> None:
    from lambdas import job_core, notify

    record = {
        "job_id": "j",
        "status": "REJECTED",
        "failed_stage": "validation",
        "reason": "classes: 'persn' is not a class.",
    }
    outbox = notify.outbox_for({**record, "key": "videos/walk.mp4", "video": "s3://in/walk.mp4"})
    assert outbox is not None
    message = job_core.notification({**record, notify.OUTBOX: outbox})
    assert message is not None and message["subject"] == outbox["subject"]
    assert message["message"]["status"] == "REJECTED"
    lines = display.notification_lines(message)
    assert lines[1] == f"notification  {outbox['subject']}"
    assert any("persn" in line for line in lines[2:])
    assert job_core.notification(record) is None


def test_options_the_deployment_cannot_run_are_refused_before_any_upload(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from cli import target

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not uploaded")
    deployment = {"job_options": {"detector": "nanodet-g"}, "trained_classes": False}
    where = target.Target("test stack", None, None, "in", "videos/", "w", "j", deployment)  # type: ignore[arg-type]
    monkeypatch.setattr(target, "resolve", lambda args: where)
    uploads: list[str] = []
    monkeypatch.setattr(jobs_api, "submit", lambda *args: uploads.append("x") or ("k", "j"))
    for option, named in (
        ("classes=persn", "option 'classes' names 'persn', not a class of nanodet-g"),
        ("detector=yolov3-tiny", "serves only 'nanodet-g'"),
        ("tracker.low_threshold=0.99", "must not exceed"),
    ):
        assert cli.main(["submit", str(clip), "-o", option]) == 2, option
        err = capsys.readouterr().err
        assert named in err and err.count("\n") == 1, err
    assert uploads == []
    # Trained classes are the container's to check; a deployment the CLI knows nothing of is
    # left to submit.
    for facts in ({**deployment, "trained_classes": True}, None):
        monkeypatch.setattr(target, "resolve", lambda args, f=facts: replace(where, deployment=f))
        assert cli.main(["submit", str(clip), "-o", "classes=persn"]) == 0
    assert uploads == ["x", "x"]


def test_the_job_verbs_import_no_engine_and_train_says_what_it_needs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from cli import main; main.parser(['status', 'X']);"
            " print(' '.join(sorted(m for m in sys.modules if '.' not in m)))",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        timeout=60,
        check=True,
    ).stdout.split()
    assert "boto3" in loaded
    assert not {"torch", "numpy", "av", "cv2", "moto"} & set(loaded), loaded
    monkeypatch.setitem(sys.modules, "cli.train", None)  # as if torch were not installed
    assert cli.main(["train", "--data", "d", "--out", "o"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: `motflow train` needs the training packages")
        and err.count("\n") == 1
    ), err


def test_the_local_stack_is_found_from_the_working_directory_or_the_state_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(discovery.STATE_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert discovery.runs_dir() == tmp_path / ".local-runs"
    monkeypatch.setenv(discovery.STATE_DIR_ENV, str(tmp_path / "state"))
    assert discovery.runs_dir() == tmp_path / "state"


def test_list_uses_the_job_stores_status_query_newest_first_and_since() -> None:
    import boto3
    from moto import mock_aws

    from cli import target
    from lambdas import jobs
    from local.resources import create_jobs_table

    assert jobs.STATUS_INDEX_SORT == contract.STATUS_INDEX_SORT
    assert jobs.STATUS_INDEX == contract.STATUS_INDEX
    with mock_aws():
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        dynamodb = session.client("dynamodb")
        create_jobs_table(dynamodb, "jobs")
        now = jobs_api.datetime.now(jobs_api.UTC)
        for job_id, hours_ago in (("old", 48), ("mid", 5), ("new", 1)):
            created = (now - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            dynamodb.put_item(
                TableName="jobs",
                Item={
                    "job_id": {"S": job_id},
                    "status": {"S": "SUCCEEDED"},
                    "created_at": {"S": created},
                },
            )
        where = target.Target("test stack", session, None, "in", "videos/", "w", "jobs")
        listed = jobs_api.list_jobs(where, None, None, 10)
        assert [view["job_id"] for view in listed] == ["new", "mid", "old"]
        recent = jobs_api.list_jobs(where, "SUCCEEDED", timedelta(hours=6), 10)
        assert [view["job_id"] for view in recent] == ["new", "mid"]
        assert [v["job_id"] for v in jobs_api.list_jobs(where, None, None, 1)] == ["new"]
        oldest = jobs.JobStore("jobs", dynamodb=dynamodb).list_jobs("SUCCEEDED")
        assert [record["job_id"] for record in oldest] == ["old", "mid", "new"]


def test_status_reads_the_progress_file_the_container_writes() -> None:
    import boto3
    from moto import mock_aws

    from cli import target
    from model_code.progress import S3ProgressWriter

    with mock_aws():
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        s3 = session.client("s3")
        s3.create_bucket(Bucket="work")
        where = target.Target("test stack", session, None, "in", "videos/", "work", "jobs")
        assert jobs_api.get_progress(where, "j") is None
        report = {"frame": 30, "frames_total": 120, "fps": 12.5, "eta_s": 7.2}
        S3ProgressWriter(f"s3://work/{contract.results_prefix('j')}", client=s3)(report)
        assert jobs_api.get_progress(where, "j") == report
        assert jobs_api.get_progress(where, "k") is None
        s3.put_object(Bucket="work", Key=f"{contract.results_prefix('k')}progress.json", Body=b"[")
        assert jobs_api.get_progress(where, "k") is None
