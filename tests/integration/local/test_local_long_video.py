"""Issue 15's proof on the local stack: the bundled 30 s sample, split into 4 segments that run
two at a time on the endpoint, stitched into one result within 1 point of MOTA and IDF1 of the
single-piece run of the same video, with the border ID switches counted in the summary, and
one message for the parent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import av
import jsonschema
import pytest

from bench.mot_eval import evaluate_mot, load_mot_rows
from cli import jobs_api
from cli.target import local_target
from local.moto_service import REGION
from local.stack import LocalStack, local_stack
from model_code.jobs import FolderOutput, Job, LocalVideo, run_job
from model_code.pipeline import TrackOptions, detector_for
from stacks import contract
from stacks.settings import Settings
from tests.integration.local.test_local_stack_flow import notifications_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

THRESHOLD_S, OVERLAP_S = 8, 2  # the 30 s sample becomes 4 segments of 7.5 s (+2 s overlap)
CONCURRENCY = 2
TIMEOUT_S = 300.0
SUMMARY_SCHEMA = Path(__file__).resolve().parents[3] / "docs" / "schemas" / "summary.schema.json"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    settings = Settings.from_context(
        {
            "segment_threshold_s": THRESHOLD_S,
            "segment_overlap_s": OVERLAP_S,
            "max_concurrent_invocations_per_instance": CONCURRENCY,
            "annotate": True,
        }
    )
    with local_stack(tmp_path_factory.mktemp("long-video"), settings) as running:
        yield running


def _read(stack: LocalStack, uri: str) -> bytes:
    bucket, key = uri[len("s3://") :].split("/", 1)
    return stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def _single_piece(stack: LocalStack, video: Path, folder: Path) -> Path:
    """The same video in one piece, with the options the stack gives every job."""
    options = TrackOptions.from_dict(contract.job_defaults(stack.settings).job_options)
    run_job(Job("whole", LocalVideo(video), FolderOutput()), options, detector_for(options),
            folder, folder / "whole")  # fmt: skip
    return folder / "whole" / "tracks.txt"


def test_four_segments_in_parallel_give_the_single_piece_tracks(
    stack: LocalStack, sample_video: Path, tmp_path: Path
) -> None:
    _key, job_id = stack.upload(sample_video, f"{stack.settings.input_prefix}long/walk.mp4")
    (parent,) = stack.wait_terminal([job_id], TIMEOUT_S).values()

    assert parent["status"] == "SUCCEEDED", parent.get("reason")
    assert len(parent["segments"]) == 4
    segments = [stack.job(segment_id) or {} for segment_id in parent["segments"]]
    assert all(s.get("status") == "SUCCEEDED" for s in segments)
    assert stack.emulator.peak_running >= 2  # segments ran side by side

    summary = json.loads(_read(stack, parent["outputs"]["summary"]))
    jsonschema.validate(summary, json.loads(SUMMARY_SCHEMA.read_text()))
    segment_summary = json.loads(_read(stack, segments[1]["outputs"]["summary"]))
    jsonschema.validate(segment_summary, json.loads(SUMMARY_SCHEMA.read_text()))
    assert segment_summary["segment"] == segments[1]["segment"]
    assert "annotated" not in segments[1]["outputs"]  # segment ids are local: nothing drawn
    annotated = tmp_path / "annotated.mp4"
    annotated.write_bytes(_read(stack, parent["outputs"]["annotated"]))
    with av.open(str(annotated)) as container:
        drawn = sum(1 for _ in container.decode(video=0))
    assert drawn == summary["counts"]["frames_processed"]
    assert summary["segments"]["count"] == 4
    assert summary["segments"]["border_switches"] >= 0  # counted, whatever the video
    stitched = tmp_path / "stitched.txt"
    stitched.write_bytes(_read(stack, parent["outputs"]["tracks_mot"]))
    truth = load_mot_rows(_single_piece(stack, sample_video, tmp_path))
    truth[:, 6] = 1.0  # every single-piece box is ground truth: the single piece scores 100
    metrics = evaluate_mot(truth, stitched)
    assert metrics["mota"] >= 0.99 and metrics["idf1"] >= 0.99, metrics
    assert metrics["num_switches"] == summary["segments"]["border_switches"]

    (message,) = notifications_for(stack, job_id)
    body = json.loads(message["Message"])
    assert body["status"] == "SUCCEEDED" and body["outputs"] == parent["outputs"]
    for segment in segments:  # segments are never announced
        assert notifications_for(stack, segment["job_id"], timeout_s=1.0) == []
    # The jobs interface shows the user's upload (the parent), not its segments.
    where = local_target(
        {
            "region": REGION,
            "endpoint_url": stack.gate.url if stack.gate else stack.moto.endpoint_url,
            "roles": {r: c.as_dict() for r, c in stack.authorizer.credentials.items()}
            if stack.authorizer
            else {},
            "input_bucket": stack.resources.input_bucket,
            "input_prefix": stack.settings.input_prefix,
            "work_bucket": stack.resources.work_bucket,
            "jobs_table": stack.resources.jobs_table,
        }
    )
    listed = [view["job_id"] for view in jobs_api.list_jobs(where, None, None, 50)]
    assert job_id in listed and not set(parent["segments"]) & set(listed)
    assert jobs_api.job(where, job_id)["status"] == "SUCCEEDED"
