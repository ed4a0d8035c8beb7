"""TrackOptions validation, and track_video feeding sinks with the real default detector."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from model_code.detectors import Detections, Detector
from model_code.jobs import FolderOutput, Job, LocalVideo, run_job
from model_code.pipeline import (
    FALLBACK_BATCH_SIZE,
    OptionsError,
    TrackOptions,
    detector_for,
    inside_picture,
    track_video,
)
from model_code.results import MotRows, file_sinks
from model_code.tracking import TrackedObjects
from model_code.video import VideoError


@pytest.fixture(scope="module")
def yolo() -> Detector:
    return detector_for(TrackOptions())


def test_default_options_round_trip() -> None:
    options = TrackOptions()
    assert TrackOptions.from_dict({}) == options
    assert TrackOptions.from_dict(options.to_dict()) == options
    assert options.to_dict() == {
        "detector": "nanodet-g",
        "stride": 1,
        "classes": ["person"],
        "annotate": False,
        "preview": False,
        "track_frames": "sampled",
        "score_threshold": 0.1,
        "batch_size": None,
        "prefetch": 2,
        "tracker": {},
    }


class _Batched:
    default_batch_size = 3


def test_batch_size_comes_from_the_detector_class_unless_chosen() -> None:
    chosen = TrackOptions.from_dict({"batch_size": 4})
    assert chosen.for_detector(_Batched()).batch_size == 4  # type: ignore[arg-type]
    base = TrackOptions.from_dict({"batch_size": 4})
    switched = TrackOptions.from_dict({"detector": "yolox-onnx"}, base=base)
    assert switched.batch_size is None  # a new detector brings its own default
    assert switched.for_detector(_Batched()).batch_size == 3  # type: ignore[arg-type]
    plain = TrackOptions().for_detector(object())  # type: ignore[arg-type]
    assert plain.batch_size == FALLBACK_BATCH_SIZE


class _OnDevice(_Batched):
    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size


def test_a_detectors_own_batch_size_wins_over_its_class_default() -> None:
    options = TrackOptions()
    assert options.for_detector(_OnDevice(32)).batch_size == 32  # type: ignore[arg-type]
    assert options.for_detector(_OnDevice(100)).batch_size == 64  # capped at MAX_BATCH_SIZE


def test_options_override_a_base_and_merge_tracker_settings() -> None:
    base = TrackOptions.from_dict({"stride": 2, "tracker": {"track_buffer_s": 2.0}})
    options = TrackOptions.from_dict(
        {"classes": "person, car", "tracker": {"high_threshold": 0.5}}, base=base
    )
    assert options.stride == 2
    assert options.classes == ("person", "car")
    assert options.tracker == {"track_buffer_s": 2.0, "high_threshold": 0.5}


def test_unknown_options_are_named() -> None:
    with pytest.raises(OptionsError, match="unknown option\\(s\\): colour, fps;"):
        TrackOptions.from_dict({"colour": "red", "fps": 3, "stride": 2})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"stride": 0}, "'stride' must be >= 1"),
        ({"stride": "2"}, "'stride' must be a whole number"),
        ({"stride": True}, "'stride' must be a whole number"),
        ({"batch_size": 0}, "'batch_size' must be between 1 and 64"),
        ({"prefetch": -1}, "'prefetch' must be between 0 and 8"),
        ({"score_threshold": 1.5}, "'score_threshold' must be within 0..1"),
        ({"annotate": "yes"}, "'annotate' must be true or false"),
        ({"track_frames": "every"}, "'track_frames' must be sampled or all"),
        ({"preview": 1}, "'preview' must be true or false"),
        ({"classes": []}, "'classes' must name at least one class"),
        ({"classes": [1]}, "'classes' must be a list of class names"),
        ({"detector": ""}, "'detector' must be a detector name"),
        ({"tracker": {"bogus": 1}}, "bogus"),
        ({"tracker": {"high_threshold": 2}}, "high_threshold"),
        ({"tracker": []}, "'tracker' must be an object"),
    ],
)
def test_bad_options_say_what_is_wrong(options: dict, message: str) -> None:
    with pytest.raises(OptionsError, match=message):
        TrackOptions.from_dict(options)


def test_options_must_be_an_object() -> None:
    with pytest.raises(OptionsError, match="must be a JSON object"):
        TrackOptions.from_dict(["stride", 2])  # type: ignore[arg-type]


def _mot_rows(path: Path) -> np.ndarray:
    text = path.read_text().strip()
    return np.loadtxt(path, delimiter=",", ndmin=2) if text else np.zeros((0, 10))


@pytest.mark.slow
def test_sample_clip_strided_counts_match_the_tracks_file(
    sample_video: Path, tmp_path: Path, yolo: Detector
) -> None:
    options = TrackOptions.from_dict({"stride": 10, "batch_size": 4, "annotate": True})
    job = Job("job-1", LocalVideo(sample_video), FolderOutput())
    summary = run_job(job, options, yolo, tmp_path, tmp_path)

    rows = _mot_rows(tmp_path / "tracks.txt")
    assert len(rows) > 0, "the sample clip has people in it; expected some tracks"
    assert summary["counts"] == {
        "frames_processed": 30,
        "frames_decoded": 300,
        "tracks": len(set(rows[:, 1].astype(int))),
        "detections": len(rows),
    }
    assert set(rows[:, 0].astype(int)) <= set(range(1, 301, 10))
    assert rows[:, 1].min() == 1
    assert (rows[:, 7:] == -1).all()

    lines = [json.loads(line) for line in (tmp_path / "tracks.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in lines] == list(range(1, 301, 10))
    assert sum(len(r["objects"]) for r in lines) == len(rows)
    assert {o["label"] for r in lines for o in r["objects"]} == {"person"}

    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    assert summary["job_id"] == "job-1" and "status" not in summary
    assert summary["video"] == {
        "codec": "h264",
        "fps": 10.0,
        "frames": 300,
        "width": 768,
        "height": 432,
        "duration_s": 30.0,
        "frames_skipped": 0,
    }
    assert summary["options"] == options.to_dict()
    assert summary["runtime"]["batch_size"] == 4
    assert summary["versions"]["detector"] == "nanodet-g"
    assert {"device", "backend", "precision", "input_size"} <= set(summary["runtime"])
    assert set(summary["timings"]) == {
        "download_s",
        "decode_s",
        "decode_wait_s",
        "detect_s",
        "track_s",
        "write_s",
        "total_s",
    }
    assert summary["artifacts"] == {
        "tracks_mot": str(tmp_path / "tracks.txt"),
        "tracks_jsonl": str(tmp_path / "tracks.jsonl"),
        "tracks_json": str(tmp_path / "tracks.json"),
        "annotated": str(tmp_path / "annotated.mp4"),
        "summary": str(tmp_path / "summary.json"),
        "report": str(tmp_path / "report.html"),
    }
    with av.open(summary["artifacts"]["annotated"]) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert float(stream.average_rate) == pytest.approx(1.0)
        assert sum(1 for _ in container.decode(stream)) == 30


@pytest.mark.slow
def test_every_sink_gets_the_same_tracks_and_prefetch_changes_nothing(
    sample_video: Path, tmp_path: Path, yolo: Detector
) -> None:
    """The tracks file and the in-memory rows agree, with and without the decode thread."""
    results = {}
    for prefetch in (0, 3):
        options = TrackOptions.from_dict({"stride": 10, "batch_size": 2, "prefetch": prefetch})
        rows, out = MotRows(), tmp_path / f"p{prefetch}"
        files = file_sinks(out, annotate=False)
        run = track_video(sample_video, lambda s: [*files(s), rows], options, yolo)  # noqa: B023
        assert run.frames_processed == 30 and run.options.prefetch == prefetch
        assert run.detections == len(rows.rows) > 0
        assert np.array(rows.rows) == pytest.approx(_mot_rows(out / "tracks.txt")[:, :7])
        results[prefetch] = rows.rows
    assert results[0] == results[3]


@pytest.mark.slow
def test_truncated_video_is_tracked_as_far_as_it_decodes(
    make_clip, tmp_path: Path, yolo: Detector
) -> None:
    data = make_clip(frames=40, faststart=True, noise=True).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    run = track_video(cut, file_sinks(tmp_path / "out", False), TrackOptions(stride=2), yolo)
    assert 0 < run.frames_processed < 20
    assert 0 < run.video["frames"] < 40  # frames are counted as decoded, not as declared
    assert any("probably truncated" in w for w in run.warnings)


def test_unusable_video_raises_video_error(tmp_path: Path, yolo: Detector) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    with pytest.raises(VideoError, match="not a video"):
        track_video(bad, file_sinks(tmp_path / "out", False), detector=yolo)


class _EdgeDetector:
    """A person walking off the left edge: boxes partly, then wholly, outside the picture."""

    name = "edge"
    class_names = ("person",)
    batch_size = 4

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        found = []
        for image in frames:
            height, width = image.shape[:2]
            x = 20.0 - 8.0 * self.calls
            self.calls += 1
            box = [x, height - 30.0, x + 16.0, height + 7.0]  # 7 px below the picture
            found.append(Detections(np.array([box]), np.array([0.95]), np.array([0])))
        return found


def test_reported_boxes_stay_inside_the_picture(make_clip) -> None:
    """Issue 21: boxes up to 6.7 px outside the picture were reported (coasted and raw)."""
    clip = make_clip(frames=12)
    rows = MotRows()
    run = track_video(clip, lambda s: [rows], TrackOptions(batch_size=4), _EdgeDetector())
    assert run.detections == len(rows.rows) > 0
    width, height = run.video["width"], run.video["height"]
    for _frame, _id, x, y, w, h, *_ in rows.rows:
        assert min(x, y) >= 0 and w > 0 and h > 0
        assert x + w <= width + 1e-6 and y + h <= height + 1e-6


def test_a_box_wholly_outside_is_not_reported() -> None:
    tracked = TrackedObjects(
        np.array([1, 2]),
        np.array([[-30.0, 5.0, -2.0, 40.0], [-3.0, -1.0, 50.0, 70.0]]),
        np.array([0.9, 0.8]),
        np.array([0, 0]),
    )
    kept = inside_picture(tracked, 64, 48)
    assert kept.ids.tolist() == [2]
    assert kept.boxes.tolist() == [[0.0, 0.0, 50.0, 48.0]]


class _WideBoxesDetector:
    """Every frame: a car (wider than tall) on the left, a person-labelled box of the same shape
    on the right."""

    name = "wide"
    class_names = ("person", "bicycle", "car")
    batch_size = 4

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        boxes = np.array([[10.0, 20.0, 60.0, 45.0], [80.0, 20.0, 130.0, 45.0]])
        return [Detections(boxes, np.array([0.95, 0.95]), np.array([2, 0])) for _ in frames]


def test_the_upright_bound_drops_squat_people_but_keeps_cars(make_clip) -> None:
    clip = make_clip(frames=6)
    rows = MotRows()
    track_video(clip, lambda s: [rows], TrackOptions(batch_size=4), _WideBoxesDetector())
    assert rows.rows, "the car should be tracked"
    assert {x < 70 for _frame, _id, x, *_ in rows.rows} == {True}
