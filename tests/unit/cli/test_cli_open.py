"""`motflow open JOB`: the report and the video it links to, fetched into one folder and opened."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cli import main as cli
from cli import open_command, target
from lambdas import job_core, jobs
from local.resources import create_jobs_table

JOB = "walk-0123456789abcdef"
PREFIX = f"results/{JOB}/"
PAGE = b"<html><a href='annotated.mp4'>video</a></html>"
VIDEO = b"\x00\x00\x00\x18ftypmp42"


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A moto work bucket and jobs table behind a `Target`; records are put with `put`."""
    with mock_aws():
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        dynamodb, s3 = session.client("dynamodb"), session.client("s3")
        create_jobs_table(dynamodb, "jobs")
        s3.create_bucket(Bucket="work")
        s3.put_object(Bucket="work", Key=PREFIX + "report.html", Body=PAGE)
        s3.put_object(Bucket="work", Key=PREFIX + "annotated.mp4", Body=VIDEO)
        where = target.Target("test stack", session, None, "in", "videos/", "work", "jobs")
        monkeypatch.setattr(target, "resolve", lambda args: where)
        opened: list[str] = []
        monkeypatch.setattr(open_command.webbrowser, "open", lambda url: opened.append(url) or True)
        monkeypatch.setattr(open_command, "has_display", lambda: True)

        def put(**fields: Any) -> None:
            record = {"job_id": JOB, "created_at": "2026-12-01T10:00:00.000Z", **fields}
            dynamodb.put_item(TableName="jobs", Item=jobs.to_dynamo(record))

        yield {"put": put, "opened": opened, "s3": s3}


def _outputs(*names: str) -> dict[str, str]:
    files = {job_core.REPORT_OUTPUT: "report.html", job_core.ANNOTATED_OUTPUT: "annotated.mp4"}
    return {name: f"s3://work/{PREFIX}{files[name]}" for name in names}


def test_the_report_and_its_video_land_side_by_side_and_open(
    stack: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack["put"](
        status="SUCCEEDED",
        outputs=_outputs(job_core.REPORT_OUTPUT, job_core.ANNOTATED_OUTPUT),
    )
    out = tmp_path / "here"
    assert cli.main(["open", JOB, "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert printed.out.strip() == str(out / "report.html") and printed.err == ""
    assert (out / "report.html").read_bytes() == PAGE
    assert (out / "annotated.mp4").read_bytes() == VIDEO  # the name the page links to
    assert stack["opened"] == [(out / "report.html").resolve().as_uri()]

    assert cli.main(["open", JOB, "--out", str(out), "--json", "--no-browser"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document == {
        "job_id": JOB,
        "report": str(out / "report.html"),
        "files": [str(out / "report.html"), str(out / "annotated.mp4")],
    }
    assert len(stack["opened"]) == 1  # --no-browser opened nothing


def test_by_default_it_goes_to_a_per_job_folder_and_without_a_display_it_says_so(
    stack: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack["put"](status="SUCCEEDED", outputs=_outputs(job_core.REPORT_OUTPUT))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(open_command, "has_display", lambda: False)
    assert cli.main(["open", JOB]) == 0
    printed = capsys.readouterr()
    folder = Path(open_command.REPORTS_FOLDER) / JOB
    assert printed.out.strip() == str(folder / "report.html")
    assert sorted(p.name for p in (tmp_path / folder).iterdir()) == ["report.html"]
    assert "open" in printed.err and "yourself" in printed.err and stack["opened"] == []


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        (None, f"no job {JOB} on test stack"),
        (
            {"status": "FAILED", "reason": "The video could not be decoded."},
            f"job {JOB} is FAILED: The video could not be decoded; it has no report;",
        ),
        ({"status": "REJECTED"}, f"`motflow retry {JOB}`"),
        (
            {"status": "QUEUED"},
            f"job {JOB} is QUEUED; it is not finished: follow it with `motflow watch {JOB}`,"
            f" then `motflow open {JOB}`",
        ),
        (
            {"status": "SUCCEEDED", "outputs": {"tracks_mot": "s3://work/x/tracks.txt"}},
            f"job {JOB} has no report.html",
        ),
    ],
)
def test_no_report_is_one_line_saying_why_and_what_to_do(
    stack: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fields: dict[str, Any] | None,
    named: str,
) -> None:
    if fields is not None:
        stack["put"](**fields)
    assert cli.main(["open", JOB, "--out", str(tmp_path / "o")]) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err.count("\n") == 1
    assert named in printed.err, printed.err
    assert stack["opened"] == [] and not (tmp_path / "o" / "report.html").exists()


def test_a_report_gone_from_the_bucket_is_named(
    stack: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack["put"](status="SUCCEEDED", outputs=_outputs(job_core.REPORT_OUTPUT))
    stack["s3"].delete_object(Bucket="work", Key=PREFIX + "report.html")
    assert cli.main(["open", JOB, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "downloading report.html failed" in err and f"motflow retry {JOB}" in err


def test_the_output_names_are_the_engines() -> None:
    from model_code import results

    assert results.OPTIONAL_ARTIFACTS[job_core.REPORT_OUTPUT] == results.REPORT_HTML
    assert results.ARTIFACTS[job_core.ANNOTATED_OUTPUT] == results.ANNOTATED_MP4
