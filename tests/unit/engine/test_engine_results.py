"""The sinks (MOT txt, JSONL, in-memory MOT rows, annotated H.264 video) and the summary file."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from model_code.preview import PreviewVideoWriter, preview_every, preview_size
from model_code.results import (
    TRAIL_POINTS,
    AnnotatedVideoWriter,
    JsonlWriter,
    MotRows,
    MotWriter,
    StreamFacts,
    TrackIndexWriter,
    draw_tracks,
    file_sinks,
    id_colour,
    label_name,
    write_summary,
)
from model_code.tracking import TrackedObjects
from tests.schemas import validate

IDS = np.array([1, 7], np.int64)
BOXES = np.array([[10.0, 20.0, 40.5, 80.25], [100.126, 5.0, 120.0, 45.0]], np.float32)
SCORES = np.array([0.91234, 0.3], np.float32)
LABELS = np.array([0, 2], np.int64)
IMAGE = np.zeros((96, 160, 3), np.uint8)


def tracks(rows: slice = slice(None)) -> TrackedObjects:
    return TrackedObjects(IDS[rows], BOXES[rows], SCORES[rows], LABELS[rows])


def test_mot_rows_have_xywh_boxes_four_decimal_scores_and_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "tracks.txt"
    with MotWriter(path) as mot:
        mot.write(4, IMAGE, tracks())
        mot.write(7, IMAGE, tracks(slice(0)))
        mot.write(10, IMAGE, tracks(slice(1, None)))
    lines = path.read_text().splitlines()
    assert lines[0] == "4,1,10.00,20.00,30.50,60.25,0.9123,-1,-1,-1"
    assert lines[1] == "4,7,100.13,5.00,19.87,40.00,0.3000,-1,-1,-1"
    assert lines[2].startswith("10,7,")
    parsed = np.loadtxt(path, delimiter=",")
    assert parsed.shape == (3, 10)
    assert parsed[:, 0].tolist() == [4, 4, 10]


def test_jsonl_has_one_line_per_frame_with_times_from_source_fps(tmp_path: Path) -> None:
    path = tmp_path / "tracks.jsonl"
    with JsonlWriter(path, fps=10.0, class_names=("person", "bicycle", "car")) as jsonl:
        jsonl.write(1, IMAGE, tracks())
        jsonl.write(4, IMAGE, tracks(slice(0)))
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["frame"] for r in records] == [1, 4]
    assert [r["t"] for r in records] == [0.0, 0.3]
    assert records[1]["objects"] == []
    first = records[0]["objects"]
    expected = {"id": 1, "box": [10.0, 20.0, 30.5, 60.25], "score": 0.9123, "label": "person"}
    assert first[0] == expected
    assert first[1]["label"] == "car" and first[1]["id"] == 7


def test_jsonl_and_track_index_carry_normalized_boxes_and_milliseconds(tmp_path: Path) -> None:
    """Migration formats: boxes in [0, 1] of the frame (clipped), times in whole ms."""
    outside = TrackedObjects(
        np.array([2]), np.array([[-8.0, 48.0, 168.0, 120.0]]), np.array([0.5]), np.array([0])
    )
    with (
        JsonlWriter(tmp_path / "t.jsonl", fps=3.0, frame_size=(160, 96)) as jsonl,
        TrackIndexWriter(tmp_path / "t.json", fps=3.0, frame_size=(160, 96)) as index,
    ):
        for frame, chosen in ((1, tracks()), (3, outside)):
            jsonl.write(frame, IMAGE, chosen)
            index.write(frame, IMAGE, chosen)
    records = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    for record in records:
        validate(record, "tracks-jsonl.schema.json")
    assert [r["t_ms"] for r in records] == [0, 667]
    assert records[0]["objects"][0]["box_norm"] == [0.0625, 0.208333, 0.190625, 0.627604]
    assert records[1]["objects"][0]["box_norm"] == [0.0, 0.5, 1.0, 0.5]
    document = validate(json.loads((tmp_path / "t.json").read_text()), "tracks.schema.json")
    second = {track["id"]: track for track in document["tracks"]}[2]
    assert (second["first_ms"], second["last_ms"]) == (667, 667)
    assert second["boxes"][0]["box_norm"] == [0.0, 0.5, 1.0, 0.5]
    assert second["boxes"][0]["t_ms"] == 667


def _walk(index: TrackIndexWriter, frames: int) -> dict[int, list[tuple[int, list[float]]]]:
    """Writes `frames` frames of three overlapping tracks (ids 5, 2, 9 starting at frames 1,
    4, 7); returns each id's (frame, xywh box) in the order written."""
    written: dict[int, list[tuple[int, list[float]]]] = {}
    for frame in range(1, frames + 1):
        ids = [i for i, start in ((5, 1), (2, 4), (9, 7)) if frame >= start]
        boxes = np.array([[frame, i, frame + 10.0, i + 20.0] for i in ids], np.float32)
        scores = np.full(len(ids), 0.5, np.float32)
        index.write(frame, IMAGE, TrackedObjects(np.array(ids), boxes, scores, np.zeros(len(ids))))
        for i in ids:
            written.setdefault(i, []).append((frame, [float(frame), float(i), 10.0, 20.0]))
    return written


