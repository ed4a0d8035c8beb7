"""What the job interface reads from the engine: the published option schema, the progress
reports of the frame loop, and tracks.json / tracks.jsonl / summary.json against their schemas."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import jsonschema
import numpy as np
import pytest

from lambdas import job_options
from model_code import option_schema
from model_code.detectors import Detector, build_detector
from model_code.jobs import FolderOutput, Job, LocalVideo, run_job
from model_code.pipeline import OptionsError, TrackOptions, track_video
from model_code.progress import ThrottledProgress
from model_code.results import AnnotatedVideoWriter, TrackIndexWriter
from model_code.tracking import TrackedObjects, TrackerConfig, preset

SCHEMAS = Path(__file__).resolve().parents[3] / "docs" / "schemas"


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text())


@pytest.fixture(scope="module")
def yolo() -> Detector:
    return build_detector("yolov3-tiny")


def test_the_published_option_schema_is_the_generated_one() -> None:
    assert option_schema.SCHEMA_PATH.read_text() == option_schema.schema_text(), (
        "lambdas/job_options.schema.json is stale: run python -m model_code.option_schema"
    )


@pytest.mark.parametrize(
    "options",
    [
        {"stride": 2, "classes": ["person", "car"], "annotate": True},
        {"detector": "yolox-onnx", "batch_size": None, "prefetch": 0},
        {"tracker": {"track_buffer_s": 2, "max_aspect_ratio": None, "fuse_score": False}},
        {"stride": 0},
        {"stride": 10**30},
        {"batch_size": 65},
        {"prefetch": 9},
        {"score_threshold": -0.1},
        {"classes": []},
        {"annotate": "yes"},
        {"tracker": {"match_threshold": 1.2}},
        {"tracker": {"track_buffer_s": -1}},
        {"tracker": {"noise_scale_gain": 0}},
        {"tracker": {"min_box_area": -1}},
        {"tracker": {"unknown": 1}},
        {"colour": "red"},
    ],
)
def test_schema_and_track_options_accept_the_same_options(options: dict[str, Any]) -> None:
    try:
        TrackOptions.from_dict(options)
        engine = True
    except (OptionsError, ValueError):
        engine = False
    try:
        job_options.validate(options)
        published = True
    except job_options.OptionError:
        published = False
    assert engine == published
    assert TrackOptions().to_dict() == job_options.validate(TrackOptions().to_dict())


@pytest.mark.parametrize(("low", "high"), option_schema.NOT_ABOVE)
def test_each_published_cross_field_rule_is_one_the_engine_enforces(low: str, high: str) -> None:
    with pytest.raises(ValueError, match=low):
        TrackerConfig().with_overrides({low: 0.9, high: 0.5})
    TrackerConfig().with_overrides({low: 0.5, high: 0.9})


def test_the_published_presets_and_classes_are_the_engines() -> None:
    tracker = job_options.schema()["properties"]["tracker"]
    for name, values in tracker["x-tracker-presets"].items():
        assert preset(name).to_dict() == values
    classes = job_options.schema()["properties"]["classes"]["x-detector-classes"]
    assert classes["yolov3-tiny"] == list(build_detector("yolov3-tiny").class_names)


def test_progress_is_throttled_and_reports_rate_and_eta() -> None:
    now = [100.0]
    published: list[dict[str, Any]] = []
    progress = ThrottledProgress(published.append, job_id="j", interval_s=5, clock=lambda: now[0])
    for at, frame in ((100.0, 8), (101.0, 16), (104.9, 40), (105.0, 50), (107.0, 70), (110, 100)):
        now[0] = at
        progress(frame, 200)
    assert [report["frame"] for report in published] == [8, 50, 100]
    last = published[-1]
    assert last["state"] == "RUNNING" and last["job_id"] == "j"
    assert last["fps"] == 10.0 and last["eta_s"] == 10.0 and last["percent"] == 50.0
    now[0] = 120.0
    progress(100, 0)  # a file that declares no frame count: no total, no ETA
    assert published[-1]["frames_total"] is None and published[-1]["eta_s"] is None


def test_the_last_progress_report_says_done_whatever_the_throttle() -> None:
    now = [0.0]
    published: list[dict[str, Any]] = []
    progress = ThrottledProgress(published.append, job_id="j", interval_s=5, clock=lambda: now[0])
    progress.finish()  # nothing sent yet: no file to finalise
    assert published == []
    for at, frame in ((0.0, 10), (1.0, 170), (2.0, 176)):
        now[0] = at
        progress(frame, 180)
    assert published[-1]["state"] == "RUNNING" and published[-1]["frame"] == 10
    progress.finish()
    assert published[-1]["state"] == "DONE" and published[-1]["percent"] == 100.0
    assert published[-1]["frame"] == 176 and published[-1]["eta_s"] == 0.0


def test_a_failing_progress_channel_never_fails_the_job() -> None:
    calls = []

    def broken(report: dict[str, Any]) -> None:
        calls.append(report)
        raise ConnectionError("S3 is down")

    progress = ThrottledProgress(broken, job_id="j", interval_s=0)
    for frame in range(1, 10):
        progress(frame, 10)
    assert len(calls) == 3 and progress.reports == 0


def test_the_frame_loop_reports_every_batch_in_order(sample_video: Path, yolo: Detector) -> None:
    seen: list[tuple[int, int]] = []
    options = TrackOptions.from_dict({"stride": 30, "batch_size": 3})
    run = track_video(
        sample_video, lambda stream: [], options, yolo, progress=lambda *a: seen.append(a)
    )
    frames = [frame for frame, _ in seen]
    assert frames[0] == 0  # the job shows RUNNING before the first batch is done
    assert frames == sorted(frames) and len(frames) == 1 + -(-run.frames_processed // 3)
    assert frames[-1] == 1 + 30 * (run.frames_processed - 1)
    assert {total for _, total in seen} == {run.video["frames"]}


def test_track_index_keeps_a_bounded_even_sample_of_boxes(tmp_path: Path) -> None:
    path = tmp_path / "tracks.json"
    with TrackIndexWriter(
        path, fps=25.0, class_names=("person", "bicycle"), max_samples=8
    ) as index:
        for frame in range(1, 101):
            labels = [1] if frame == 50 else [0]
            box = np.array([[frame, 10.0, frame + 20.0, 60.0]], np.float32)
            ids = np.array([3], np.int64)
            index.write(
                frame, None, TrackedObjects(ids, box, np.array([0.5], np.float32), np.array(labels))
            )  # type: ignore[arg-type]
        index.write(
            101,
            None,
            TrackedObjects(
                np.array([9]),
                np.array([[0, 0, 4, 4]], np.float32),
                np.array([0.9], np.float32),
                np.array([1]),
            ),
        )  # type: ignore[arg-type]
    document = json.loads(path.read_text())
    jsonschema.validate(document, schema("tracks.schema.json"))
    first, second = document["tracks"]
    assert (first["id"], first["label"], first["observations"]) == (3, "person", 100)
    assert (first["first_frame"], first["last_frame"]) == (1, 100)
    assert (first["first_t"], first["last_t"], first["duration_s"]) == (0.0, 3.96, 3.96)
    assert first["mean_score"] == 0.5
    sampled = [sample["frame"] for sample in first["boxes"]]
    assert sampled[0] == 1 and 4 <= len(sampled) <= 8
    gaps = {b - a for a, b in zip(sampled, sampled[1:], strict=False)}
    assert len(gaps) == 1  # evenly spaced
    assert first["boxes"][0]["box"] == [1.0, 10.0, 20.0, 50.0]
    assert (second["id"], second["label"], second["duration_s"]) == (9, "bicycle", 0.0)


def test_written_files_follow_the_published_schemas(
    sample_video: Path, tmp_path: Path, yolo: Detector
) -> None:
    options = TrackOptions.from_dict({"stride": 15, "batch_size": 4})
    summary = run_job(
        Job("job-s", LocalVideo(sample_video), FolderOutput()), options, yolo, tmp_path, tmp_path
    )
    jsonschema.validate(summary, schema("summary.schema.json"))
    job_options.validate(summary["options"])
    for line in (tmp_path / "tracks.jsonl").read_text().splitlines():
        jsonschema.validate(json.loads(line), schema("tracks-jsonl.schema.json"))
    index = json.loads((tmp_path / "tracks.json").read_text())
    jsonschema.validate(index, schema("tracks.schema.json"))
    assert len(index["tracks"]) == summary["counts"]["tracks"] > 0
    assert (
        sum(track["observations"] for track in index["tracks"]) == summary["counts"]["detections"]
    )


def _clip_with_audio(path: Path, frames: int, rate: Fraction) -> None:
    """An H.264 + AAC mp4 of `frames` frames at `rate` with a matching stretch of tone."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = out.add_stream("aac", rate=16000)
        audio.layout = "mono"
        for index in range(frames):
            image = np.full((48, 64, 3), index * 4 % 255, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = index
            for packet in video.encode(frame):
                out.mux(packet)
        seconds = frames / float(rate)
        samples = int(16000 * seconds)
        tone = (np.sin(np.arange(samples) * 2 * np.pi * 440 / 16000) * 0.3).astype(np.float32)
        for start in range(0, samples, 1024):
            chunk = av.AudioFrame.from_ndarray(
                tone[None, start : start + 1024], format="flt", layout="mono"
            )
            chunk.sample_rate, chunk.pts = 16000, start
            for packet in audio.encode(chunk):
                out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode():
                out.mux(packet)


def test_annotated_video_keeps_the_fractional_rate_and_the_audio(tmp_path: Path) -> None:
    source = tmp_path / "with-audio.mp4"
    rate = Fraction(30000, 1001)
    _clip_with_audio(source, 60, rate)
    out = tmp_path / "annotated.mp4"
    empty = TrackedObjects(
        np.zeros(0, np.int64),
        np.zeros((0, 4), np.float32),
        np.zeros(0, np.float32),
        np.zeros(0, np.int64),
    )
    with AnnotatedVideoWriter(out, 64, 48, 30000 / 1001, audio_from=source) as writer:
        for frame in range(1, 61):
            writer.write(frame, np.zeros((48, 64, 3), np.uint8), empty)
    with av.open(str(out)) as result, av.open(str(source)) as original:
        assert result.streams.video[0].average_rate == rate
        (audio,) = result.streams.audio
        assert audio.codec_context.name == "aac" and audio.sample_rate == 16000
        copied = sum(1 for packet in result.demux(audio) if packet.size)
        kept = sum(1 for packet in original.demux(original.streams.audio[0]) if packet.size)
        assert copied == kept > 0
    silent = tmp_path / "silent.mp4"
    with AnnotatedVideoWriter(silent, 64, 48, 10.0, audio_from=out.with_name("missing.mp4")) as w:
        w.write(1, np.zeros((48, 64, 3), np.uint8), empty)
    with av.open(str(silent)) as result:
        assert not result.streams.audio


def test_track_times_come_from_the_frames_presentation_times(tmp_path: Path) -> None:
    """Variable frame rate: the writer takes each frame's time from the decoder when given."""
    times = {1: 0.0, 2: 0.04, 3: 0.5, 4: 0.54}
    path = tmp_path / "tracks.json"
    with TrackIndexWriter(path, fps=25.0, time_of=times.__getitem__) as index:
        for frame in times:
            box = np.array([[0.0, 0.0, 10.0, 10.0]], np.float32)
            objects = TrackedObjects(np.array([1]), box, np.array([0.5], np.float32), np.array([0]))
            index.write(frame, None, objects)  # type: ignore[arg-type]
    (track,) = json.loads(path.read_text())["tracks"]
    assert (track["first_t"], track["last_t"], track["duration_s"]) == (0.0, 0.54, 0.54)
    assert [sample["t"] for sample in track["boxes"]] == [0.0, 0.04, 0.5, 0.54]
