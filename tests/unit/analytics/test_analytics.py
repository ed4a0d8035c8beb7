"""Analytics on synthetic tracks with known answers: lines with hysteresis, re-found tracks,
zones entered twice, calibration with a known scale, the spec's checks, flat memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model_code.analytics.homography import HomographyError, apply_homography, fit_homography
from model_code.analytics.replay import analytics_from_rows
from model_code.analytics.sink import MAX_BUCKETS, AnalyticsSink, summary_figures
from model_code.analytics.spec import SpecError, parse_spec
from model_code.results import StreamFacts
from tests.schemas import validate

FPS = 10.0
W, H = 400, 300
BOX_H = 60.0
# A horizontal line drawn left to right at y = 150: forward is downwards across it.
LINE = {"name": "door", "points": [[50, 150], [350, 150]], "directions": ["down", "up"]}


def rows_for(track_id: int, feet: list[tuple[float, float]], first_frame: int = 1) -> np.ndarray:
    """MOT rows of a 20x60 box whose bottom centre follows `feet`, one point per frame
    (None skips the frame: the track is not reported)."""
    out = []
    for i, foot in enumerate(feet):
        if foot is None:
            continue
        x, y = foot
        out.append([first_frame + i, track_id, x - 10, y - BOX_H, 20, BOX_H, 1.0])
    return np.asarray(out, dtype=np.float64).reshape(-1, 7)


def run(rows: np.ndarray, spec: dict[str, Any], frames: int | None = None) -> dict[str, Any]:
    last = int(rows[:, 0].max()) if frames is None else frames
    document = analytics_from_rows(
        rows, parse_spec(spec), fps=FPS, width=W, height=H, frames=range(1, last + 1)
    )
    return validate(document, "analytics.schema.json")


def jitter_path(rng: np.random.Generator) -> list[tuple[float, float]]:
    """Down from y=100 to y=200, lingering 30 frames on the line with 4 px of jitter."""
    before = [(200.0, y) for y in np.linspace(100, 148, 10)]
    on_line = [(200.0, 150 + rng.uniform(-4, 4)) for _ in range(30)]
    after = [(200.0, y) for y in np.linspace(152, 200, 10)]
    return before + on_line + after


def test_a_box_jittering_on_the_line_counts_once() -> None:
    rows = rows_for(1, jitter_path(np.random.default_rng(1)))
    line = run(rows, {"lines": [LINE]})["lines"]["door"]
    assert (line["total"], line["forward"], line["backward"]) == (1, 1, 0)
    assert line["directions"] == {"down": 1, "up": 0}
    assert [c["direction"] for c in line["crossings"]] == ["down"]
    # Without the hysteresis the same jitter counts many times: the test can tell.
    naive = run(rows, {"lines": [LINE], "hysteresis": 0})["lines"]["door"]
    assert naive["total"] > 3


def test_a_track_refound_after_occlusion_is_not_counted_twice() -> None:
    # Lost for 15 frames while crossing (coasting boxes wobble across the line and back),
    # then re-found under its id on the far side.
    feet: list[Any] = [(100.0 + 5 * i, 120.0) for i in range(10)]
    feet += [None] * 15
    feet += [(200.0 + 5 * i, 185.0) for i in range(10)]
    wobble = rows_for(1, [(150.0, 147.0), (152.0, 153.0), (154.0, 146.0)], first_frame=11)
    rows = np.concatenate([rows_for(1, feet), wobble])
    line = run(rows, {"lines": [LINE]})["lines"]["door"]
    assert (line["total"], line["forward"]) == (1, 1)


def test_going_round_the_end_of_a_line_is_no_crossing() -> None:
    feet = [(20.0, y) for y in np.linspace(100, 200, 20)]  # left of the segment's start
    assert run(rows_for(1, feet), {"lines": [LINE]})["lines"]["door"]["total"] == 0


def test_a_zone_entered_twice() -> None:
    zone = {"name": "desk", "polygon": [[100, 100], [300, 100], [300, 250], [100, 250]]}
    outside, inside = (50.0, 180.0), (200.0, 180.0)
    # 1 s out, 2 s in, 1 s out, 3 s in, 1 s out (10 fps).
    feet = [outside] * 10 + [inside] * 20 + [outside] * 10 + [inside] * 30 + [outside] * 10
    result = run(rows_for(7, feet), {"zones": [zone]})["zones"]["desk"]
    assert (result["entries"], result["exits"], result["tracks"]) == (2, 2, 1)
    (dwell,) = result["dwell"]
    assert dwell["track"] == 7 and dwell["entries"] == 2
    assert dwell["inside_s"] == pytest.approx(5.0)
    assert dwell["first_in_t"] == pytest.approx(1.0)
    assert dwell["last_out_t"] == pytest.approx(7.0)
    assert dwell["span_s"] == pytest.approx(6.0)
    assert result["mean_dwell_s"] == pytest.approx(5.0)
    assert result["peak_occupancy"] == 1


def test_occupancy_counts_tracks_inside_and_a_track_ending_inside_is_closed() -> None:
    zone = {"name": "hall", "polygon": [[0, 0], [400, 0], [400, 300], [0, 300]]}
    rows = np.concatenate(
        [rows_for(1, [(200.0, 150.0)] * 30), rows_for(2, [(100.0, 150.0)] * 10, first_frame=11)]
    )
    result = run(rows, {"zones": [zone]}, frames=40)["zones"]["hall"]
    assert result["peak_occupancy"] == 2 and result["entries"] == 2 and result["exits"] == 0
    assert result["occupancy"]["bucket_s"] == 1.0
    assert result["occupancy"]["peak"] == [1, 2, 1, 0]
    assert result["dwell"][0]["inside_s"] == pytest.approx(2.9)


def test_speed_with_a_known_scale_is_smoothed_not_differenced() -> None:
    # 100 px/s to the right for 10 s with 3 px of jitter; 100 px = 1 m on the ground.
    rng = np.random.default_rng(3)
    feet = [(50.0 + 10 * i + rng.normal(0, 3), 200.0 + rng.normal(0, 3)) for i in range(101)]
    spec = {
        "calibration": {
            "image": [[0, 0], [400, 0], [400, 300], [0, 300]],
            "world": [[0, 0], [4, 0], [4, 3], [0, 3]],
        }
    }
    document = run(rows_for(1, feet), spec)
    (track,) = document["tracks"]
    assert track["duration_s"] == pytest.approx(10.0)
    assert track["speed_m_s"] == pytest.approx(1.0, rel=0.05)
    assert track["path_m"] == pytest.approx(10.0, rel=0.05)
    assert track["speed_px_s"] == pytest.approx(100.0, rel=0.05)
    assert track["max_speed_m_s"] < 1.3
    # Frame-to-frame differences of the same points overstate the path.
    xy = np.asarray(feet)
    assert np.sum(np.linalg.norm(np.diff(xy, axis=0), axis=1)) / 100 > 10.5
    assert document["calibration"]["rms_error_m"] < 1e-6
    assert summary_figures(document)["mean_speed_m_s"] == pytest.approx(1.0, rel=0.05)


def test_a_standing_jittering_track_has_little_speed() -> None:
    rng = np.random.default_rng(4)
    feet = [(200.0 + rng.normal(0, 2), 200.0 + rng.normal(0, 2)) for _ in range(100)]
    (track,) = run(rows_for(1, feet), {})["tracks"]
    assert track["speed_px_s"] < 3.0  # frame differences would say about 25 px/s


def test_the_homography_recovers_a_perspective_mapping() -> None:
    truth = np.array([[0.02, 0.001, -3.0], [0.0005, 0.03, -1.0], [0.0001, 0.002, 1.0]])
    image = np.array([[10, 20], [700, 40], [650, 500], [30, 480], [300, 260], [500, 100]], float)
    world = apply_homography(truth, image)
    fitted = fit_homography(image, world)
    probe = np.array([[123.0, 321.0], [600.0, 50.0]])
    assert np.allclose(apply_homography(fitted, probe), apply_homography(truth, probe), atol=1e-6)
    with pytest.raises(HomographyError):
        fit_homography([[0, 0], [1, 1], [2, 2], [3, 3]], [[0, 0], [1, 0], [1, 1], [0, 1]])


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ([], "analytics must be a JSON object"),
        ({"line": []}, "unknown field(s) line"),
        ({"lines": [{"name": "a"}]}, "analytics.lines[0] is missing 'points'"),
        ({"lines": [{"name": "a", "points": [[0, 0]]}]}, "analytics.lines[0].points"),
        (
            {"lines": [{"name": "a", "points": [[0, 0], [0, "x"]]}]},
            "analytics.lines[0].points[1][1]",
        ),
        ({"lines": [{"name": "a", "points": [[5, 5], [5, 5]]}]}, "the two points are the same"),
        ({"lines": [LINE, LINE]}, "analytics.lines[1].name 'door' is used twice"),
        ({"zones": [{"name": "z", "polygon": [[0, 0], [1, 1], [2, 2]]}]}, "encloses no area"),
        ({"zones": [{"name": "", "polygon": [[0, 0], [9, 0], [0, 9]]}]}, "analytics.zones[0].name"),
        ({"classes": []}, "analytics.classes"),
        ({"calibration": {"image": [[0, 0]] * 4}}, "analytics.calibration is missing 'world'"),
        (
            {"calibration": {"image": [[0, 0], [9, 0], [9, 9], [0, 9]], "world": [[0, 0]] * 5}},
            "image and world must list the same points",
        ),
        (
            {
                "calibration": {
                    "image": [[0, 0], [1, 1], [2, 2], [3, 3]],
                    "world": [[0, 0], [1, 0], [1, 1], [0, 1]],
                }
            },
            "analytics.calibration",
        ),
        ({"hysteresis": 2}, "analytics.hysteresis"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_field(spec: Any, field: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec)
    assert field in str(caught.value)


def test_memory_is_flat_in_video_length() -> None:
    zone = {"name": "all", "polygon": [[0, 0], [400, 0], [400, 300], [0, 300]]}
    sink = AnalyticsSink(
        parse_spec({"zones": [zone]}), StreamFacts(FPS, W, H, FPS, ["person"]), None
    )
    frame = type("F", (), {})()
    frame.ids, frame.scores, frame.labels = np.array([1]), np.ones(1), np.zeros(1, np.int64)
    frame.boxes = np.array([[190.0, 100.0, 210.0, 160.0]])
    image = np.zeros((1, 1, 3), np.uint8)
    for number in range(1, 3 * 3600 * 10, 60):  # three hours at 10 fps, every 60th frame
        sink.write(number, image, frame)
    occupancy = sink.occupancy[0]
    assert len(occupancy.peaks) <= MAX_BUCKETS and occupancy.bucket_s >= 64
    sink.close()
    assert sink.document is not None
    assert sink.document["heatmap"]["counts"][12][16] > 0


def test_classes_not_asked_for_are_ignored() -> None:
    rows = rows_for(1, [(200.0, y) for y in np.linspace(100, 200, 20)])
    document = run(rows, {"lines": [LINE], "classes": ["car"]})
    assert document["lines"]["door"]["total"] == 0 and document["tracks"] == []


def test_the_spec_round_trips_and_the_schema_file_parses(repo_root: Path) -> None:
    spec = parse_spec({"lines": [LINE], "classes": ["person"], "hysteresis": 0.2})
    assert parse_spec(spec.to_dict()) == spec
    json.loads((repo_root / "docs" / "schemas" / "analytics-spec.schema.json").read_text())


def _segment(folder: Path, frames: range, local_id: int) -> Path:
    """A segment's results: one person walking right 1 px per frame (foot x = 25 + frame)."""
    folder.mkdir()
    lines = []
    for frame in frames:
        objects = [
            {
                "id": local_id,
                "box": [10.0 + frame, 20.0, 30.0, 60.0],
                "score": 0.9,
                "label": "person",
            }
        ]
        lines.append(json.dumps({"frame": frame, "t": (frame - 1) / 10, "objects": objects}))
    (folder / "tracks.jsonl").write_text("\n".join(lines) + "\n")
    summary = {
        "video": {"fps": 10.0, "width": 128, "height": 96},
        "options": {"stride": 1},
        "counts": {"frames_decoded": frames[-1]},
        "timings": {"total_s": 1.0},
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_a_crossing_in_a_segment_overlap_counts_once_after_the_stitch(tmp_path: Path) -> None:
    from model_code.results import file_sinks
    from model_code.segment_results import join_segments

    # Both segments see the crossing at x = 50 (frame 25, inside the 21..30 overlap).
    first = _segment(tmp_path / "a", range(1, 31), 4)
    second = _segment(tmp_path / "b", range(21, 51), 1)
    spec = parse_spec({"lines": [{"name": "gate", "points": [[50, 0], [50, 96]]}]})
    join_segments([first, second], file_sinks(tmp_path / "out", False, spec))
    document = validate(
        json.loads((tmp_path / "out" / "analytics.json").read_text()), "analytics.schema.json"
    )
    gate = document["lines"]["gate"]
    assert gate["total"] == 1 and gate["backward"] == 1  # downward line: rightwards is backward
    # Passed at frame 25 (t 2.4 s), confirmed 6 px (0.1 x the box height) further at frame 31.
    assert [(c["t"], c["frame"]) for c in gate["crossings"]] == [(2.4, 31)]
    assert [t["id"] for t in document["tracks"]] == [1]