def test_track_index_with_all_frames_streams_every_box_through_spilled_runs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tracks.json"
    with TrackIndexWriter(path, fps=10.0, frame_size=(160, 96), track_frames="all") as index:
        assert index._spill is not None
        index._spill.run_rows = 7  # several sorted runs to merge
        written = _walk(index, 40)
    document = validate(json.loads(path.read_text()), "tracks.schema.json")
    assert document["track_frames"] == "all"
    assert [track["id"] for track in document["tracks"]] == [2, 5, 9]
    for track in document["tracks"]:
        boxes = track["boxes"]
        assert [(b["frame"], b["box"]) for b in boxes] == written[track["id"]]
        assert len(boxes) == track["observations"] == track["last_frame"] - track["first_frame"] + 1
        assert {b["score"] for b in boxes} == {0.5}
        assert boxes[-1]["t_ms"] == 3900 and len(boxes[0]["box_norm"]) == 4
    assert [p.name for p in tmp_path.iterdir()] == ["tracks.json"]  # the spill file is gone


def test_track_index_defaults_to_sampled_boxes_without_scores(tmp_path: Path) -> None:
    path = tmp_path / "tracks.json"
    with TrackIndexWriter(path, fps=10.0, max_samples=4) as index:
        _walk(index, 40)
    document = validate(json.loads(path.read_text()), "tracks.schema.json")
    assert set(document) == {"fps", "tracks"}
    for track in document["tracks"]:
        assert 1 <= len(track["boxes"]) <= 4 < track["observations"]
        assert all("score" not in box for box in track["boxes"])


