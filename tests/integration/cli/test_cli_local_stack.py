"""The `motflow` command end to end against one running local stack (moto server, the model
server, the async-endpoint emulator, the real Lambdas).

The command finds the stack through its discovery file, exactly as a user's shell would; each
test calls `cli.main.main` with the arguments a user types and reads what it prints.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from cli import main as cli
from local import discovery
from local.stack import LocalStack, local_stack
from stacks import contract
from tests.integration.local.test_local_stack_flow import notifications_for, write_short_clip

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCHEMAS = Path(__file__).resolve().parents[3] / "docs" / "schemas"
TIMEOUT = "240"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    run_dir = tmp_path_factory.mktemp("cli-stack")
    previous = os.environ.get(discovery.DISCOVERY_ENV)
    with local_stack(run_dir) as running:
        os.environ[discovery.DISCOVERY_ENV] = str(run_dir)
        try:
            yield running
        finally:
            if previous is None:
                os.environ.pop(discovery.DISCOVERY_ENV, None)
            else:
                os.environ[discovery.DISCOVERY_ENV] = previous


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, sample_video: Path) -> Path:
    path = tmp_path_factory.mktemp("clips") / "walkers.mp4"
    write_short_clip(sample_video, path, 181, 90)
    return path


def motflow(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def json_lines(text: str) -> list[Any]:
    """The JSON documents printed one after another (pretty-printed ones included)."""
    decoder, found, index = json.JSONDecoder(), [], 0
    text = text.strip()
    while index < len(text):
        value, index = decoder.raw_decode(text, index)
        found.append(value)
        while index < len(text) and text[index].isspace():
            index += 1
    return found


def test_submit_wait_follows_the_job_to_success(
    stack: LocalStack, clip: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = motflow(
        capsys, "submit", str(clip), "-o", "stride=2", "-o", "tracker.track_buffer_s=3",
        "--tag", "first-walk", "--wait", "--json", "--interval", "0.2", "--timeout", TIMEOUT,
    )  # fmt: skip
    assert code == 0, err
    documents = json_lines(out)
    final = documents[-1]
    assert final["status"] == "SUCCEEDED", final
    job_id = final["job_id"]
    # Seen states only move forward; the progress channel makes RUNNING visible when polled
    # in time (the first report goes out when decoding starts); progress.json ends DONE.
    order = ["QUEUED", "RUNNING", "SUCCEEDED"]
    seen = [doc["status"] for doc in documents[:-1]]
    assert seen == sorted(seen, key=order.index) and seen[-1] == "SUCCEEDED"
    assert final["options"] == {"stride": 2, "tracker": {"track_buffer_s": 3}}
    assert final["tag"] == "first-walk"
    assert final["counts"]["frames_processed"] == 45  # 90 frames, every second one

    progress = json.loads(
        stack.client("s3")
        .get_object(Bucket=stack.resources.work_bucket, Key=f"results/{job_id}/progress.json")[
            "Body"
        ]
        .read()
    )
    assert progress["job_id"] == job_id and progress["state"] == "DONE"
    assert progress["percent"] == 100.0 and 0 < progress["frame"] <= progress["frames_total"]
    # --wait ends with the job's message, the notification its outcome is published as.
    assert final["notification"]["subject"] == "motflow: walkers.mp4 tracked"
    assert final["notification"]["message"]["status"] == "SUCCEEDED"
    code, out, _ = motflow(capsys, "watch", job_id)
    assert code == 0 and "notification  motflow: walkers.mp4 tracked" in out

    # The human status names the job, its state and its outputs.
    code, out, _ = motflow(capsys, "status", job_id)
    assert code == 0
    shown = dict(line.split(None, 1) for line in out.splitlines())
    assert shown["job"] == job_id and shown["status"] == "SUCCEEDED"
    assert shown["options"] == 'stride=2, tracker={"track_buffer_s":3}'
    assert shown["tag"] == "first-walk"
    assert shown["tracks_json"].endswith(f"results/{job_id}/tracks.json")

    # The notification is JSON with a subject and the status and tag attributes.
    (note,) = notifications_for(stack, job_id)
    body = json.loads(note["Message"])
    jsonschema.validate(body, json.loads((SCHEMAS / "notification.schema.json").read_text()))
    assert note["Subject"] == "motflow: walkers.mp4 tracked"
    assert note["MessageAttributes"]["tag"]["Value"] == "first-walk"
    assert body["status"] == "SUCCEEDED" and body["tag"] == "first-walk"
    assert body["counts"]["frames_processed"] == 45 and body["outputs"]["tracks_json"]

    # Results: listed, and downloaded files that follow the published schemas.
    code, out, _ = motflow(capsys, "results", job_id, "--download", str(tmp_path / "r"))
    assert code == 0
    names = sorted(path.name for path in (tmp_path / "r").iterdir())
    assert names == [
        "preview.mp4",  # on by default in a deployment (stacks/settings.py)
        "report.html",
        "summary.json",
        "tracks.json",
        "tracks.jsonl",
        "tracks.txt",
    ]
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    jsonschema.validate(summary, json.loads((SCHEMAS / "summary.schema.json").read_text()))
    index = json.loads((tmp_path / "r" / "tracks.json").read_text())
    jsonschema.validate(index, json.loads((SCHEMAS / "tracks.schema.json").read_text()))
    assert len(index["tracks"]) == summary["counts"]["tracks"]
    line_schema = json.loads((SCHEMAS / "tracks-jsonl.schema.json").read_text())
    lines = (tmp_path / "r" / "tracks.jsonl").read_text().splitlines()
    assert len(lines) == 45
    for line in lines:
        jsonschema.validate(json.loads(line), line_schema)

    # list finds it by status, by age, and within a limit.
    code, out, _ = motflow(capsys, "list", "--status", "succeeded", "--since", "1h", "--json")
    assert code == 0 and job_id in [view["job_id"] for view in json.loads(out)]
    code, out, _ = motflow(capsys, "list", "--limit", "1")
    assert code == 0 and len(out.strip().splitlines()) == 1

    # retry: the same uploaded version again, as a new job with changed options.
    code, out, err = motflow(
        capsys, "retry", job_id, "-o", "stride=3", "--wait", "--json", "--interval", "0.2",
        "--timeout", TIMEOUT,
    )  # fmt: skip
    assert code == 0, err
    retried = json_lines(out)[-1]
    assert retried["job_id"] != job_id and retried["status"] == "SUCCEEDED"
    assert retried["retry_of"] == job_id and retried["tag"] == "first-walk"
    assert retried["options"] == {"stride": 3, "tracker": {"track_buffer_s": 3}}
    assert retried["counts"]["frames_processed"] == 30


def test_a_bad_option_in_the_metadata_is_a_rejected_job_naming_it(
    stack: LocalStack, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = f"{stack.settings.input_prefix}bad-option.mp4"
    reply = stack.client("s3").put_object(
        Bucket=stack.resources.input_bucket,
        Key=key,
        Body=clip.read_bytes(),
        Metadata={"motflow-stride": "fast"},
    )
    job_id = stack.jobs.job_id_for(stack.resources.input_bucket, key, reply["VersionId"])
    code, out, err = motflow(capsys, "watch", job_id, "--interval", "0.2", "--timeout", TIMEOUT)
    assert code == 1
    assert "REJECTED" in out and "option 'stride' must be a whole number" in out
    (note,) = notifications_for(stack, job_id)
    assert note["MessageAttributes"]["status"]["Value"] == "REJECTED"
    assert "stride" in json.loads(note["Message"])["reason"]

    code, out, err = motflow(capsys, "results", job_id)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"job {job_id} is REJECTED" in err


def test_user_mistakes_are_one_line_errors_with_exit_code_2(
    stack: LocalStack, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stack.client("s3").list_object_versions(Bucket=stack.resources.input_bucket)
    cases = {
        ("submit", str(clip), "-o", "strde=2"): "unknown option 'strde'",
        ("submit", str(clip), "-o", "tracker.match_threshold=2"): "<= 1",
        ("submit", "no-such-file.mp4"): "no such file",
        ("status", "nope-0000000000000000"): "no job nope-0000000000000000",
        ("list", "--since", "yesterday"): "--since expects a duration",
        ("local", "run", "no-such-file.mp4"): "no such file",
    }
    for argv, message in cases.items():
        code, out, err = motflow(capsys, *argv)
        assert code == 2, argv
        assert message in err and err.count("\n") == 1, (argv, err)
        assert "Traceback" not in err
    after = stack.client("s3").list_object_versions(Bucket=stack.resources.input_bucket)
    assert len(after.get("Versions", [])) == len(before.get("Versions", []))


def test_a_deployed_stack_is_found_through_its_cloudformation_outputs(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--stack` reads the tracking stack's outputs (moto's CloudFormation here, holding a stack
    whose outputs name the local resources), then works exactly as against the local stack."""
    outputs = {
        contract.OUTPUT_INPUT_BUCKET: stack.resources.input_bucket,
        contract.OUTPUT_UPLOAD_PREFIX: stack.settings.input_prefix,
        contract.OUTPUT_WORK_BUCKET: stack.resources.work_bucket,
        contract.OUTPUT_JOBS_TABLE: stack.resources.jobs_table,
    }
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }
    stack.client("cloudformation").create_stack(
        StackName="CliTestTracking", TemplateBody=json.dumps(template)
    )
    code, deployed, err = motflow(capsys, "list", "--stack", "CliTestTracking", "--json")
    assert code == 0, err
    code, local, _ = motflow(capsys, "list", "--local", "--json")
    assert json.loads(deployed) == json.loads(local) != []

    code, out, err = motflow(capsys, "list", "--stack", "NoSuchTracking")
    assert code == 2 and out == ""
    assert "stack NoSuchTracking was not found in us-east-1" in err and err.count("\n") == 1

    stack.client("cloudformation").create_stack(
        StackName="NotOurs",
        TemplateBody=json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}),
    )
    code, out, err = motflow(capsys, "status", "x", "--stack", "NotOurs")
    assert code == 2 and "is not a motflow tracking stack" in err


def test_retrying_a_deleted_upload_says_it_is_missing_not_a_permissions_problem(
    stack: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The operator policy may list the upload prefix, so S3 answers 404, not 403."""
    bogus = tmp_path / "deleted.mp4"
    bogus.write_bytes(b"not a video at all" * 64)
    key, job_id = stack.upload(bogus, f"{stack.settings.input_prefix}deleted.mp4")
    stack.wait_terminal([job_id], 60.0)
    version = (stack.job(job_id) or {}).get("version_id")
    selector = {"VersionId": version} if version else {}
    stack.client("s3").delete_object(Bucket=stack.resources.input_bucket, Key=key, **selector)
    code, _out, err = motflow(capsys, "retry", job_id)
    assert code != 0
    assert "NoSuch" in err and "permissions" not in err, err