def test_track_index_with_all_frames_and_no_tracks_is_an_empty_valid_index(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tracks.json"
    with TrackIndexWriter(path, fps=10.0, track_frames="all") as index:
        index.write(1, IMAGE, tracks(slice(0)))
    document = validate(json.loads(path.read_text()), "tracks.schema.json")
    assert document == {"fps": 10.0, "track_frames": "all", "tracks": []}
    with pytest.raises(ValueError, match="track_frames"):
        TrackIndexWriter(path, fps=10.0, track_frames="every")


def test_in_memory_rows_equal_the_tracks_file(tmp_path: Path) -> None:
    rows = MotRows()
    with MotWriter(tmp_path / "tracks.txt") as mot:
        for frame, chosen in ((4, tracks()), (7, tracks(slice(0))), (10, tracks(slice(1, None)))):
            mot.write(frame, IMAGE, chosen)
            rows.write(frame, IMAGE, chosen)
    rows.close()
    assert rows.rows[0] == [4, 1, 10.0, 20.0, 30.5, 60.25, 0.9123]
    from_file = [
        [int(v[0]), int(v[1]), *map(float, v[2:7])]
        for v in (line.split(",") for line in (tmp_path / "tracks.txt").read_text().splitlines())
    ]
    assert rows.rows == from_file


@pytest.mark.parametrize(("annotate", "preview"), [(False, False), (True, False), (False, True)])
def test_file_sinks_open_the_files_the_options_ask_for(
    tmp_path: Path, annotate: bool, preview: bool
) -> None:
    out = tmp_path / "new-folder"
    facts = StreamFacts(fps=10.0, width=160, height=96, processed_fps=5.0, class_names=("person",))
    sinks = file_sinks(out, annotate, preview=preview)(facts)
    for frame in (1, 3):
        for sink in sinks:
            sink.write(frame, IMAGE.copy(), tracks(slice(1)))
    for sink in sinks:
        sink.close()
    names = (
        {"tracks.txt", "tracks.jsonl", "tracks.json"}
        | ({"annotated.mp4"} if annotate else set())
        | ({"preview.mp4"} if preview else set())
    )
    assert {p.name for p in out.iterdir()} == names
    first = json.loads((out / "tracks.jsonl").read_text().splitlines()[1])
    assert first["t"] == 0.2 and first["objects"][0]["label"] == "person"
    if annotate:
        with av.open(str(out / "annotated.mp4")) as container:
            assert container.streams.video[0].average_rate == 5


def test_label_names_fall_back_to_the_id() -> None:
    assert label_name(("person",), 0) == "person"
    assert label_name(("person",), 5) == "5"
    assert label_name(None, 3) == "3"


def test_summary_round_trips(tmp_path: Path) -> None:
    summary = {"job_id": "j1", "counts": {"tracks": 2}, "artifacts": {"annotated": None}}
    path = write_summary(tmp_path / "summary.json", summary)
    assert json.loads(path.read_text()) == summary


def test_id_colours_are_stable_and_distinct() -> None:
    assert id_colour(3) == id_colour(3)
    assert len({id_colour(i) for i in range(1, 21)}) == 20


def test_annotated_video_is_h264_with_even_size_and_every_frame(tmp_path: Path) -> None:
    path = tmp_path / "annotated.mp4"
    with AnnotatedVideoWriter(path, width=161, height=97, fps=10 / 3) as writer:
        for _ in range(12):
            image = np.full((97, 161, 3), 40, np.uint8)
            writer.write(1, image, tracks(slice(1)))
    assert writer.frames == 12
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.average_rate == Fraction(10, 3)
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
    assert len(frames) == 12
    # Odd sides are padded to even ones (never cropped): the last row and column are black.
    assert frames[0].shape == (98, 162, 3)
    assert frames[0][97, :, :].max() < 40 and frames[0][:, 161, :].max() < 40
    # The box outline is drawn in id 1's colour (BGR) on the grey background.
    edge = frames[0][50, 10].astype(int)
    assert np.abs(edge - np.array(id_colour(1))).max() < 40


def test_tracks_are_drawn_with_their_tag_and_trail() -> None:
    image = np.zeros((120, 200, 3), np.uint8)
    trail = [(100, 110), (150, 110), (190, 60)]
    box = np.array([[10.0, 40.0, 60.0, 90.0]])
    draw_tracks(image, np.array([1]), box, ["1 person 0.91"], {1: trail})
    colour = np.array(id_colour(1))
    assert np.abs(image[110, 125].astype(int) - colour).max() < 10  # on the trail
    assert np.abs(image[30, 90].astype(int) - colour).max() < 10  # inside the long tag
    plain = draw_tracks(np.zeros_like(image), np.array([1]), box)
    assert plain[30, 90].max() == 0 and plain[110, 125].max() == 0  # id only, no trail


def test_annotated_video_tags_say_class_and_score_and_trails_stay_bounded(tmp_path: Path) -> None:
    path = tmp_path / "annotated.mp4"
    names = ("person", "bicycle", "car")
    with AnnotatedVideoWriter(path, 160, 96, 10.0, class_names=names) as writer:
        for step in range(TRAIL_POINTS + 6):
            moved = TrackedObjects(IDS[:1], BOXES[:1] + [step, 0, step, 0], SCORES[:1], LABELS[:1])
            writer.write(step + 1, IMAGE.copy(), moved if step < 3 else tracks(slice(1, None)))
        assert set(writer._trails) == {7}  # track 1, unseen for TRAIL_POINTS frames, is gone
        assert len(writer._trails[7]) == TRAIL_POINTS
    with av.open(str(path)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="bgr24")
    # "1 person 0.91" is a tag far wider than the id alone: its right part is in id 1's colour.
    assert np.abs(first[8, 90].astype(int) - np.array(id_colour(1))).max() < 60


def test_annotated_writer_rejects_bad_rate(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fps must be positive"):
        AnnotatedVideoWriter(tmp_path / "x.mp4", 64, 64, 0.0)


def test_preview_size_caps_the_longer_side_and_keeps_the_aspect() -> None:
    assert preview_size(1920, 1080) == (640, 360)
    assert preview_size(1080, 1920) == (360, 640)
    assert preview_size(320, 180) == (320, 180)  # already small: kept
    assert preview_size(4000, 3, max_side=640) == (640, 1)
    assert [preview_every(fps) for fps in (5.0, 10.0, 25.0, 30000 / 1001, 60.0)] == [1, 1, 3, 3, 6]
    with pytest.raises(ValueError, match="no pixels"):
        preview_size(0, 10)


def test_preview_is_small_keeps_every_nth_frame_and_draws_boxes_where_they_are(
    tmp_path: Path,
) -> None:
    """A 1280x720 30 fps source: the preview is 640x360 at 10 fps, the box scaled by half."""
    path = tmp_path / "preview.mp4"
    red = TrackedObjects(
        np.array([1]),
        np.array([[400.0, 200.0, 800.0, 600.0]], np.float32),
        np.array([0.9], np.float32),
        np.array([0]),
    )
    with PreviewVideoWriter(path, 1280, 720, 30.0, class_names=("person",)) as preview:
        for frame in range(1, 10):
            image = np.full((720, 1280, 3), 255, np.uint8)
            preview.write(frame, image, red)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.average_rate) == (640, 360, 10)
        images = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(images) == 3  # frames 1, 4 and 7
    colour = np.array(id_colour(1))
    edge = images[0][250:300, 200].astype(int)  # the left side of the box, at x = 400 / 2
    assert np.abs(edge - colour).max(axis=1).min() < 60
    assert np.abs(images[0][250:300, 150].astype(int) - 255).max() < 30  # white outside it
